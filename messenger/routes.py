"""The whole route table, in one place (the contract's order)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .api import ops
from .webapp import WebClient

ROUTES: list[BaseRoute] = [
    # -- accounts and users --
    # -- chats, messages, sync --
    # -- media --
    # -- notifications --
    # -- websocket --
    # Operations
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/readyz", ops.readyz, methods=["GET"]),
    Route("/metrics", ops.metrics, methods=["GET"]),
    Route("/openapi.json", ops.openapi, methods=["GET"]),
    # -- web client --
    # Last on purpose: it claims only GET/HEAD of non-API paths (see messenger/webapp.py).
    WebClient(),
]
