"""Chats: creation (one direct chat per pair), roles, membership, the chat list and read markers.

Layer: domain. Writers take `db` and a `Publisher`, and publish after commit.

Every membership change locks the chat row first (`lock_chat`), the same row senders lock, so a
removed member cannot slip a message in after their removal and member counts stay exact. Each
change appends its events last in the transaction and opens/closes the member's span of the
chat's event stream, then publishes after commit.

Roles: `owner` (exactly one), `admin`, `member`. Owner/admin rename and add members; only the
owner changes roles (giving "owner" to someone transfers ownership and makes the old owner an
admin) and deletes the chat; admins remove plain members only. Direct chats have exactly two
members, both `member`: neither may delete the other's messages, rename, add, remove, change
roles or delete the chat (403); either may leave.

`unread_count` is `last_seq - last_read_seq`. Sending moves the sender's own marker to their
message, and a member added later starts with everything before their arrival read, so it
counts the messages of others after the marker (deleted ones included).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

import asyncpg
import msgspec

from . import events, searchtext
from .db import Connection, Database, Q
from .errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from .messages import MAX_ID, message_from, with_attachments
from .model import Chat, ChatBody, ChatKind, MemberBody, Role, User
from .parse import ascii_int
from .ports import Publisher
from .users import public_by_ids

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Attempts at a read-marker batch that PostgreSQL keeps picking as a deadlock victim.
READ_DEADLOCK_TRIES: Final = 3
# Keyset bounds for a first page ("after the start" / "before the end").
_FAR_PAST = datetime(1, 1, 2, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 12, 30, tzinfo=UTC)
_ID_MAX = 2**62


class ChatPage(msgspec.Struct, frozen=True):
    chats: list[Chat]
    next_cursor: str | None


class Member(msgspec.Struct, frozen=True):
    user: User
    role: Role
    joined_at: datetime
    # The member's read marker ("seen by" in groups).
    last_read_seq: int


class MemberPage(msgspec.Struct, frozen=True):
    members: list[Member]
    next_cursor: str | None


class ReadRequest(msgspec.Struct, frozen=True):
    """A request to move `user_id`'s read marker in `chat_id` forward to `seq`. `origin` is the
    socket it came from, which gets no `read` frame of it (None from REST: every socket does)."""

    chat_id: int
    user_id: int
    seq: int
    origin: object = None


# What `mark_read_batch` says of each request: None when it was accepted (whether or not the
# marker moved: a lower seq changes nothing), else the request's own error.
ReadResult = AppError | None


# -- cursors ----------------------------------------------------------------------------------


def _encode_cursor(at: datetime, ident: int) -> str:
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{ident}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        micros_s, ident_s = raw.split(":")
        micros, ident = ascii_int(micros_s), ascii_int(ident_s)
        if micros is None or ident is None:
            raise ValueError(raw)
        at = _EPOCH + timedelta(microseconds=micros)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise Unprocessable("Invalid cursor", code="invalid_cursor") from None
    if not ident < _ID_MAX:
        raise Unprocessable("Invalid cursor", code="invalid_cursor")
    return at, ident


# -- reading ----------------------------------------------------------------------------------


def _chat_from(r: asyncpg.Record) -> Chat:
    return Chat(
        id=r["id"],
        kind=r["kind"],
        title=r["title"],
        description=r["description"],
        created_at=r["created_at"],
        member_count=r["member_count"],
        role=r["role"],
        last_message=message_from(r, "m_") if r["m_id"] is not None else None,
        last_seq=r["last_seq"],
        unread_count=r["unread_count"],
        last_read_seq=r["last_read_seq"],
        others_read_seq=r["others_read_seq"] or 0,
    )


async def _shared(conn: Connection, chat: Chat) -> Chat:
    """The view broadcast to every member (one frame for all, stored for sync): no per-user role
    or unread count. Its read markers are floors true for every member, not a misleading 0: the
    lowest marker of any member (yours is at least that) and the second highest (the highest of
    the others is at least that, whoever you are). Per-reader values would need a frame per
    recipient; clients keep the higher of theirs and these."""
    floors = await conn.fetchrow(Q.chat_read_floors, chat.id)
    assert floors is not None  # an aggregate row always comes back
    return msgspec.structs.replace(
        chat,
        role=None,
        unread_count=0,
        last_read_seq=floors["lowest"],
        others_read_seq=floors["second_highest"],
    )


async def _chat_updated(conn: Connection, chat: Chat) -> events.Draft:
    """A chat_updated event, indexed by its last message (re-rendered if that is edited or deleted)."""
    last = chat.last_message.id if chat.last_message is not None else None
    return events.Draft(chat.id, events.CHAT_UPDATED, ChatBody(await _shared(conn, chat)), message_id=last)


async def _members_from(db: Database, records: Sequence[asyncpg.Record]) -> list[Member]:
    """Members with their public user objects (one query for all of them)."""
    users = await public_by_ids(db, [r["user_id"] for r in records])
    return [Member(users[r["user_id"]], r["role"], r["joined_at"], r["last_read_seq"]) for r in records]


async def _chats_from(conn: Database | Connection, records: Sequence[asyncpg.Record]) -> list[Chat]:
    """Chats with their last messages' attachments (one more query for all of them)."""
    chats = [_chat_from(r) for r in records]
    lasts = [c.last_message for c in chats if c.last_message is not None]
    if not lasts:
        return chats
    filled = {m.id: m for m in await with_attachments(conn, lasts)}
    return [
        msgspec.structs.replace(c, last_message=filled[c.last_message.id]) if c.last_message is not None else c
        for c in chats
    ]


