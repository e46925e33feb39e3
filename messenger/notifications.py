"""Notifications: creation after sends, the list and read marks, settings, and email digests.

Layer: domain.

Creation never happens in the send path: `send_batch` enqueues ONE `notify_messages` job per
committed batch (`after_send`) and the job (tasks.py: in the worker with Redis, in-process
without) runs `create_for_messages`. Who is notified:
- a mentioned member gets a `mention` (even in a muted chat; an edit that adds a mention too);
- the peer in a direct chat, and members who turned on `notify_all` for a group or channel,
  get a `message`, unless the chat is muted or they have a live socket (they see the message);
- never the sender, never for a message they already read. One notification per user and
  message (a mention wins), so a retried job creates nothing twice.
Users with a live socket get a `notification` frame at once and no email; offline users'
notifications wait for an email if their settings allow it.

Digests. The `send_digests` job (on the schedule of tasks.py, in the worker or in-process)
claims, per offline user whose oldest waiting notification is at least
NOTIFICATION_EMAIL_WINDOW old, every waiting notification that is still unread into one
`digest_emails` row (one transaction), then sends it. So an offline user gets at most one email
per window, and none if they read everything first. The send holds a PostgreSQL advisory lock
on its own connection (released by the server if the worker dies) and marks the row sent only
after the SMTP server accepted the mail; a worker killed mid-send leaves the row unsent, and
the next scan (at every worker start, then every few seconds) sends it again with the same
Message-ID.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from typing import Final, Protocol

import asyncpg
import msgspec
from aiosmtplib import SMTPException

from .db import Database, Q, row, rowcount, rows
from .errors import NotFound, Unprocessable
from .mail import Mail, Mailer
from .model import Notification
from .parse import ascii_int
from .ports import Jobs
from .settings import Settings

log = logging.getLogger("messenger.notifications")

PAGE_DEFAULT: Final = 50
PAGE_MAX: Final = 100
MAX_READ_IDS: Final = 1000
# Fan-out is processed in chunks: one presence lookup, one INSERT and one publish per chunk.
CHUNK: Final = 1000
# Per scan: users claimed and digests sent; the next scan continues.
DIGEST_BATCH: Final = 500
SEND_CONCURRENCY: Final = 4
MAX_ATTEMPTS: Final = 8
SNIPPET: Final = 140
# Advisory-lock key spaces (first key of the two-key form).
LOCK_CLAIM: Final = 0x6E6F7401
LOCK_SEND: Final = 0x6E6F7402


class NotificationPage(msgspec.Struct, frozen=True):
    notifications: list[Notification]
    next_cursor: str | None


class UserSettings(msgspec.Struct, frozen=True):
    """Email notification switches (in-app notifications are governed per chat) and privacy."""

    email_mentions: bool
    email_direct_messages: bool
    # Messages of groups/channels where `notify_all` is on.
    email_group_messages: bool
    # Others see your `last_seen_at` (GET /v1/presence); off also hides theirs from you.
    show_last_seen: bool


class ChatSettings(msgspec.Struct, frozen=True):
    muted: bool
    notify_all: bool


class Created(msgspec.Struct, frozen=True):
    user_id: int
    notification: Notification


# -- delivery to live sockets ------------------------------------------------------------------


class Notifier(Protocol):
    """Presence and `notification` frames, as seen from wherever the job runs."""

    async def online(self, user_ids: Sequence[int]) -> set[int]: ...

    async def deliver(self, created: Sequence[Created]) -> None: ...


# -- creation (the notify_messages job) ------------------------------------------------------


async def after_send(jobs: Jobs, message_ids: Sequence[int]) -> None:
    """Called by send_batch after commit: one job for the whole batch. The messages are
    committed whatever happens here, so a failing enqueue is logged, not raised."""
    if not message_ids:
        return
    try:
        await jobs.enqueue("notify_messages", list(message_ids))
    except Exception:
        log.exception("enqueueing notifications for %d message(s) failed", len(message_ids))


async def after_edit(jobs: Jobs, message_id: int, mentioned: Sequence[int]) -> None:
    """Called by messages.edit after commit with the members the edit newly mentions."""
    if not mentioned:
        return
    try:
        await jobs.enqueue("notify_messages", [message_id], list(mentioned))
    except Exception:
        log.exception("enqueueing mention notifications of message %d failed", message_id)


async def create_for_messages(
    db: Database, notifier: Notifier, message_ids: Sequence[int], only_mentions_of: Sequence[int] | None = None
) -> int:
    """Create the notifications for these messages (for an edit: only the mentions of
    `only_mentions_of`); returns how many were new."""
    only = list(only_mentions_of) if only_mentions_of is not None else None
    candidates = await db.fetch(Q.notification_candidates, list(message_ids), only)
    total = 0
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        online = await notifier.online(sorted({r["user_id"] for r in chunk}))
        # A user with a live socket sees plain messages arrive; only mentions notify them.
        keep = [r for r in chunk if r["kind"] == "mention" or r["user_id"] not in online]
        if not keep:
            continue
        inserted = await db.fetch(
            Q.insert_notifications,
            [r["user_id"] for r in keep],
            [r["kind"] for r in keep],
            [r["chat_id"] for r in keep],
            [r["message_id"] for r in keep],
            [r["email_ok"] and r["user_id"] not in online for r in keep],
        )
        total += len(inserted)
        # Asked again now that the rows are committed: a socket that connected since the first
        # check took its REST snapshot (clients take one at every `ready`) either after this
        # commit, so it has them, or before it, so it is online now and gets the frame.
        online_now = await notifier.online(sorted({r["user_id"] for r in inserted})) if inserted else set()
        live = [
            Created(
                r["user_id"],
                Notification(r["id"], r["kind"], r["chat_id"], r["message_id"], r["created_at"], r["read"]),
            )
            for r in inserted
            if r["user_id"] in online_now
        ]
        if live:
            try:
                await notifier.deliver(live)
            except Exception as exc:  # frames are a courtesy: the notifications are stored
                log.warning("delivering %d notification frame(s) failed: %s", len(live), exc)
    return total


# -- the API -----------------------------------------------------------------------------------


def _cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 2**63 - 1
    before = ascii_int(cursor)
    if before is None:
        raise Unprocessable("Invalid cursor", code="invalid_cursor")
    return before


async def page(db: Database, user_id: int, *, cursor: str | None, limit: int, unread: bool) -> NotificationPage:
    """Newest first; `next_cursor` continues below the last one returned."""
    before = _cursor(cursor)
    query = Q.unread_notifications_page if unread else Q.notifications_page
    records = await db.fetch(query, user_id, before, limit + 1)
    found = rows(Notification, records[:limit])
    next_cursor = str(found[-1].id) if len(records) > limit else None
    return NotificationPage(found, next_cursor)


async def mark_read(db: Database, user_id: int, *, ids: Sequence[int] | None, everything: bool) -> None:
    if everything:
        await db.execute(Q.mark_all_notifications_read, user_id)
    elif ids:
        await db.execute(Q.mark_notifications_read, user_id, list(ids))


async def unread_count(db: Database, user_id: int) -> int:
    count: int = await db.fetchval(Q.unread_notification_count, user_id)
    return count


async def user_settings(db: Database, user_id: int) -> UserSettings:
    record = await db.fetchrow(Q.get_user_settings, user_id)
    if record is None:
        raise NotFound("No such user", code="user_not_found")
    return row(UserSettings, record)


async def update_user_settings(
    db: Database,
    user_id: int,
    *,
    email_mentions: bool | None,
    email_direct_messages: bool | None,
    email_group_messages: bool | None,
    show_last_seen: bool | None = None,
) -> UserSettings:
    record = await db.fetchrow(
        Q.update_user_settings, user_id, email_mentions, email_direct_messages, email_group_messages, show_last_seen
    )
    assert record is not None
    return row(UserSettings, record)


async def chat_settings(db: Database, user_id: int, chat_id: int) -> ChatSettings:
    record = await db.fetchrow(Q.get_chat_settings, chat_id, user_id)
    if record is None:
        raise NotFound("Chat not found")
    return row(ChatSettings, record)


async def update_chat_settings(
    db: Database, user_id: int, chat_id: int, *, muted: bool | None, notify_all: bool | None
) -> ChatSettings:
    try:
        record = await db.fetchrow(Q.update_chat_settings, chat_id, user_id, muted, notify_all)
    except asyncpg.ForeignKeyViolationError:
        record = None  # the membership ended concurrently
    if record is None:
        raise NotFound("Chat not found")
    return row(ChatSettings, record)


# -- digests (the send_digests job) -------------------------------------------------------------


def _lock_key(ident: int) -> int:
    """The second key of a two-key advisory lock is an int4."""
    return ident % 2147483647


class DigestRun(msgspec.Struct):
    claimed: int = 0
    sent: int = 0
    read: int = 0
    failed: int = 0
    busy: int = 0


async def claim_digest(db: Database, user_id: int, window: int) -> int | None:
    """Claim the user's waiting notifications into a new digest if the oldest is due."""
    async with db.transaction() as conn:
        await conn.execute(Q.digest_lock_user, LOCK_CLAIM, _lock_key(user_id))
        pending = await conn.fetch(Q.digest_pending, user_id, float(window))
        dead = [r["id"] for r in pending if not r["live"]]
        if dead:
            # Read in the chat, left, deleted or emails turned off: no email for these.
            await conn.execute(Q.digest_drop, dead)
        live = [r for r in pending if r["live"]]
        if not live or not live[0]["due"]:
            return None
        digest_id: int | None = await conn.fetchval(Q.digest_insert, user_id, live[0]["created_at"])
        if digest_id is None:
            return None
        await conn.execute(Q.digest_claim, digest_id, [r["id"] for r in live])
        return digest_id


