"""create_app and the lifespan that builds (and tears down) the per-process services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from . import settings as settings_mod
from .db import Database
from .errors import AppError, MethodNotAllowed, NotFound
from .http import error_response, json_response
from .observability import ObservabilityMiddleware
from .services import Services
from .settings import Settings

log = logging.getLogger("messenger")


def create_app(settings: Settings | None = None) -> Starlette:
    from .routes import ROUTES

    settings = settings or settings_mod.load()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await _start_services(settings, stack)
            yield

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_exception, AppError: _app_error, Exception: _server_error},
    )
    if settings.allowed_origins:
        # Browsers on the listed origins may call the API. Auth is a bearer token, never a
        # cookie, so credentials are not allowed and a foreign page cannot ride a session.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allowed_origins),
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(ObservabilityMiddleware)
    app.state.settings = settings
    return app


async def _start_services(settings: Settings, stack: AsyncExitStack) -> Services:
    dsn = settings.database_url
    if dsn is None:
        # Single-process embedded default: `messenger serve` normally starts the database in
        # the parent process (so --workers share one); this path covers create_app() used
        # directly, e.g. by an ASGI server pointed at messenger.app:create_app.
        import asyncio

        from . import db, embedded

        pg = await asyncio.to_thread(embedded.start, settings.data_dir)
        stack.callback(pg.stop)
        dsn = pg.dsn
        await db.migrate(dsn)
    database = await Database.connect(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    stack.push_async_callback(database.close)
    redis = None
    if settings.redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        stack.push_async_callback(redis.aclose)
    services = Services(settings, database, redis)
    # -- accounts: jobs, mailer, limiter --
    from . import jobs, mail, ratelimit

    services.mailer = mail.from_settings(settings)
    services.limiter = ratelimit.from_settings(settings, redis)
    services.jobs = await jobs.start(services, stack)
    # -- realtime: hub and broker --
    from .hub import start_realtime

    await start_realtime(services, stack)
    # -- media: media store --
    from .media import open_store

    services.media = await stack.enter_async_context(open_store(settings))
    if settings.redis_url is None:
        from .media import sweeping

        await stack.enter_async_context(sweeping(services))
    # -- notifications: without Redis this process runs the digest scan and gives its jobs the hub --
    if settings.redis_url is None:
        from .notifications import in_process

        await stack.enter_async_context(in_process(services))
    return services


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound())
    if exc.status_code == 405:
        return error_response(MethodNotAllowed())
    return json_response(
        {"error": {"code": "http_error", "message": str(exc.detail)}}, exc.status_code, dict(exc.headers or {})
    )


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"error": {"code": "internal_error", "message": "Internal server error"}}, 500)
