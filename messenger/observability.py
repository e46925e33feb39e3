"""Request metrics (Prometheus), the request id, and one structured log line per request.

Layer: infrastructure.

A pure ASGI middleware rather than BaseHTTPMiddleware: it adds no task or stream wrapping per
request, and it sees WebSocket scopes without interfering with them.

Every request gets an id (the client's or proxy's `X-Request-ID` when it is tame, else a new
one), sent back as `X-Request-ID` and put on every log record made while serving it, including
the records of jobs it enqueues (messenger/logs.py).
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import REQUEST_ID, new_request_id

log = logging.getLogger("messenger.access")

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "messenger_http_requests_total", "HTTP requests by route", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "messenger_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WS_CONNECTIONS = Gauge("messenger_ws_connections", "Open WebSocket connections", registry=REGISTRY)


def request_id_of(scope: Scope) -> str:
    """The connection's request id: the client's or proxy's `X-Request-ID` when tame, else new."""
    return new_request_id(Headers(scope=scope).get("x-request-id"))


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
            else:
                await self._http(scope, receive, send, request_id)
        finally:
            REQUEST_ID.reset(token)

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        start = time.perf_counter()
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            REQUESTS.labels(method, template, str(status)).inc()
            LATENCY.labels(method, template).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                ms = round(elapsed * 1000, 2)
                log.info(
                    "%s %s %d %.2fms",
                    method,
                    scope["path"],
                    status,
                    ms,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "ms": ms,
                        "client": client[0] if client else None,
                    },
                )
