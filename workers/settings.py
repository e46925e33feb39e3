"""arq WorkerSettings, built from our Settings (the worker reads no environment itself)."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from messenger.media import cleanup_media
from messenger.settings import Settings

from . import jobs


def worker_settings(settings: Settings) -> dict[str, Any]:
    assert settings.redis_url is not None
    return {
        "functions": jobs.FUNCTIONS,
        "cron_jobs": [
            cron(jobs.cleanup_expired, minute={7, 37}, run_at_startup=False),
            cron(cleanup_media, minute={17}, run_at_startup=False),
        ],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": f"{settings.redis_prefix}jobs",
        "on_startup": jobs.startup,
        "on_shutdown": jobs.shutdown,
        "ctx": {"settings": settings},
        "max_tries": 5,
        "job_timeout": 300,
    }
