"""Job functions. Each takes arq's `ctx` first so the same function runs under arq (with
Redis) and in-process (without), where `messenger.jobs` calls it with an equivalent ctx:
`settings`, `db` (a messenger Database), `mailer` (a messenger Mailer), `job_try`."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from aiosmtplib import SMTPException
from arq.worker import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

from messenger import events, notifications
from messenger import mail as mail_mod
from messenger.db import Database, Q, rowcount
from messenger.media import cleanup_media
from messenger.realtime.notifier import RedisNotifier
from messenger.settings import Settings

log = logging.getLogger("messenger.jobs")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    assert settings.database_url is not None, "the worker needs DATABASE_URL"
    ctx["db"] = await Database.connect(settings.database_url, min_size=1, max_size=5)
    ctx["mailer"] = mail_mod.from_settings(settings)
    # arq's own Redis connection (ctx["redis"]) carries presence lookups and frames.
    ctx["notifier"] = RedisNotifier(ctx["redis"], settings.redis_prefix)


async def shutdown(ctx: dict[str, Any]) -> None:
    db: Database | None = ctx.get("db")
    if db is not None:
        await db.close()


async def send_mail(ctx: dict[str, Any], mail: mail_mod.Mail) -> None:
    """Deliver one rendered mail. Transient failures (SMTP refused, network) retry with backoff;
    the job id (see messenger.auth) keeps a mail from being queued twice."""
    mailer: mail_mod.Mailer = ctx["mailer"]
    try:
        await mailer.send(mail)
    except (OSError, TimeoutError, SMTPException) as exc:
        job_try: int = ctx.get("job_try", 1)
        log.warning("mail to %s failed (try %d): %s", mail.to, job_try, exc)
        raise Retry(defer=job_try * 10) from exc


async def cleanup_expired(ctx: dict[str, Any]) -> dict[str, int]:
    """Delete refresh and email tokens that expired more than a day ago, and end sessions whose
    refresh tokens have all expired (so they leave the sessions list)."""
    db: Database = ctx["db"]
    settings: Settings = ctx["settings"]
    removed = {
        "delete_expired_refresh_tokens": rowcount(await db.execute(Q.delete_expired_refresh_tokens)),
        "delete_expired_email_tokens": rowcount(await db.execute(Q.delete_expired_email_tokens)),
        "end_idle_sessions": rowcount(await db.execute(Q.end_idle_sessions, float(settings.refresh_token_ttl))),
    }
    # Event retention: older sync/resume cursors get 410 cursor_expired from here on.
    removed["events_trimmed_to"] = await events.trim(db, settings.event_retention_days)
    log.info("cleanup: %s", removed)
    return removed


async def notify_messages(
    ctx: dict[str, Any], message_ids: list[int], only_mentions_of: list[int] | None = None
) -> int:
    """The notifications of one committed send batch (enqueued by messages.send_batch), or of
    the mentions an edit added (`only_mentions_of`, enqueued by messages.edit).
    Idempotent: a retry inserts nothing twice (one notification per user and message), so a
    lost connection to PostgreSQL or Redis retries the whole batch."""
    try:
        return await notifications.create_for_messages(ctx["db"], ctx["notifier"], message_ids, only_mentions_of)
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError, RedisConnectionError) as exc:
        job_try: int = ctx.get("job_try", 1)
        log.warning("notifications of %d message(s) failed (try %d): %s", len(message_ids), job_try, exc)
        raise Retry(defer=job_try * 5) from exc


async def send_digests(ctx: dict[str, Any]) -> dict[str, int]:
    """Claim due notification digests and send every unsent one (see messenger.notifications:
    exactly one email per digest, even across a worker killed mid-send)."""
    run = await notifications.run_digests(ctx["db"], ctx["mailer"], ctx["settings"], ctx["notifier"])
    if run.claimed or run.sent or run.failed:
        log.info("digests: %s", run)
    return msgspec.structs.asdict(run)


async def cleanup_notifications(ctx: dict[str, Any]) -> dict[str, int]:
    """Notifications past NOTIFICATION_RETENTION_DAYS and old finished digests."""
    removed = await notifications.cleanup(ctx["db"], ctx["settings"])
    log.info("cleanup: %s", removed)
    return removed


FUNCTIONS: list[Any] = [send_mail, cleanup_expired, cleanup_media, notify_messages, send_digests, cleanup_notifications]
# Run on a schedule (cron in the worker); a burst run (`messenger worker --burst`) runs each once.
PERIODIC: list[Any] = [cleanup_expired, cleanup_media, send_digests, cleanup_notifications]
