"""The per-user event stream: persisted events, cursors, sync and replay.

Layer: infrastructure (below the domain, which appends; above the ground floor's bodies).

One global, commit-ordered log (`events`, positions from `event_stream`, see
sql/schema/0002_events.sql). A user sees the events of the chats they belong(ed) to, limited to
their membership spans. A cursor is the position of the last event a client has seen; it is
opaque to clients (a decimal string today) so its format can change under a new version.

Writers build `Draft`s inside their transaction and call `append` as the transaction's last
statement; after commit they hand the returned `Event`s to the hub, which fans them out. The
same rows serve `GET /v1/sync` and WebSocket `resume`, so live and replayed frames are
byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from .db import Connection, Database, Q
from .errors import Gone, Unprocessable
from .model import EventBody
from .parse import ascii_int

# The persisted frame types (contract, WebSocket section).
RECEIVE_MESSAGE = "receive_message"
MESSAGE_EDITED = "message_edited"
MESSAGE_DELETED = "message_deleted"
CHAT_UPDATED = "chat_updated"
MEMBER_ADDED = "member_added"
MEMBER_REMOVED = "member_removed"
REACTIONS_CHANGED = "reactions_changed"
PINS_CHANGED = "pins_changed"

_encoder = msgspec.json.Encoder()


class Draft(msgspec.Struct, frozen=True):
    """An event before it has a position. `body` is the frame's fields except type/cursor.

    `message_id` names the message the event shows (or embeds, as a chat's last_message), so
    an edit or delete can re-render it (messages.rerender_events)."""

    chat_id: int
    type: str
    body: EventBody
    user_id: int | None = None
    message_id: int | None = None


class Event(msgspec.Struct, frozen=True):
    """A committed event. `payload` is the JSON object of the frame's fields except type/cursor."""

    pos: int
    chat_id: int
    type: str
    payload: bytes
    user_id: int | None = None

    @property
    def cursor(self) -> str:
        return encode_cursor(self.pos)

    def json_frame(self) -> bytes:
        """The complete JSON frame: {"type", "cursor", ...payload}, spliced without re-encoding."""
        head = b'{"type":"%s","cursor":"%d"' % (self.type.encode(), self.pos)
        if self.payload == b"{}":
            return head + b"}"
        return head + b"," + self.payload[1:]


class SyncPage(msgspec.Struct, frozen=True):
    events: list[Event]
    cursor: str
    has_more: bool


def encode_cursor(pos: int) -> str:
    return str(pos)


def decode_cursor(cursor: str) -> int:
    pos = ascii_int(cursor)
    if pos is None:
        raise Unprocessable("Invalid cursor", code="invalid_cursor")
    return pos


async def append(conn: Connection, drafts: Sequence[Draft]) -> list[Event]:
    """Give drafts consecutive positions and insert them. Call LAST in the transaction."""
    if not drafts:
        return []
    payloads = [_encoder.encode(d.body) for d in drafts]
    base = await conn.fetchval(
        Q.append_events,
        [d.chat_id for d in drafts],
        [d.type for d in drafts],
        payloads,
        [d.user_id for d in drafts],
        [d.message_id for d in drafts],
    )
    return [
        Event(base + i, d.chat_id, d.type, payload, d.user_id)
        for i, (d, payload) in enumerate(zip(drafts, payloads, strict=True), start=1)
    ]


async def open_span(conn: Connection, chat_id: int, user_id: int, event: Event) -> None:
    """The user sees the chat's events from `event` (inclusive) on, e.g. their member_added."""
    await conn.execute(Q.open_span, chat_id, user_id, event.pos - 1)


async def close_span(conn: Connection, chat_id: int, user_id: int, event: Event) -> None:
    """The user sees the chat's events up to `event` (inclusive), e.g. their member_removed."""
    await conn.execute(Q.close_span, chat_id, user_id, event.pos)


async def open_spans(conn: Connection, chat_id: int, user_ids: Sequence[int], event: Event) -> None:
    """`open_span` for many users in one statement (a new chat's members)."""
    await conn.execute(Q.open_spans, chat_id, list(user_ids), event.pos - 1)


async def close_all_spans(conn: Connection, chat_id: int, event: Event) -> None:
    """Every current member sees the chat's events up to `event` (inclusive): a deleted chat."""
    await conn.execute(Q.close_all_spans, chat_id, event.pos)


async def trim(db: Database, retention_days: int) -> int:
    """Delete events older than retention; returns the position below which cursors get 410."""
    trimmed: int = await db.fetchval(Q.trim_events, retention_days)
    return trimmed


async def current_cursor(db: Database) -> str:
    state = await db.fetchrow(Q.stream_state)
    assert state is not None
    return encode_cursor(state["pos"])


async def read(db: Database, user_id: int, since: int, *, limit: int, upto: int | None = None) -> SyncPage:
    """Events visible to `user_id` after `since` (up to `upto`), at most `limit`.

    410 cursor_expired if `since` is older than retention keeps. The returned cursor is where
    the next read starts: the last event's position, or the stream head when nothing is left
    (positions of other users' events are skipped so an idle client's cursor does not lag).
    """
    state = await db.fetchrow(Q.stream_state)
    assert state is not None
    head, trimmed = state["pos"], state["trimmed_pos"]
    if since < trimmed:
        raise Gone("Cursor is older than the server keeps; reload over REST", code="cursor_expired")
    if since > head:
        raise Unprocessable("Cursor is ahead of the stream", code="invalid_cursor")
    upto = head if upto is None else min(upto, head)
    records = await db.fetch(Q.events_for_user, user_id, since, upto, limit + 1)
    has_more = len(records) > limit
    events = [Event(r["pos"], r["chat_id"], r["type"], r["payload"], r["user_id"]) for r in records[:limit]]
    cursor = events[-1].pos if has_more else upto
    return SyncPage(events, encode_cursor(cursor), has_more)
