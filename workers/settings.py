"""arq WorkerSettings, built from our Settings (the worker reads no environment itself)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from messenger import notifications
from messenger.media import cleanup_media
from messenger.settings import Settings

from . import jobs, metrics


def worker_settings(settings: Settings, *, burst: bool = False) -> dict[str, Any]:
    assert settings.redis_url is not None
    cron_jobs = [
        cron(metrics.instrument(jobs.cleanup_expired), minute={7, 37}, run_at_startup=False),
        cron(metrics.instrument(cleanup_media), minute={17}, run_at_startup=False),
        # -- notifications: digest scans (also at start: a digest a dead worker left unsent
        # goes out now) and hourly retention cleanup --
        cron(
            metrics.instrument(jobs.send_digests),
            second=set(range(0, 60, notifications.digest_interval(settings))),
            run_at_startup=True,
        ),
        cron(metrics.instrument(jobs.cleanup_notifications), minute={47}, run_at_startup=False),
    ]
    on_startup: Callable[[dict[str, Any]], Awaitable[None]] = jobs.startup
    if burst:
        # A frequent cron never lets a burst run find its queue empty: queue each periodic
        # job once instead, so `--burst` means "what is queued plus one round of them".
        cron_jobs = []
        queue = f"{settings.redis_prefix}jobs"

        async def burst_startup(ctx: dict[str, Any]) -> None:
            await jobs.startup(ctx)
            for fn in jobs.PERIODIC:
                await ctx["redis"].enqueue_job(fn.__name__, _queue_name=queue)

        on_startup = burst_startup

    return {
        "functions": [func(metrics.instrument(f), name=f.__name__) for f in jobs.FUNCTIONS],
        "cron_jobs": cron_jobs,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": f"{settings.redis_prefix}jobs",
        "on_startup": on_startup,
        "on_shutdown": jobs.shutdown,
        "ctx": {"settings": settings},
        "max_tries": 5,
        # A burst run (tests, schedulers) exits as soon as the queue is empty, so poll briskly.
        "poll_delay": 0.1 if burst else 0.5,
        "job_timeout": 300,
    }