async def _view(conn: Database | Connection, chat_id: int, user_id: int) -> Chat:
    record = await conn.fetchrow(Q.chat_for_user, chat_id, user_id)
    if record is None:
        raise NotFound("Chat not found")
    (chat,) = await _chats_from(conn, [record])
    return chat


async def get(db: Database, user_id: int, chat_id: int) -> Chat:
    return await _view(db, chat_id, user_id)


async def list_for_user(
    db: Database, user_id: int, *, cursor: str | None, limit: int, q: str | None = None
) -> ChatPage:
    """`q`: only chats whose title (a direct chat: the peer's name) has words starting with
    every word of q, ignoring case and accents."""
    at, ident = _decode_cursor(cursor) if cursor else (_FAR_FUTURE, _ID_MAX)
    names = None
    if q is not None:
        try:
            names = searchtext.prefix_query(q)
        except searchtext.QueryError as exc:
            raise Unprocessable(str(exc), code="invalid_query") from None
    records = await db.fetch(Q.chats_for_user, user_id, at, ident, limit + 1, names)
    chats = await _chats_from(db, records[:limit])
    next_cursor = None
    if len(records) > limit:
        last = records[limit - 1]
        next_cursor = _encode_cursor(last["last_activity"], last["id"])
    return ChatPage(chats, next_cursor)


async def members(db: Database, user_id: int, chat_id: int, *, cursor: str | None, limit: int) -> MemberPage:
    """In joining order (the owner of a new chat first)."""
    if await db.fetchval(Q.member_role, chat_id, user_id) is None:
        raise NotFound("Chat not found")
    at, ident = _decode_cursor(cursor) if cursor else (_FAR_PAST, 0)
    records = await db.fetch(Q.members_page, chat_id, at, ident, limit + 1)
    page = await _members_from(db, records[:limit])
    next_cursor = None
    if len(records) > limit:
        last = page[-1]
        next_cursor = _encode_cursor(last.joined_at, last.user.id)
    return MemberPage(page, next_cursor)


# -- writing ----------------------------------------------------------------------------------


async def _lock(conn: Connection, chat_id: int, user_id: int) -> tuple[str, str]:
    """Lock the chat row; returns (kind, caller's role). 404 for non-members."""
    kind = await conn.fetchval(Q.lock_chat, chat_id)
    role = await conn.fetchval(Q.member_role, chat_id, user_id) if kind is not None else None
    if kind is None or role is None:
        raise NotFound("Chat not found")
    return kind, role


async def _check_users_exist(conn: Connection, user_ids: Sequence[int]) -> None:
    if not user_ids:
        return
    found = {r["id"] for r in await conn.fetch(Q.existing_users, list(user_ids))}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise Unprocessable(f"Unknown user ids: {', '.join(map(str, missing))}", code="unknown_user")


async def create(
    db: Database,
    publisher: Publisher,
    user_id: int,
    *,
    kind: ChatKind,
    title: str | None,
    description: str | None,
    member_ids: Sequence[int],
) -> tuple[Chat, bool]:
    """Create a chat with the caller as owner (direct chats: no owner); returns (chat, created).

    A direct chat with the same peer returns the existing one (created False); if one of the
    two had left it, they are members again.
    """
    others = list(dict.fromkeys(m for m in member_ids if m != user_id))
    if kind == "direct":
        if len(others) != 1 or len(member_ids) != 1:
            raise Unprocessable("A direct chat needs exactly one other member in member_ids", code="invalid_members")
        return await _create_direct(db, publisher, user_id, others[0], title, description)
    published: list[events.Event] = []
    async with db.transaction() as conn:
        await _check_users_exist(conn, others)
        everyone = [user_id, *others]
        chat_id = await conn.fetchval(Q.insert_chat, kind, title, description, None, len(everyone))
        await conn.execute(Q.insert_members, chat_id, everyone, ["owner"] + ["member"] * len(others), 0)
        chat = await _view(conn, chat_id, user_id)
        published = await _append_new_members(conn, chat, everyone, announce=True)
    await publisher.publish(published)
    return chat, True


