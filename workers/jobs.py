"""Job functions. Each takes arq's `ctx` first so the same function runs under arq (with
Redis) and in-process (without), where `messenger.jobs` calls it with an equivalent ctx."""

from __future__ import annotations

import logging
from typing import Any

from messenger.db import Database, Q
from messenger.settings import Settings

log = logging.getLogger("messenger.jobs")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    assert settings.database_url is not None, "the worker needs DATABASE_URL"
    ctx["db"] = await Database.connect(settings.database_url, min_size=1, max_size=5)


async def shutdown(ctx: dict[str, Any]) -> None:
    db: Database | None = ctx.get("db")
    if db is not None:
        await db.close()


async def cleanup_expired(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete refresh and email tokens that expired more than a day ago."""
    db: Database = ctx["db"]
    removed = {}
    for name in ("delete_expired_refresh_tokens", "delete_expired_email_tokens"):
        status = await db.execute(Q[name])
        removed[name] = int(status.split()[-1])
    log.info("cleanup: %s", removed)
    return removed


FUNCTIONS: list[Any] = [cleanup_expired]
