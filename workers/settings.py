"""arq WorkerSettings, built from our Settings (the worker reads no environment itself) and the
job registry of messenger.tasks: its functions, and its schedule table as arq cron jobs.

Layer: worker entry point.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.typing import WorkerCoroutine

from messenger import mail, tasks
from messenger.db import Database
from messenger.jobs import MAX_TRIES, JobFunction
from messenger.keys import RedisKeys
from messenger.logs import REQUEST_ID
from messenger.realtime.notifier import RedisNotifier
from messenger.redisconn import AnyRedis, connect
from messenger.settings import Settings

from . import metrics


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    assert settings.database_url is not None, "the worker needs DATABASE_URL"
    db = await Database.connect(settings.database_url, min_size=1, max_size=5)
    ctx["job_context"] = tasks.JobContext(
        settings=settings,
        db=db,
        mailer=mail.from_settings(settings),
        notifier=RedisNotifier(_nodes_redis(ctx, settings), settings.redis_prefix),
    )


def _nodes_redis(ctx: dict[str, Any], settings: Settings) -> AnyRedis:
    """The Redis the nodes keep presence and fan-out in. arq's own connection (ctx["redis"]) when
    it is that one; a client of its own when the jobs are on a separate Redis (JOBS_REDIS_URL,
    e.g. beside a Redis Cluster)."""
    if settings.redis_url is None or settings.jobs_redis == settings.redis_url:
        arq_redis: AnyRedis = ctx["redis"]
        return arq_redis
    client = connect(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    ctx["nodes_redis"] = client
    return client


async def shutdown(ctx: dict[str, Any]) -> None:
    context: tasks.JobContext | None = ctx.get("job_context")
    if context is not None:
        await context.db.close()
    nodes_redis = ctx.get("nodes_redis")
    if nodes_redis is not None:
        await nodes_redis.aclose()


def job(fn: JobFunction) -> WorkerCoroutine:
    """The registry's function as arq calls it: arq's dict ctx becomes our JobContext here,
    once, the enqueueing request's id is restored for the logs, and the run is counted in the
    worker's metrics (arq sees the same name)."""
    counted = metrics.instrument(fn)

    @functools.wraps(fn)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        context: tasks.JobContext = ctx["job_context"]
        # The id of the request that enqueued the job (messenger/jobs.py), for its log records.
        request_id = kwargs.pop("request_id", None)
        if request_id is not None:
            REQUEST_ID.set(str(request_id))
        return await counted(context.attempt(ctx.get("job_id"), ctx.get("job_try", 1)), *args, **kwargs)

    return run


def cron_jobs(settings: Settings) -> list[CronJob]:
    keys = RedisKeys(settings.redis_prefix)
    return [
        # The name is the cron job's id in Redis (`arq:job:<name>:<time>`, shared by every
        # queue): the prefix keeps deployments sharing a Redis from suppressing each other's runs.
        cron(
            job(row.function),
            name=keys.job_id(f"cron:{row.name}"),
            run_at_startup=row.run_at_startup,
            **row.cron_fields(),
        )
        for row in tasks.schedule(settings)
    ]


def worker_settings(settings: Settings, *, burst: bool = False) -> dict[str, Any]:
    assert settings.jobs_redis is not None
    queue = RedisKeys(settings.redis_prefix).job_queue
    crons = cron_jobs(settings)
    on_startup: Callable[[dict[str, Any]], Awaitable[None]] = startup
    if burst:
        # A frequent cron never lets a burst run find its queue empty: queue each periodic
        # job once instead, so `--burst` means "what is queued plus one round of them".
        crons = []

        async def burst_startup(ctx: dict[str, Any]) -> None:
            await startup(ctx)
            for row in tasks.schedule(settings):
                await ctx["redis"].enqueue_job(row.name, _queue_name=queue)

        on_startup = burst_startup

    return {
        "functions": [func(job(f), name=f.__name__) for f in tasks.FUNCTIONS],
        "cron_jobs": crons,
        "redis_settings": RedisSettings.from_dsn(settings.jobs_redis),
        "queue_name": queue,
        "on_startup": on_startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_tries": MAX_TRIES,
        # A burst run (tests, schedulers) exits as soon as the queue is empty, so poll briskly.
        "poll_delay": 0.1 if burst else 0.5,
        "job_timeout": 300,
    }
