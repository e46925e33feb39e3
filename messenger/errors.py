"""One error tree for the whole app, mapped to HTTP (and WebSocket `error` frames) at the edge.

Layer: infrastructure.

Domain modules raise these; they never build responses. The `code` is the stable snake_case
identifier clients switch on; the message is for humans.
"""

from __future__ import annotations

import msgspec


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str


class ErrorResponse(msgspec.Struct, frozen=True):
    error: ErrorBody


class AppError(Exception):
    status: int = 400
    code: str = "bad_request"
    message: str = "Bad request"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        super().__init__(self.message)

    def body(self) -> ErrorResponse:
        return ErrorResponse(ErrorBody(self.code, self.message))


class BadRequest(AppError):
    status, code, message = 400, "bad_request", "Malformed request"


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "Missing, invalid or expired token"


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, message = 404, "not_found", "Not found"


class MethodNotAllowed(AppError):
    status, code, message = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, message = 409, "conflict", "Conflict"


class Gone(AppError):
    status, code, message = 410, "gone", "Gone"


class TooLarge(AppError):
    status, code, message = 413, "too_large", "Too large"


class UnsupportedMediaType(AppError):
    status, code, message = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(AppError):
    status, code, message = 422, "validation_error", "Validation failed"


class RateLimited(AppError):
    status, code, message = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class Unavailable(AppError):
    status, code, message = 503, "unavailable", "Service unavailable"
