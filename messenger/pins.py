"""Pins: owner and admins pin (either member in a direct chat), at most MAX_PER_CHAT per chat.

A pin is `messages.pinned_at`; pin and unpin lock the chat row, which makes the limit exact
under concurrent pins, and each change is a persisted `pins_changed` event. Deleting a message
unpins it (messages.delete emits that pins_changed).

Layer: domain (takes `db` and a `Publisher`).
"""

from __future__ import annotations

from . import events
from .db import Connection, Database, Q
from .errors import Conflict, Forbidden, NotFound
from .messages import rendered_from, with_attachments
from .model import Message, PinsChangedBody
from .ports import Publisher

MAX_PER_CHAT = 50


async def _lock(conn: Connection, chat_id: int, user_id: int) -> None:
    record = await conn.fetchrow(Q.lock_chat_for_pins, chat_id, user_id)
    if record is None:
        raise NotFound("Chat not found")
    if record["kind"] != "direct" and record["role"] not in ("owner", "admin"):
        raise Forbidden("Only the chat's owner and admins pin messages")


async def set_pinned(
    db: Database, publisher: Publisher, user_id: int, chat_id: int, message_id: int, pinned: bool
) -> None:
    """Pin or unpin; idempotent (no change, no event)."""
    async with db.transaction() as conn:
        await _lock(conn, chat_id, user_id)
        target = await conn.fetchrow(Q.pin_target, message_id, chat_id)
        if target is None:
            raise NotFound("Message not found")
        if target["pinned"] == pinned:
            return
        if pinned:
            if target["deleted"]:
                raise Conflict("The message is deleted", code="message_deleted")
            if await conn.fetchval(Q.pin_count, chat_id) >= MAX_PER_CHAT:
                raise Conflict(f"At most {MAX_PER_CHAT} pinned messages per chat", code="too_many_pins")
        await conn.execute(Q.set_pinned, message_id, pinned)
        body = PinsChangedBody(chat_id, message_id, pinned, user_id)
        published = await events.append(conn, [events.Draft(chat_id, events.PINS_CHANGED, body)])
    await publisher.publish(published)


async def listing(db: Database, user_id: int, chat_id: int) -> list[Message]:
    """The chat's pinned messages, most recently pinned first (bounded by MAX_PER_CHAT)."""
    if await db.fetchval(Q.member_role, chat_id, user_id) is None:
        raise NotFound("Chat not found")
    records = await db.fetch(Q.pinned_messages, chat_id, user_id)
    return await with_attachments(db, [rendered_from(r) for r in records])
