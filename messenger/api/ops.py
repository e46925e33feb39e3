"""Operations endpoints: liveness, readiness, metrics, and the generated API documents.

Layer: edge.
"""

from __future__ import annotations

import asyncio

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from .. import ops_metrics, redisconn
from ..errors import NotFound
from ..http import error_response, json_response
from ..observability import REGISTRY
from ..openapi import document
from ..services import Services


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


async def healthz(request: Request) -> Response:
    return json_response(Health("ok"))


async def readyz(request: Request) -> Response:
    services: Services = request.app.state.services
    checks: dict[str, str] = {}
    ok = True
    try:
        await asyncio.wait_for(services.db.fetchval("SELECT 1"), 2)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which
        checks["database"] = f"error: {type(exc).__name__}"
        ok = False
    if services.redis is not None:
        try:
            await asyncio.wait_for(redisconn.ping(services.redis), 2)
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
            ok = False
    return json_response(Health("ok" if ok else "unavailable", checks), 200 if ok else 503)


async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    client = request.client.host if request.client else None
    if not ops_metrics.allowed(
        settings.metrics_token, settings.metrics_port, request.headers.get("authorization"), client
    ):
        # 404 rather than 401/403: the app port does not say that figures exist elsewhere.
        return error_response(NotFound())
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def openapi(request: Request) -> Response:
    return Response(document(request.app), media_type="application/json")