async def send_digest(db: Database, mailer: Mailer, settings: Settings, digest_id: int) -> str:
    """Send one claimed digest; returns 'sent', 'read', 'failed', 'retry', 'busy' or 'done'."""
    key = _lock_key(digest_id)
    async with db.connection() as conn:
        if not await conn.fetchval(Q.digest_try_lock, LOCK_SEND, key):
            return "busy"  # another worker is sending it right now
        try:
            digest = await conn.fetchrow(Q.digest_get, digest_id)
            if digest is None or digest["outcome"] is not None:
                return "done"
            items = [r for r in await conn.fetch(Q.digest_items, digest_id) if r["unread"]]
            if not items:
                await conn.execute(Q.digest_finish, digest_id, "read")
                return "read"
            mail = render_digest(settings, digest_id, digest["email"], digest["display_name"], items)
            try:
                await mailer.send(mail)
            except (OSError, TimeoutError, SMTPException) as exc:
                log.warning("digest %d to %s failed (attempt %d): %s", digest_id, mail.to, digest["attempts"] + 1, exc)
                await conn.execute(Q.digest_failed, digest_id, MAX_ATTEMPTS)
                return "failed" if digest["attempts"] + 1 >= MAX_ATTEMPTS else "retry"
            await conn.execute(Q.digest_finish, digest_id, "sent")
            return "sent"
        finally:
            await conn.execute(Q.digest_unlock, LOCK_SEND, key)


