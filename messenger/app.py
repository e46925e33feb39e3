"""create_app and the lifespan that builds (and tears down) the per-process services.

Layer: edge (the top: it wires every layer together, nothing imports it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import (
    chats,
    collector,
    db,
    embedded,
    jobs,
    logs,
    mail,
    mediastore,
    messages,
    ops_metrics,
    ratelimit,
    redisconn,
    tasks,
)
from . import settings as settings_mod
from .auth import Accounts
from .db import Database, HeldConnections
from .errors import AppError, ErrorBody, ErrorResponse, MethodNotAllowed, NotFound
from .http import error_response, json_response
from .jobs import InProcessJobs
from .logs import REQUEST_ID
from .observability import ObservabilityMiddleware, request_id_of
from .realtime import session_watch
from .realtime.broker import Broker, LocalBroker, RedisBroker
from .realtime.cluster_broker import ClusterBroker
from .realtime.hub import Hub, new_node_id
from .realtime.notifier import HubNotifier
from .realtime.readmarks import ReadMarkerWriter
from .realtime.writer import MAX_INFLIGHT, GroupCommitWriter
from .routes import GATEWAY, ROUTES, WS_PATH
from .services import Services
from .settings import Settings

log = logging.getLogger("messenger")


class App(Starlette):
    """Starlette, with the WebSocket endpoint served ahead of the middleware stack.

    Every coroutine suspended between the server's task and the gateway lives, with its frame,
    as long as the socket. Through the stack an idle socket's task waited in 14 nested
    coroutines, 9 of them between the server and the gateway (the application, the error
    middleware, the request-id middleware, the exception middleware and its wrapper, the router
    twice, the route), with a Starlette WebSocket, scope copies and closures (bench/README.md,
    "One socket's objects"). None of them acts on a WebSocket: the error middleware and CORS
    pass WebSockets through, and the exception middleware only turns a WebSocketException, which
    the gateway never raises, into a close. The request id the observability middleware gives
    every connection for its log records is given here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == WS_PATH:
            scope["app"] = self
            REQUEST_ID.set(request_id_of(scope))
            await GATEWAY(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or settings_mod.load()
    if not logs.configured():
        # A worker process uvicorn spawned (--workers > 1) or an ASGI server importing us.
        logs.configure(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.services = await _start_services(settings, stack)
            stack.callback(collector.serve())
            yield

    app = App(
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
        pg = await asyncio.to_thread(embedded.start, settings.data_dir)
        stack.callback(pg.stop)
        dsn = pg.dsn
        await db.migrate(dsn)
    database = await Database.connect(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    stack.push_async_callback(database.close)
    redis = None
    if settings.redis_url is not None:
        redis = redisconn.connect(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        stack.push_async_callback(redis.aclose)
    services = Services(settings, database, redis)
    services.mailer = mail.from_settings(settings)
    services.limiter = ratelimit.from_settings(settings, redis)
    services.jobs = await jobs.open_queue(settings, tasks.FUNCTIONS, stack)
    await _start_realtime(services, dsn, stack)
    # Sessions the admin CLI ends (PostgreSQL NOTIFY) close their sockets on this node too.
    await stack.enter_async_context(session_watch.watching(database, services.hub))
    services.media = await stack.enter_async_context(mediastore.open_store(settings))
    services.accounts = Accounts(settings, database, services.signer, services.limiter, services.jobs, services.hub)
    if isinstance(services.jobs, InProcessJobs):
        # Without Redis this process runs the jobs, and their schedule, with this node's hub.
        context = tasks.JobContext(settings, database, services.mailer, HubNotifier(services.hub))
        services.jobs.start(context, tasks.schedule(settings))
    # The operator's figures, and /metrics on METRICS_PORT.
    await stack.enter_async_context(ops_metrics.exporting(services))
    return services


async def _start_realtime(services: Services, dsn: str, stack: AsyncExitStack) -> None:
    """Build and start this node's hub (with its broker and presence) and group-commit writer;
    the exit stack stops them in order: refuse new sockets and close the open ones (1012),
    commit what the writer holds, publish the last presence changes, then leave the broker."""
    settings = services.settings
    node_id = new_node_id()
    broker: Broker
    if settings.redis_url is not None and settings.redis_cluster:
        broker = ClusterBroker(settings.redis_url, settings.redis_prefix, node_id)
    elif settings.redis_url is not None:
        url = settings.redis_url

        def make_redis() -> Redis:
            client: Redis = Redis.from_url(url, socket_connect_timeout=2, socket_keepalive=True)
            return client

        broker = RedisBroker(make_redis, settings.redis_prefix, node_id)
    else:
        broker = LocalBroker(node_id)
    hub = Hub(
        services.db,
        broker,
        redis=services.redis,
        redis_prefix=settings.redis_prefix,
        presence_ttl=settings.presence_ttl,
        presence_grace=settings.presence_grace,
    )
    services.hub = hub
    # The writer's own connections, one per batch in flight, opened now and held for the
    # process's life: a batch takes one without the pool's acquire and release, and nothing
    # it runs leaves settings behind on a connection, so there is no reset query before its acks.
    db_ = await HeldConnections.hold(dsn, size=MAX_INFLIGHT)
    stack.push_async_callback(db_.close)
    jobs_ = services.jobs

    async def send_batch(
        requests: Sequence[messages.SendRequest], after_acks: list[Awaitable[None]]
    ) -> list[messages.SendResult]:
        return await messages.send_batch(db_, hub, jobs_, requests, after_acks=after_acks)

    writer = GroupCommitWriter(send_batch)
    services.writer = writer
    pool = services.db

    async def mark_read_batch(requests: Sequence[chats.ReadRequest]) -> list[chats.ReadResult]:
        return await chats.mark_read_batch(pool, hub, requests)

    read_markers = ReadMarkerWriter(mark_read_batch)
    services.read_markers = read_markers
    await hub.start()
    writer.start()

    async def stop() -> None:
        hub.close_sockets()
        await writer.close()
        await read_markers.close()
        await hub.close()

    stack.push_async_callback(stop)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound())
    if exc.status_code == 405:
        # Every method the path takes (the route that answered knows only its own).
        path = request.url.path
        allowed = sorted(
            {
                m
                for r in request.app.routes
                if isinstance(r, Route) and r.methods and r.path_regex.match(path)
                for m in r.methods
            }
        )
        response = error_response(MethodNotAllowed())
        response.headers["Allow"] = ", ".join(allowed)
        return response
    body = ErrorResponse(ErrorBody("http_error", str(exc.detail)))
    return json_response(body, exc.status_code, dict(exc.headers or {}))


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response(ErrorResponse(ErrorBody("internal_error", "Internal server error")), 500)