async def _append_new_members(
    conn: Connection, chat: Chat, user_ids: Sequence[int], *, announce: bool
) -> list[events.Event]:
    """Append chat_updated (if `announce`) and member_added events and open the new spans.

    The spans start at the first event, so each new member sees the chat and every addition."""
    drafts = [await _chat_updated(conn, chat)] if announce else []
    drafts += [events.Draft(chat.id, events.MEMBER_ADDED, MemberBody(chat.id, u), u) for u in user_ids]
    appended = await events.append(conn, drafts)
    await events.open_spans(conn, chat.id, user_ids, appended[0])
    return appended


async def _create_direct(
    db: Database, publisher: Publisher, user_id: int, peer_id: int, title: str | None, description: str | None
) -> tuple[Chat, bool]:
    key = f"{min(user_id, peer_id)}:{max(user_id, peer_id)}"
    # Normally one pass; a second only if the chat found by key was deleted in between.
    for _ in range(3):
        async with db.transaction() as conn:
            await _check_users_exist(conn, [peer_id])
            chat_id = await conn.fetchval(Q.insert_chat, "direct", title, description, key, 2)
            if chat_id is not None:
                # Neither member of a direct chat has power over the other: both are plain members.
                await conn.execute(Q.insert_members, chat_id, [user_id, peer_id], ["member", "member"], 0)
                chat = await _view(conn, chat_id, user_id)
                published = await _append_new_members(conn, chat, [user_id, peer_id], announce=True)
                created = True
            else:
                # ON CONFLICT waited for the other creator's commit; the row is visible now.
                chat_id = await conn.fetchval(Q.lock_direct_chat, key)
                if chat_id is None:
                    continue
                last_seq = await conn.fetchval(Q.chat_last_seq, chat_id)
                back = await conn.fetch(Q.insert_members, chat_id, [user_id, peer_id], ["member", "member"], last_seq)
                if back:
                    await conn.execute(Q.add_member_count, chat_id, len(back))
                chat = await _view(conn, chat_id, user_id)
                published = []
                if back:
                    published = await _append_new_members(conn, chat, [r["user_id"] for r in back], announce=False)
                created = False
        if published:
            await publisher.publish(published)
        return chat, created
    raise Conflict("The direct chat changed concurrently; retry", code="concurrent_update")


async def update(
    db: Database,
    publisher: Publisher,
    user_id: int,
    chat_id: int,
    *,
    title: str | msgspec.UnsetType | None,
    description: str | msgspec.UnsetType | None,
) -> Chat:
    async with db.transaction() as conn:
        _, role = await _lock(conn, chat_id, user_id)
        if role not in ("owner", "admin"):
            raise Forbidden("Only the owner and admins may change the chat")
        set_title = title is not msgspec.UNSET
        set_description = description is not msgspec.UNSET
        if not set_title and not set_description:
            # Nothing to change, so nothing to tell anyone.
            return await _view(conn, chat_id, user_id)
        await conn.execute(
            Q.update_chat,
            chat_id,
            set_title,
            title if set_title else None,
            set_description,
            description if set_description else None,
        )
        chat = await _view(conn, chat_id, user_id)
        published = await events.append(conn, [await _chat_updated(conn, chat)])
    await publisher.publish(published)
    return chat


async def delete(db: Database, publisher: Publisher, user_id: int, chat_id: int) -> None:
    """Owner only. Every member gets member_removed for every member, then nothing more."""
    async with db.transaction() as conn:
        _, role = await _lock(conn, chat_id, user_id)
        if role != "owner":
            raise Forbidden("Only the owner may delete the chat")
        published = await _delete_locked(conn, chat_id)
    await publisher.publish(published)


async def _delete_locked(conn: Connection, chat_id: int) -> list[events.Event]:
    user_ids = [r["user_id"] for r in await conn.fetch(Q.member_ids, chat_id)]
    await conn.execute(Q.delete_chat, chat_id)
    drafts = [events.Draft(chat_id, events.MEMBER_REMOVED, MemberBody(chat_id, u), u) for u in user_ids]
    appended = await events.append(conn, drafts)
    await events.close_all_spans(conn, chat_id, appended[-1])
    return appended