async def run_digests(db: Database, mailer: Mailer, settings: Settings, notifier: Notifier) -> DigestRun:
    """One scan: claim what is due, then send every unsent digest (new or left behind).
    A user who is online now is not mailed: their notifications keep waiting (in the app) and
    are mailed if they go offline with them still unread."""
    result = DigestRun()
    window = settings.notification_email_window
    due = [r["user_id"] for r in await db.fetch(Q.digest_due_users, float(window), DIGEST_BATCH)]
    online = await notifier.online(due) if due else set()
    for user_id in due:
        if user_id not in online and await claim_digest(db, user_id, window) is not None:
            result.claimed += 1
    unsent = [r["id"] for r in await db.fetch(Q.digests_unsent, DIGEST_BATCH)]
    gate = asyncio.Semaphore(SEND_CONCURRENCY)

    async def one(digest_id: int) -> str:
        async with gate:
            return await send_digest(db, mailer, settings, digest_id)

    for outcome in await asyncio.gather(*(one(d) for d in unsent)):
        if outcome == "sent":
            result.sent += 1
        elif outcome == "read":
            result.read += 1
        elif outcome in ("failed", "retry"):
            result.failed += 1
        elif outcome == "busy":
            result.busy += 1
    return result


def digest_interval(settings: Settings) -> int:
    """Seconds between digest scans: a quarter of the window, between 1 s and 30 s."""
    return max(1, min(30, settings.notification_email_window // 4))


def _snippet(text: str | None) -> str:
    if not text:
        return "(attachment)"
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


class _ChatSummary:
    __slots__ = ("chat_id", "last", "mentions", "messages", "title")

    def __init__(self, chat_id: int, title: str) -> None:
        self.chat_id = chat_id
        self.title = title
        self.mentions = 0
        self.messages = 0
        self.last = ""


def render_digest(settings: Settings, digest_id: int, to: str, name: str, items: Sequence[asyncpg.Record]) -> Mail:
    """One mail summarising unread notifications, one line and link per chat."""
    chats: dict[int, _ChatSummary] = {}
    for item in items:
        summary = chats.get(item["chat_id"])
        if summary is None:
            if item["chat_kind"] == "direct":
                title = f"your direct chat with {item['sender_name']}"
            else:
                title = item["title"] or "a group"
            summary = chats[item["chat_id"]] = _ChatSummary(item["chat_id"], title)
        if item["kind"] == "mention":
            summary.mentions += 1
        else:
            summary.messages += 1
        summary.last = f"{item['sender_name']}: {_snippet(item['text'])}"
    count = len(items)
    subject = "1 unread notification" if count == 1 else f"{count} unread notifications"
    lines: list[tuple[str, str, str]] = []
    for s in chats.values():
        parts = []
        if s.mentions:
            parts.append("1 mention" if s.mentions == 1 else f"{s.mentions} mentions")
        if s.messages:
            parts.append("1 new message" if s.messages == 1 else f"{s.messages} new messages")
        lines.append((f"{' and '.join(parts)} in {s.title}", s.last, f"{settings.public_url}/chats/{s.chat_id}"))
    text_parts = [f"Hello {name},", f"You have {subject} on messenger:"]
    text_parts += [f"- {head}\n  {last}\n  {link}" for head, last, link in lines]
    text_parts.append(f"Email notification settings: {settings.public_url}/settings")
    text = "\n\n".join(text_parts) + "\n"
    items_html = "".join(
        f'<li><p><a href="{html.escape(link, quote=True)}">{html.escape(head)}</a></p><p>{html.escape(last)}</p></li>'
        for head, last, link in lines
    )
    body = (
        f"<!doctype html><html><body><p>Hello {html.escape(name)},</p>"
        f"<p>You have {html.escape(subject)} on messenger:</p><ul>{items_html}</ul>"
        f'<p><a href="{html.escape(settings.public_url, quote=True)}/settings">Email notification settings</a></p>'
        "</body></html>"
    )
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "localhost"
    # Derived from the digest row: a retried send carries the same Message-ID, so a mail
    # system that already took the first attempt can drop the repeat.
    message_id = f"<digest-{digest_id}@{domain}>"
    return Mail(to, f"{subject} on messenger", text, body, settings.mail_from, message_id)


# -- cleanup -----------------------------------------------------------------------------------


async def cleanup(db: Database, settings: Settings) -> dict[str, int]:
    """Settle notifications read in their chat, delete notifications past retention and
    digests (sent or given up) as old."""
    days = settings.notification_retention_days
    return {
        "settle_read_notifications": rowcount(await db.execute(Q.settle_read_notifications)),
        "delete_old_notifications": rowcount(await db.execute(Q.delete_old_notifications, days)),
        "delete_old_digests": rowcount(await db.execute(Q.delete_old_digests, days)),
    }
