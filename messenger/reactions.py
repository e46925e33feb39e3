"""Reactions: add, remove and list who reacted, with exact counts under concurrency.

Every change locks the message row (FOR NO KEY UPDATE) for its transaction. That one lock
serializes what must be serial for one message: the per-user and per-message limits, the
`reaction_counts` row next to the `reactions` rows, the check that the message is not deleted
(deleting takes the same row lock), and the order of its `reactions_changed` events, each of
which carries the counts as of its commit. Different messages never wait for each other.

Layer: domain (takes `db` and a `Publisher`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

import emoji as emoji_data
import msgspec

from . import events, users
from .db import Connection, Database, Q
from .errors import Conflict, NotFound, Unprocessable
from .model import ReactionCount, ReactionsChangedBody, User
from .ports import Publisher

MAX_PER_USER = 20
MAX_PER_MESSAGE = 50
PAGE_DEFAULT = 50
PAGE_MAX = 100
# The longest fully-qualified emoji (ZWJ family sequences with skin tones) is well under this;
# it only bounds the lookup.
_MAX_EMOJI_CHARS = 32
_FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReactionUsers(msgspec.Struct, frozen=True):
    users: list[User]
    next_cursor: str | None


def check_emoji(value: str) -> str:
    """One fully-qualified emoji of the Unicode emoji data (skin tones and ZWJ sequences included):
    `👍🏽` and `❤️` pass; `❤` (unqualified), a lone skin-tone modifier, two emoji or text do not."""
    if len(value) > _MAX_EMOJI_CHARS or emoji_data.EMOJI_DATA.get(value, {}).get("status") != _FULLY_QUALIFIED:
        raise Unprocessable("Not a single fully-qualified emoji", code="invalid_emoji")
    return value


async def _locked_message(conn: Connection, chat_id: int, message_id: int, user_id: int) -> int:
    """Lock the message for a reaction change; its seq. 404 unless the caller can read it."""
    if await conn.fetchval(Q.member_role, chat_id, user_id) is None:
        raise NotFound("Chat not found")
    record = await conn.fetchrow(Q.lock_message_for_reaction, message_id, chat_id)
    if record is None:
        raise NotFound("Message not found")
    if record["deleted"]:
        raise Conflict("The message is deleted", code="message_deleted")
    seq: int = record["seq"]
    return seq


async def _changed(
    conn: Connection, chat_id: int, message_id: int, seq: int, user_id: int, emoji: str, added: bool
) -> list[events.Event]:
    counts = [ReactionCount(r["emoji"], r["count"]) for r in await conn.fetch(Q.reaction_summary, message_id)]
    body = ReactionsChangedBody(chat_id, message_id, seq, user_id, emoji, added, counts)
    # Indexed by message, so deleting it can empty the counts of this event too (deletion is final).
    draft = events.Draft(chat_id, events.REACTIONS_CHANGED, body, message_id=message_id)
    return await events.append(conn, [draft])


async def add(db: Database, publisher: Publisher, user_id: int, chat_id: int, message_id: int, emoji: str) -> None:
    """Idempotent: reacting again with the same emoji changes nothing and sends no event."""
    check_emoji(emoji)
    async with db.transaction() as conn:
        seq = await _locked_message(conn, chat_id, message_id, user_id)
        state = await conn.fetchrow(Q.reaction_state, message_id, user_id, emoji)
        assert state is not None
        if state["mine"]:
            return
        if state["user_distinct"] >= MAX_PER_USER:
            raise Conflict(f"At most {MAX_PER_USER} different reactions per person", code="too_many_reactions")
        if not state["known"] and state["message_distinct"] >= MAX_PER_MESSAGE:
            raise Conflict(f"At most {MAX_PER_MESSAGE} different reactions per message", code="too_many_reactions")
        await conn.execute(Q.add_reaction, message_id, user_id, emoji)
        published = await _changed(conn, chat_id, message_id, seq, user_id, emoji, True)
    await publisher.publish(published)


async def remove(db: Database, publisher: Publisher, user_id: int, chat_id: int, message_id: int, emoji: str) -> None:
    """Idempotent: removing a reaction one does not have changes nothing and sends no event."""
    check_emoji(emoji)
    async with db.transaction() as conn:
        seq = await _locked_message(conn, chat_id, message_id, user_id)
        if await conn.fetchval(Q.remove_reaction, message_id, user_id, emoji) is None:
            return
        await conn.execute(Q.decrement_reaction_count, message_id, emoji)
        published = await _changed(conn, chat_id, message_id, seq, user_id, emoji, False)
    await publisher.publish(published)


def _encode_cursor(at: datetime, user_id: int) -> str:
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{user_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        micros_s, ident_s = raw.split(":")
        if not (micros_s.isdigit() and ident_s.isdigit() and len(micros_s) <= 18 and len(ident_s) <= 18):
            raise ValueError(raw)
        return _EPOCH + timedelta(microseconds=int(micros_s)), int(ident_s)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise Unprocessable("Invalid cursor", code="invalid_cursor") from None


async def who(
    db: Database, user_id: int, chat_id: int, message_id: int, emoji: str, *, cursor: str | None, limit: int
) -> ReactionUsers:
    """The users who reacted with `emoji`, oldest reaction first."""
    check_emoji(emoji)
    if await db.fetchval(Q.member_role, chat_id, user_id) is None:
        raise NotFound("Chat not found")
    if await db.fetchval(Q.message_in_chat, message_id, chat_id) is None:
        raise NotFound("Message not found")
    after, after_id = _decode_cursor(cursor) if cursor else (_EPOCH - timedelta(days=1), 0)
    records = await db.fetch(Q.reaction_users, message_id, emoji, after, after_id, limit + 1)
    page = records[:limit]
    found = await users.public_by_ids(db, [r["user_id"] for r in page])
    next_cursor = _encode_cursor(page[-1]["created_at"], page[-1]["user_id"]) if len(records) > limit else None
    return ReactionUsers([found[r["user_id"]] for r in page if r["user_id"] in found], next_cursor)
