"""Message search: what the caller may read, matching a query, newest first.

Visibility is decided in SQL (sql/search.sql): only chats the caller is a member of now, and in
them only messages whose seq falls in one of the caller's membership spans (never from before
joining, nor from between leaving and rejoining). Deleted messages have no index and an edit
rewrites it (messages.py), so neither a deleted nor a superseded text is ever found. Words,
folding and highlights are in `searchtext`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from .db import Database, Q
from .errors import NotFound, Unprocessable
from .messages import message_from, with_attachments
from .model import ChatKind, Message
from .searchtext import Query, QueryError, highlights, index_vector, parse

MAX_QUERY = 256
LIMIT_DEFAULT = 20
LIMIT_MAX = 100
_ID_MAX = 2**63 - 1
# Exclusive created_at bounds when none are given (timestamptz spans 4713 BC to 294276 AD).
_FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)


class SearchChat(msgspec.Struct, frozen=True):
    id: int
    kind: ChatKind
    # A direct chat's title is the other member's display name (or username).
    title: str | None


class SearchResult(msgspec.Struct, frozen=True):
    message: Message
    chat: SearchChat
    # Code point offsets into message.text, end exclusive, one span per matched word or prefix.
    highlights: list[tuple[int, int]]


class SearchPage(msgspec.Struct, frozen=True):
    results: list[SearchResult]
    next_cursor: str | None


class Filters(msgspec.Struct, frozen=True):
    chat_id: int | None = None
    sender_id: int | None = None
    before: datetime | None = None
    after: datetime | None = None


def query(q: str) -> Query:
    """The parsed query, or 422: too long, NUL, or nothing but punctuation and operators."""
    if not 1 <= len(q) <= MAX_QUERY:
        raise Unprocessable(f"q must be 1 to {MAX_QUERY} characters", code="invalid_query")
    if "\x00" in q:
        raise Unprocessable("q must not contain NUL characters", code="invalid_query")
    try:
        return parse(q)
    except QueryError as exc:
        raise Unprocessable(str(exc), code="invalid_query") from None


def _decode_cursor(cursor: str) -> int:
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19 or int(cursor) > _ID_MAX:
        raise Unprocessable("Invalid cursor", code="invalid_cursor")
    return int(cursor)


def _aware(at: datetime) -> datetime:
    # RFC 3339 requires an offset; a naive value (no offset given) is read as UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def messages(
    db: Database, user_id: int, q: str, filters: Filters, *, cursor: str | None, limit: int
) -> SearchPage:
    parsed = query(q)
    if filters.chat_id is not None and await db.fetchval(Q.member_role, filters.chat_id, user_id) is None:
        raise NotFound("Chat not found")  # as everywhere else, a chat you are not in does not exist
    below = _decode_cursor(cursor) if cursor else _ID_MAX
    before = _aware(filters.before) if filters.before else _FAR_FUTURE
    after = _aware(filters.after) if filters.after else _FAR_PAST
    records = await db.fetch(
        Q.search_messages,
        user_id,
        parsed.tsquery,
        filters.chat_id,
        filters.sender_id,
        before,
        after,
        below,
        limit + 1,
    )
    found = await with_attachments(db, [message_from(r) for r in records[:limit]])
    results = [
        SearchResult(
            m, SearchChat(r["chat_id"], r["chat_kind"], r["chat_title"]), highlights(m.text or "", parsed.terms)
        )
        for m, r in zip(found, records[:limit], strict=True)
    ]
    next_cursor = str(found[-1].id) if len(records) > limit else None
    return SearchPage(results, next_cursor)


class ReindexProgress(msgspec.Struct, frozen=True):
    # Messages up to this id are done; ids above `upto_id` were indexed by the send path.
    next_id: int
    upto_id: int
    # Index values rewritten by this batch (unchanged ones are not counted).
    rewritten: int
    done: bool


REINDEX_BATCH = 1000


async def reindex_batch(db: Database, limit: int = REINDEX_BATCH) -> ReindexProgress:
    """Re-index the next `limit` messages that migration 0007 indexed with PostgreSQL's parser,
    as the send path would (`index_vector`). One transaction per batch, progress stored with
    it: an interrupted run resumes after the last finished batch."""
    async with db.transaction() as conn:
        state = await conn.fetchrow(Q.search_reindex_state)
        if state is None or state["finished_at"] is not None:  # no row: nothing was ever due
            upto = state["upto_id"] if state is not None else 0
            return ReindexProgress(upto, upto, 0, done=True)
        upto, start = state["upto_id"], state["next_id"]
        rows = await conn.fetch(Q.search_reindex_batch, start, upto, limit)
        next_id = rows[-1]["id"] if len(rows) == limit else upto
        rewritten: int = await conn.fetchval(
            Q.search_reindex_store,
            [r["id"] for r in rows],
            [index_vector(r["text"]) for r in rows],
            [r["text"] for r in rows],
            next_id,
        )
    return ReindexProgress(next_id, upto, rewritten, done=next_id >= upto)
