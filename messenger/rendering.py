"""Messages as readers see them: rows to `Message`s, the shared view events carry, attachments.

Layer: domain (below messages.py, which re-exports these; pins, search and chats use them too).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from . import media
from .db import Connection, Database, Q
from .model import ForwardedFrom, Message, Reaction, ReplyPreview

# The reader id that renders the shared view persisted events carry: nobody's `me`, no
# forwarded origin (see "Forwarding" in docs/api.md).
NOBODY = 0


def message_from(record: asyncpg.Record, prefix: str = "") -> Message:
    """A Message from a row selecting the message columns (optionally with a column prefix)."""
    p = prefix
    return Message(
        id=record[p + "id"],
        chat_id=record[p + "chat_id"],
        seq=record[p + "seq"],
        sender_id=record[p + "sender_id"],
        client_msg_id=record[p + "client_msg_id"],
        text=record[p + "text"],
        reply_to_id=record[p + "reply_to_id"],
        attachments=[],
        mentions=list(record[p + "mentions"]),
        created_at=record[p + "created_at"],
        edited_at=record[p + "edited_at"],
        deleted=record[p + "deleted"],
    )


_reactions_decoder = msgspec.json.Decoder(list[Reaction])


def _reactions(counts: str | None, mine: list[str] | None) -> list[Reaction]:
    """The message's counts (its row's JSON copy, no `me`) with `me` set for the reader's emoji."""
    if counts is None:
        return []
    reactions = _reactions_decoder.decode(counts)
    if not mine:
        return reactions
    return [Reaction(r.emoji, r.count, True) if r.emoji in mine else r for r in reactions]


def rendered_from(record: asyncpg.Record) -> Message:
    """A Message from a "rendered" row (sql/messages.sql): base columns plus what its reader sees."""
    reply_to = None
    if record["r_seq"] is not None:
        reply_to = ReplyPreview(
            id=record["reply_to_id"],
            seq=record["r_seq"],
            sender_id=record["r_sender_id"],
            text=None if record["r_deleted"] else record["r_text"],
            deleted=record["r_deleted"],
            has_attachments=record["r_files"],
        )
    forwarded = None
    if record["fwd_sender_id"] is not None:
        visible = record["fwd_visible"]
        forwarded = ForwardedFrom(
            sender_id=record["fwd_sender_id"],
            sender_name=record["fwd_sender_name"],
            chat_id=record["fwd_chat_id"] if visible else None,
            message_id=record["fwd_message_id"] if visible else None,
            created_at=record["fwd_created_at"],
        )
    return Message(
        id=record["id"],
        chat_id=record["chat_id"],
        seq=record["seq"],
        sender_id=record["sender_id"],
        client_msg_id=record["client_msg_id"],
        text=record["text"],
        reply_to_id=record["reply_to_id"],
        attachments=[],
        mentions=list(record["mentions"]),
        created_at=record["created_at"],
        edited_at=record["edited_at"],
        deleted=record["deleted"],
        reply_to=reply_to,
        reactions=_reactions(record["reactions"], record["mine"]),
        forwarded_from=forwarded,
        pinned=record["pinned"],
    )


def shared_view(message: Message) -> Message:
    """The view every member shares (persisted events): no `me`, no forwarded origin ids."""
    reactions = message.reactions
    if any(r.me for r in reactions):
        reactions = [Reaction(r.emoji, r.count) for r in reactions]
    forwarded = message.forwarded_from
    if forwarded is not None and forwarded.chat_id is not None:
        forwarded = msgspec.structs.replace(forwarded, chat_id=None, message_id=None)
    if reactions is message.reactions and forwarded is message.forwarded_from:
        return message
    return msgspec.structs.replace(message, reactions=reactions, forwarded_from=forwarded)


async def rendered(conn: Database | Connection, message_ids: Sequence[int], reader_id: int) -> dict[int, Message]:
    """Messages by id as `reader_id` sees them (NOBODY: the shared view), attachments included."""
    records = await conn.fetch(Q.messages_rendered, list(message_ids), reader_id)
    return {m.id: m for m in await with_attachments(conn, [rendered_from(r) for r in records])}


async def with_attachments(conn: Database | Connection, messages: list[Message]) -> list[Message]:
    """The messages with their attachments filled in (one query for all of them)."""
    files = await media.for_messages(conn, [m.id for m in messages if not m.deleted])
    if not files:
        return messages
    return [msgspec.structs.replace(m, attachments=files[m.id]) if m.id in files else m for m in messages]
