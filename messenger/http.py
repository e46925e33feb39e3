"""The HTTP edge: endpoint declarations, JSON codec and the one place errors become responses.

Layer: edge.

An endpoint is a plain async function taking a `Call` and returning a Struct (200/201 JSON), a
`Reply` (explicit status) or None (204). `@endpoint(...)` records its body, query and response
types; the wrapper decodes and validates once with msgspec and the OpenAPI document is generated
from the same records, so the schema cannot drift from the code.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from starlette.requests import Request
from starlette.responses import Response

from . import auth
from .errors import (
    AppError,
    BadRequest,
    ErrorResponse,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from .parse import ascii_int
from .services import Services
from .tokens import Principal

B = TypeVar("B")
Qy = TypeVar("Qy")

MAX_BODY = 1024 * 1024  # JSON bodies; media bytes never pass through here

log = logging.getLogger("messenger.http")

# A backing service (the database above all) is unreachable or going away: a 503 the client can
# retry, not a 500. TimeoutError and refused/reset connections are OSErrors.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)

_encoder = msgspec.json.Encoder()
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class NoBody(msgspec.Struct):
    """Placeholder type for endpoints without a body or query."""


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(obj), status, headers=headers, media_type="application/json")


def error_response(exc: AppError) -> Response:
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return json_response(exc.body(), exc.status, headers)


def _validation_message(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Expected `str` of length <= 4096 - at `$.text`"; keep it, it is precise.
    return str(exc)


@dataclass(frozen=True)
class Reply:
    """An explicit status (and optional headers) for a response body."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None


@dataclass
class Call(Generic[B, Qy]):
    request: Request
    services: Services
    body: B
    query: Qy
    principal: Principal | None
    path: dict[str, Any] = field(default_factory=dict)

    @property
    def user_id(self) -> int:
        assert self.principal is not None, "endpoint declared auth=False but reads user_id"
        return self.principal.user_id

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else "unknown"

    def path_int(self, name: str) -> int:
        """Path ids are ASCII digits; anything else cannot name a row, so it is simply not found."""
        raw = self.request.path_params[name]
        value = ascii_int(raw) if isinstance(raw, str) else None
        if value is None:
            raise NotFound()
        return value


@dataclass(frozen=True)
class EndpointSpec:
    body: type | None
    query: type | None
    response: type | None
    status: int
    auth: bool
    summary: str
    tags: tuple[str, ...]
    errors: tuple[int, ...]
    extra_statuses: tuple[int, ...]
    # The body is raw bytes of any type (the embedded store's signed upload), not JSON.
    raw_body: bool = False


Handler = Callable[[Call[Any, Any]], Awaitable[Any]]


def _decoder(tp: type) -> msgspec.json.Decoder[Any]:
    dec = _decoders.get(tp)
    if dec is None:
        dec = _decoders[tp] = msgspec.json.Decoder(tp)
    return dec


async def authenticate(request: Request, services: Services) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing bearer token")
    return await auth.authenticate(services.db, services.signer, token.strip())


def endpoint(
    *,
    body: type | None = None,
    query: type | None = None,
    response: type | None = None,
    status: int = 200,
    auth: bool = True,
    summary: str = "",
    tags: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    extra_statuses: tuple[int, ...] = (),
    body_optional: bool = False,
    raw_body: bool = False,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """`body_optional`: an empty body reads as `{}` (for bodies whose fields are all optional).
    `raw_body`: the body is raw bytes of any type, not JSON (no 415 for other types)."""
    spec = EndpointSpec(body, query, response, status, auth, summary, tags, errors, extra_statuses, raw_body)

    def wrap(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        body_decoder = _decoder(body) if body is not None else None
        int_fields = _int_fields(query) if query is not None else frozenset()

        @functools.wraps(fn)
        async def handler(request: Request) -> Response:
            services: Services = request.app.state.services
            try:
                if not raw_body and _has_body(request) and not _is_json(request.headers.get("content-type")):
                    raise UnsupportedMediaType("A request body must be application/json")
                principal = await authenticate(request, services) if auth else None
                decoded_body: Any = None
                if body_decoder is not None:
                    raw = await _read_body(request)
                    if body_optional and not raw.strip():
                        raw = b"{}"
                    decoded_body = _decode_body(body_decoder, raw)
                decoded_query: Any = None
                if query is not None:
                    decoded_query = _decode_query(request, query, int_fields)
                result = await fn(Call(request, services, decoded_body, decoded_query, principal))
            except AppError as exc:
                return error_response(exc)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("%s %s: backing service unavailable: %r", request.method, request.url.path, exc)
                return error_response(Unavailable("A backing service is unavailable; retry shortly"))
            if result is None:
                return Response(status_code=204)
            if isinstance(result, Response):
                return result
            if isinstance(result, Reply):
                if result.body is None:
                    return Response(status_code=result.status, headers=result.headers)
                return json_response(result.body, result.status, result.headers)
            return json_response(result, status)

        _SPECS[handler] = spec
        return handler

    return wrap


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


def _is_json(content_type: str | None) -> bool:
    """application/json or application/<anything>+json, parameters (charset=...) allowed."""
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json") and len(media_type) > 17
    )


async def _read_body(request: Request) -> bytes:
    declared = ascii_int(request.headers.get("content-length") or "")
    if declared is not None and declared > MAX_BODY:
        raise TooLarge("Request body too large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge("Request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_body(decoder: msgspec.json.Decoder[Any], raw: bytes) -> Any:
    if not raw.strip():
        raise BadRequest("A JSON body is required")
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise Unprocessable(_validation_message(exc)) from None
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc}") from None
    except UnicodeDecodeError:
        # msgspec raises this (not DecodeError) for invalid UTF-8 inside a JSON string
        raise BadRequest("Malformed JSON: the body is not valid UTF-8") from None
    except RecursionError:
        # msgspec's depth limit: a small body of nested brackets must not be a 500
        raise BadRequest("Malformed JSON: nested too deeply") from None


def _int_fields(tp: type) -> frozenset[str]:
    """The query fields that hold integers: they are parsed by `ascii_int`, not by msgspec
    (which would take `1e2`, `5.0` or `-1` as numbers)."""
    info = msgspec.inspect.type_info(tp)
    assert isinstance(info, msgspec.inspect.StructType)
    found = set()
    for f in info.fields:
        options = f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,)
        if any(isinstance(t, msgspec.inspect.IntType) for t in options):
            found.add(f.encode_name)
    return frozenset(found)


def _decode_query(request: Request, tp: type, int_fields: frozenset[str]) -> Any:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in int_fields:
            number = ascii_int(value)
            if number is None:
                raise Unprocessable(f"`{key}` must be a number of ASCII digits", code="validation_error")
            params[key] = number
        else:
            params[key] = value
    try:
        return msgspec.convert(params, tp, strict=False)
    except msgspec.ValidationError as exc:
        raise Unprocessable(_validation_message(exc)) from None


_SPECS: dict[Callable[..., Any], EndpointSpec] = {}


def spec_of(handler: Callable[..., Any]) -> EndpointSpec | None:
    return _SPECS.get(handler)


__all__ = [
    "Call",
    "EndpointSpec",
    "ErrorResponse",
    "NoBody",
    "Reply",
    "encode",
    "endpoint",
    "error_response",
    "json_response",
    "spec_of",
]
