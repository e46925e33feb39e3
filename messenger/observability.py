"""Request metrics (Prometheus) and one structured log line per request.

Layer: infrastructure.

A pure ASGI middleware rather than BaseHTTPMiddleware: it adds no task or stream wrapping per
request, and it sees WebSocket scopes without interfering with them.
"""

from __future__ import annotations

import logging
import time

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
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
                log.info(
                    msgspec.json.encode(
                        {
                            "method": method,
                            "path": scope["path"],
                            "route": template,
                            "status": status,
                            "ms": round(elapsed * 1000, 2),
                            "client": client[0] if client else None,
                        }
                    ).decode()
                )