async def add_member(
    db: Database, publisher: Publisher, user_id: int, chat_id: int, target_id: int, role: Role
) -> Member:
    """Owner/admin add; only the owner adds admins; nobody adds a second owner."""
    async with db.transaction() as conn:
        kind, caller_role = await _lock(conn, chat_id, user_id)
        if caller_role not in ("owner", "admin"):
            raise Forbidden("Only the owner and admins may add members")
        if kind == "direct":
            raise Conflict("A direct chat has exactly two members", code="direct_chat")
        if role == "owner":
            raise Unprocessable("A chat has one owner; transfer ownership with PATCH", code="invalid_role")
        if role == "admin" and caller_role != "owner":
            raise Forbidden("Only the owner may appoint admins")
        await _check_users_exist(conn, [target_id])
        last_seq = await conn.fetchval(Q.chat_last_seq, chat_id)
        if not await conn.fetch(Q.insert_members, chat_id, [target_id], [role], last_seq):
            raise Conflict("Already a member", code="already_member")
        await conn.execute(Q.add_member_count, chat_id, 1)
        member_row = await conn.fetchrow(Q.member_row, chat_id, target_id)
        drafts = [events.Draft(chat_id, events.MEMBER_ADDED, MemberBody(chat_id, target_id), target_id)]
        appended = await events.append(conn, drafts)
        await events.open_span(conn, chat_id, target_id, appended[0])
    await publisher.publish(appended)
    assert member_row is not None  # written above under the chat lock
    (member,) = await _members_from(db, [member_row])
    return member


async def set_role(
    db: Database, publisher: Publisher, user_id: int, chat_id: int, target_id: int, role: Role
) -> Member:
    """Owner only. Giving "owner" transfers ownership (the old owner becomes an admin)."""
    async with db.transaction() as conn:
        kind, caller_role = await _lock(conn, chat_id, user_id)
        if caller_role != "owner":
            raise Forbidden("Only the owner may change roles")
        if kind == "direct":
            raise Conflict("Roles do not change in a direct chat", code="direct_chat")
        current = await conn.fetchval(Q.member_role, chat_id, target_id)
        if current is None:
            raise NotFound("Not a member of this chat")
        if target_id == user_id:
            raise Conflict("The owner's role changes only by giving ownership to another member", code="owner_role")
        if role == "owner":
            await conn.execute(Q.set_role, chat_id, user_id, "admin")
        await conn.execute(Q.set_role, chat_id, target_id, role)
        member_row = await conn.fetchrow(Q.member_row, chat_id, target_id)
        # Roles are not in the shared chat view; chat_updated tells members to refresh them.
        chat = await _view(conn, chat_id, user_id)
        published = await events.append(conn, [await _chat_updated(conn, chat)])
    await publisher.publish(published)
    assert member_row is not None  # written above under the chat lock
    (member,) = await _members_from(db, [member_row])
    return member


async def remove_member(db: Database, publisher: Publisher, user_id: int, chat_id: int, target_id: int) -> None:
    """Yourself: leave. Otherwise owner removes anyone, admins remove plain members."""
    async with db.transaction() as conn:
        kind, caller_role = await _lock(conn, chat_id, user_id)
        if target_id == user_id:
            published = await _leave_locked(conn, chat_id, user_id, caller_role)
        else:
            target_role = await conn.fetchval(Q.member_role, chat_id, target_id)
            if caller_role not in ("owner", "admin"):
                raise Forbidden("Only the owner and admins may remove members")
            if target_role is None:
                raise NotFound("Not a member of this chat")
            if kind == "direct":
                raise Conflict("A direct chat has exactly two members; leave it instead", code="direct_chat")
            if caller_role == "admin" and target_role != "member":
                raise Forbidden("Admins may remove plain members only")
            published = await _remove_locked(conn, chat_id, target_id, [])
    await publisher.publish(published)


async def _remove_locked(
    conn: Connection, chat_id: int, target_id: int, after: list[events.Draft]
) -> list[events.Event]:
    """Remove a member (span closed at their member_removed), then append `after` drafts."""
    await conn.execute(Q.remove_member, chat_id, target_id)
    await conn.execute(Q.add_member_count, chat_id, -1)
    drafts = [events.Draft(chat_id, events.MEMBER_REMOVED, MemberBody(chat_id, target_id), target_id), *after]
    appended = await events.append(conn, drafts)
    await events.close_span(conn, chat_id, target_id, appended[0])
    return appended


