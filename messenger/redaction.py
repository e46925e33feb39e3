"""Deletion is final, edits supersede: rewriting the stored events that show a message.

Layer: domain. Events carry rendered messages (`receive_message`, `message_edited`, a
`chat_updated`'s `last_message`) or a message's reaction counts (`reactions_changed`), indexed
by `events.message_id` (sql/schema/0011). When a message changes, `messages.rerender_events`
renders it from its current row and hands it here; only those few events are rewritten, never
the log, and reads stay "copy the stored bytes".
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from . import events
from .db import Connection, Q
from .model import Message, MessageBody

_encoder = msgspec.json.Encoder()


def redacted(message: Message) -> Message:
    """The form a deleted message takes everywhere (and an edited one, for readers who left)."""
    return msgspec.structs.replace(
        message, text=None, attachments=[], mentions=[], edited_at=None, deleted=True, reactions=[], reply_to=None
    )


class _ChatUpdated(msgspec.Struct):
    """A chat_updated payload, decoded only as far as the embedded last message."""

    chat: dict[str, msgspec.Raw]


def _with_last_message(payload: bytes, message: Message) -> bytes:
    body = msgspec.json.decode(payload, type=_ChatUpdated)
    body.chat["last_message"] = msgspec.Raw(_encoder.encode(message))
    return _encoder.encode(body)


def _quote_hidden(message: Message) -> Message:
    """A reply as a reader who left before its original's edit gets it: the quote redacted, and
    the reply itself too if it was ever edited (one `redacted` form per event cannot tell that
    reader's span from the reply's own edit, so it errs on hiding)."""
    if message.edited_at is not None:
        return redacted(message)
    if message.reply_to is None:
        return message
    quote = msgspec.structs.replace(message.reply_to, text=None, deleted=True, has_attachments=False)
    return msgspec.structs.replace(message, reply_to=quote)


def _without_reactions(payload: bytes) -> bytes:
    """A reactions_changed payload of a deleted message: its counts go, the rest stays."""
    body = msgspec.json.decode(payload, type=dict[str, msgspec.Raw])
    body["reactions"] = msgspec.Raw(b"[]")
    return _encoder.encode(body)


async def rewrite(
    conn: Connection, current: Mapping[int, Message], *, revised_pos: int | None = None, quoting: bool = False
) -> None:
    """Store `current` (message id -> its shared view now) in every event that shows it.

    `revised_pos`: the position of the edit doing this; a reader whose membership ended before
    it is served the redacted form instead (events_for_user), so they never learn of the edit.
    `quoting`: the edit is of the message these replies quote, so that reader gets the quote
    redacted rather than the whole reply.
    """
    hide_as = _quote_hidden if quoting else redacted
    positions: list[int] = []
    payloads: list[bytes] = []
    hidden: list[bytes | None] = []
    for r in await conn.fetch(Q.events_of_messages, list(current)):
        message = current[r["message_id"]]
        if r["type"] == events.REACTIONS_CHANGED:
            # Counts at that moment stay true after an edit; only a deletion empties them.
            if not message.deleted:
                continue
            payload, hide = _without_reactions(r["payload"]), None
        elif r["type"] == events.CHAT_UPDATED:
            payload = _with_last_message(r["payload"], message)
            hide = _with_last_message(r["payload"], hide_as(message)) if revised_pos is not None else None
        else:
            payload = _encoder.encode(MessageBody(message))
            hide = _encoder.encode(MessageBody(hide_as(message))) if revised_pos is not None else None
        positions.append(r["pos"])
        payloads.append(payload)
        hidden.append(hide)
    if positions:
        await conn.execute(Q.rewrite_events, positions, payloads, hidden, [revised_pos] * len(positions))
