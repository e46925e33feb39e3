"""Forwarding: a new message that copies another's text and attachments and names its origin.

The sender must be able to read the original now (a member of its chat). The copy links the
original's media to itself, which is what makes them visible to the target chat's members
(the media ACL follows message links) and to nobody else new. A forward of a forward names the
first original. The copy is a message of its own: deleting the original leaves it as it is.

Layer: domain (the send path of messages.py calls it inside its transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from . import media
from .db import Connection, Q
from .errors import AppError, Conflict, NotFound
from .model import Forward, ForwardedFrom, MediaOut


class Copy(msgspec.Struct, frozen=True):
    """What a forward copies from its original (origin ids as the sender may see them)."""

    text: str | None
    attachments: list[MediaOut]
    origin: ForwardedFrom  # as the sender sees it
    stored: ForwardedFrom  # with the real ids


async def resolve(conn: Connection, wanted: Sequence[tuple[int, int, Forward]]) -> dict[int, Copy | AppError]:
    """For each (key, sender_id, forward): the copy, or 404 when the sender cannot read the
    original (409 message_deleted once it is deleted)."""
    if not wanted:
        return {}
    sources = {r["id"]: r for r in await conn.fetch(Q.forward_sources, sorted({f.message_id for _, _, f in wanted}))}
    pairs = sorted({(f.chat_id, sender) for _, sender, f in wanted})
    records = await conn.fetch(Q.member_roles_for, [p[0] for p in pairs], [p[1] for p in pairs])
    readable = {(r["chat_id"], r["user_id"]) for r in records}
    files = await media.for_messages(conn, [sid for sid, r in sources.items() if not r["deleted"]])
    out: dict[int, Copy | AppError] = {}
    for i, sender, fwd in wanted:
        src = sources.get(fwd.message_id)
        if src is None or src["chat_id"] != fwd.chat_id or (fwd.chat_id, sender) not in readable:
            out[i] = NotFound("Message not found")
        elif src["deleted"]:
            out[i] = Conflict("The message is deleted", code="message_deleted")
        else:
            if src["fwd_sender_id"] is not None:
                # A forward of a forward names the first original; its ids are shown to the
                # sender only when that is the chat they forward from (else: a later page load).
                stored = ForwardedFrom(
                    src["fwd_sender_id"],
                    src["fwd_sender_name"],
                    src["fwd_chat_id"],
                    src["fwd_message_id"],
                    src["fwd_created_at"],
                )
                origin = stored
                if stored.chat_id != fwd.chat_id:
                    origin = msgspec.structs.replace(stored, chat_id=None, message_id=None)
            else:
                stored = origin = ForwardedFrom(
                    src["sender_id"], src["display_name"], fwd.chat_id, src["id"], src["created_at"]
                )
            out[i] = Copy(src["text"], files.get(src["id"], []), origin, stored)
    return out


def origin_columns(copies: Sequence[Copy | AppError | None]) -> tuple[list[object], ...]:
    """The insert's forwarded-origin arrays (sender, name, chat, message, time; null if not a copy).

    The stored chat/message ids are always the real ones; readers see them per membership.
    """
    origins = [c.stored if isinstance(c, Copy) else None for c in copies]
    return (
        [o.sender_id if o else None for o in origins],
        [o.sender_name if o else None for o in origins],
        [o.chat_id if o else None for o in origins],
        [o.message_id if o else None for o in origins],
        [o.created_at if o else None for o in origins],
    )