async def _leave_locked(conn: Connection, chat_id: int, user_id: int, role: str) -> list[events.Event]:
    successor = await conn.fetchval(Q.successor, chat_id, user_id)
    if successor is None:
        # The last member leaves: the chat goes with them.
        return await _delete_locked(conn, chat_id)
    if role != "owner":
        return await _remove_locked(conn, chat_id, user_id, [])
    await conn.execute(Q.set_role, chat_id, successor, "owner")
    await conn.execute(Q.remove_member, chat_id, user_id)
    await conn.execute(Q.add_member_count, chat_id, -1)
    chat = await _view(conn, chat_id, successor)
    drafts = [
        events.Draft(chat_id, events.MEMBER_REMOVED, MemberBody(chat_id, user_id), user_id),
        await _chat_updated(conn, chat),
    ]
    appended = await events.append(conn, drafts)
    await events.close_span(conn, chat_id, user_id, appended[0])
    return appended


async def leave_all(conn: Connection, user_id: int) -> list[events.Event]:
    """Leave every chat, as `remove_member` on oneself would (account closure). Publish after commit."""
    published: list[events.Event] = []
    for r in await conn.fetch(Q.chats_of_member, user_id):
        if await conn.fetchval(Q.lock_chat, r["chat_id"]) is None:
            continue
        role = await conn.fetchval(Q.member_role, r["chat_id"], user_id)
        if role is not None:
            published += await _leave_locked(conn, r["chat_id"], user_id, role)
    return published


async def mark_read_batch(db: Database, publisher: Publisher, requests: Sequence[ReadRequest]) -> list[ReadResult]:
    """Move read markers forward, a whole batch in one call and one commit, then tell each
    chat's members of every marker that moved (`read` frames; not the socket it came from).

    Each request is judged on its own, as if alone: 404 for non-members, 422 for a seq beyond
    the chat's last one; the others' markers move regardless. Markers never go backwards, and
    several requests of one (user, chat) move it once, to the highest of their seqs, with one
    `read` frame. The WebSocket `read` frame and REST both come through here (the realtime
    core's read-marker batcher gathers them).
    """
    results: list[ReadResult] = [None] * len(requests)
    valid: list[int] = []
    for i, request in enumerate(requests):
        if not 0 <= request.seq <= MAX_ID:
            results[i] = Unprocessable("seq must be between 0 and the chat's last seq", code="invalid_seq")
        elif not 0 < request.chat_id <= MAX_ID:
            results[i] = NotFound("Chat not found")
        else:
            valid.append(i)
    if not valid:
        return results
    records = await _mark_read_rows(db, [requests[i] for i in valid])
    # Per (chat, user) whose marker moved: the seq it moved to and the socket of the request
    # that took it there (the highest seq; the first of equals).
    moved: dict[tuple[int, int], tuple[int, object]] = {}
    for i, (last_seq, new_seq) in zip(valid, records, strict=True):
        request = requests[i]
        if last_seq is None:
            results[i] = NotFound("Chat not found")
        elif request.seq > last_seq:
            results[i] = Unprocessable("seq is beyond the chat's last message", code="invalid_seq")
        elif new_seq is not None and request.seq == new_seq:
            moved.setdefault((request.chat_id, request.user_id), (new_seq, request.origin))
    for (chat_id, user_id), (seq, origin) in moved.items():
        await publisher.publish_read(chat_id, user_id, seq, origin=origin)
    return results


async def _mark_read_rows(db: Database, requests: Sequence[ReadRequest]) -> list[tuple[int | None, int | None]]:
    """(last_seq, new_seq) per request, as sql/chats.sql's `mark_read_batch` says. A batch of
    one takes the cheaper one-row statement. A larger one runs again when PostgreSQL picks it as
    a deadlock victim (it locks in (chat, user) order, a concurrent send batch moves its senders'
    markers in none), which is safe since a marker only moves forward."""
    if len(requests) == 1:
        # One row locked: no deadlock to fear.
        (one,) = requests
        record = await db.fetchrow(Q.mark_read, one.chat_id, one.user_id, one.seq)
        return [(record["last_seq"], record["new_seq"]) if record is not None else (None, None)]
    args = ([r.chat_id for r in requests], [r.user_id for r in requests], [r.seq for r in requests])
    tries = 1
    while True:
        try:
            return [(r["last_seq"], r["new_seq"]) for r in await db.fetch(Q.mark_read_batch, *args)]
        except asyncpg.DeadlockDetectedError:
            if tries == READ_DEADLOCK_TRIES:
                raise
            tries += 1
