"""The job registry: every background job, the `JobContext` it runs with, and the schedule.

Layer: jobs, above the domain (whose functions it calls) and below the app and the worker
(which run it). It imports no realtime module and knows no runner: the notifier its jobs use
comes in the context. The worker (`workers/`, arq with Redis) and the in-process runner
(`jobs.InProcessJobs`, without Redis) both take `FUNCTIONS` and `schedule(settings)` from here,
so a job runs the same way under either; arq's dict ctx becomes a `JobContext` once, at the
worker's edge.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Self

import asyncpg
import msgspec
from aiosmtplib import SMTPException
from arq.worker import Retry
from redis.exceptions import ConnectionError as RedisConnectionError

from . import events, media, mediastore, notifications
from .db import Database, Q, rowcount
from .jobs import JobFunction, Periodic
from .mail import Mail, Mailer
from .settings import Settings

log = logging.getLogger("messenger.jobs")


class JobContext(msgspec.Struct, frozen=True):
    """What every job gets first. One per process; `attempt` stamps it for each try."""

    settings: Settings
    db: Database
    mailer: Mailer
    # Presence and `notification` frames: this node's hub in-process, Redis in the worker.
    notifier: notifications.Notifier
    job_id: str | None = None
    job_try: int = 1

    def attempt(self, job_id: str | None, job_try: int) -> Self:
        return msgspec.structs.replace(self, job_id=job_id, job_try=job_try)


async def send_mail(ctx: JobContext, mail: Mail) -> None:
    """Deliver one rendered mail. Transient failures (SMTP refused, network) retry with backoff;
    the job id (see messenger.auth) keeps a mail from being queued twice."""
    try:
        await ctx.mailer.send(mail)
    except (OSError, TimeoutError, SMTPException) as exc:
        log.warning("mail to %s failed (try %d): %s", mail.to, ctx.job_try, exc)
        raise Retry(defer=ctx.job_try * 10) from exc


async def cleanup_expired(ctx: JobContext) -> dict[str, int]:
    """Delete refresh and email tokens that expired more than a day ago, and end sessions whose
    refresh tokens have all expired (so they leave the sessions list)."""
    db = ctx.db
    removed = {
        "delete_expired_refresh_tokens": rowcount(await db.execute(Q.delete_expired_refresh_tokens)),
        "delete_expired_email_tokens": rowcount(await db.execute(Q.delete_expired_email_tokens)),
        "end_idle_sessions": rowcount(await db.execute(Q.end_idle_sessions, float(ctx.settings.refresh_token_ttl))),
    }
    # Event retention: older sync/resume cursors get 410 cursor_expired from here on.
    removed["events_trimmed_to"] = await events.trim(db, ctx.settings.event_retention_days)
    log.info("cleanup: %s", removed)
    return removed


async def cleanup_media(ctx: JobContext) -> int:
    """The orphan sweep: media never completed, or never attached, past MEDIA_ORPHAN_TTL."""
    async with mediastore.open_store(ctx.settings) as store:
        removed = await media.delete_orphans(ctx.db, store, timedelta(seconds=ctx.settings.media_orphan_ttl))
    if removed:
        log.info("media cleanup: deleted %d orphaned media", removed)
    return removed


async def notify_messages(ctx: JobContext, message_ids: list[int], only_mentions_of: list[int] | None = None) -> int:
    """The notifications of one committed send batch (enqueued by messages.send_batch), or of
    the mentions an edit added (`only_mentions_of`, enqueued by messages.edit).
    Idempotent: a retry inserts nothing twice (one notification per user and message), so a
    lost connection to PostgreSQL or Redis retries the whole batch."""
    try:
        return await notifications.create_for_messages(ctx.db, ctx.notifier, message_ids, only_mentions_of)
    except (OSError, TimeoutError, asyncpg.PostgresConnectionError, RedisConnectionError) as exc:
        log.warning("notifications of %d message(s) failed (try %d): %s", len(message_ids), ctx.job_try, exc)
        raise Retry(defer=ctx.job_try * 5) from exc


async def send_digests(ctx: JobContext) -> dict[str, int]:
    """Claim due notification digests and send every unsent one (see messenger.notifications:
    exactly one email per digest, even across a worker killed mid-send)."""
    run = await notifications.run_digests(ctx.db, ctx.mailer, ctx.settings, ctx.notifier)
    if run.claimed or run.sent or run.failed:
        log.info("digests: %s", run)
    return msgspec.structs.asdict(run)


async def cleanup_notifications(ctx: JobContext) -> dict[str, int]:
    """Notifications past NOTIFICATION_RETENTION_DAYS and old finished digests."""
    removed = await notifications.cleanup(ctx.db, ctx.settings)
    log.info("cleanup: %s", removed)
    return removed


FUNCTIONS: list[JobFunction] = [
    send_mail,
    cleanup_expired,
    cleanup_media,
    notify_messages,
    send_digests,
    cleanup_notifications,
]


def schedule(settings: Settings) -> list[Periodic]:
    """The periodic jobs and when they run, for arq's cron and the in-process runner alike.
    A burst run of the worker (`messenger worker --burst`) runs each of them once."""
    return [
        Periodic(cleanup_expired, minute=frozenset({7, 37})),
        Periodic(cleanup_media, minute=frozenset({17})),
        # Also at start: a digest a dead worker left unsent goes out now.
        Periodic(
            send_digests,
            second=frozenset(range(0, 60, notifications.digest_interval(settings))),
            run_at_startup=True,
        ),
        Periodic(cleanup_notifications, minute=frozenset({47})),
    ]
