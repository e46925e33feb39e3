"""Messages: batched sending (REST and the WebSocket group-commit writer), pages, edits, deletes.

Layer: domain. Writers take `db`, a `Publisher` (after-commit fan-out) and `Jobs` (the
notification job); they never see the realtime core.

`send_batch` is the one write path for new messages. A batch is one transaction: set-based
validation, the chat rows locked in id order (which is what makes per-chat `seq` gap-free and
idempotency race-free), one INSERT for every message, the event append last, and the hub
publish only after commit. Each request gets its own result, so one bad request never fails
the others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

import asyncpg
import msgspec

from . import events, media, notifications
from .db import Connection, Database, Q
from .errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from .model import MediaOut, Message, MessageBody, MessageDeletedBody
from .ports import Jobs, Publisher

# Ids and seqs are PostgreSQL bigints; anything larger cannot name a row.
MAX_ID = 2**63 - 1
MAX_TEXT = 4096
MAX_CLIENT_MSG_ID = 64
PAGE_DEFAULT = 50
PAGE_MAX = 100
# Seqs are bigint; this bounds "no upper limit" in the keyset queries.
_SEQ_MAX = 2**62

# `@name` in the username alphabet, not inside a word or an email address ("@bob." and
# "@bob-smith" mention bob; "bob@example.com" mentions nobody).
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.]*)")


class SendRequest(msgspec.Struct, frozen=True):
    sender_id: int
    chat_id: int
    client_msg_id: str
    text: str | None = None
    reply_to_id: int | None = None
    attachment_ids: Sequence[int] = ()


class Sent(msgspec.Struct, frozen=True):
    """A successful send: `created` is False when the idempotency key matched an earlier send."""

    message: Message
    created: bool


# Per request: the message, or the error for that request alone.
SendResult: TypeAlias = Sent | AppError


class MessagePage(msgspec.Struct, frozen=True):
    messages: list[Message]
    has_more: bool


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


def check_text(text: str | None, *, has_attachments: bool) -> None:
    """Text is stored byte for byte; PostgreSQL text cannot hold NUL, so NUL is refused."""
    if text is None or text == "":
        if not has_attachments:
            raise Unprocessable("A message needs text or an attachment", code="empty_message")
        return
    if len(text) > MAX_TEXT:
        raise Unprocessable(f"Text is longer than {MAX_TEXT} characters", code="text_too_long")
    if "\x00" in text:
        raise Unprocessable("Text must not contain NUL characters", code="invalid_text")


def _check_request(req: SendRequest) -> None:
    if not 1 <= len(req.client_msg_id) <= MAX_CLIENT_MSG_ID or "\x00" in req.client_msg_id:
        raise Unprocessable(
            f"client_msg_id must be 1 to {MAX_CLIENT_MSG_ID} characters without NUL", code="invalid_client_msg_id"
        )
    media.check_attachment_ids(req.attachment_ids)
    check_text(req.text, has_attachments=bool(req.attachment_ids))


def mention_candidates(text: str | None) -> list[str]:
    """Lower-cased usernames `@mentioned` in text, first appearance first, without repeats."""
    if not text or "@" not in text:
        return []
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        name = match.group(1).lower()
        seen.setdefault(name, None)
        trimmed = name.rstrip(".")
        if trimmed and trimmed != name:
            seen.setdefault(trimmed, None)
    return list(seen)


def _pg_array(values: Sequence[int]) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


async def _resolve_mentions(conn: Connection, wanted: Sequence[tuple[int, str | None]]) -> list[list[int]]:
    """For each (chat_id, text): the ids of current members mentioned, in order of appearance."""
    per_item = [mention_candidates(text) for _, text in wanted]
    chat_ids: list[int] = []
    names: list[str] = []
    pairs: set[tuple[int, str]] = set()
    for (chat_id, _), candidates in zip(wanted, per_item, strict=True):
        for name in candidates:
            if (chat_id, name) not in pairs:
                pairs.add((chat_id, name))
                chat_ids.append(chat_id)
                names.append(name)
    if not chat_ids:
        return [[] for _ in wanted]
    found = {(r["chat_id"], r["name"]): r["user_id"] for r in await conn.fetch(Q.mentioned_members, chat_ids, names)}
    result = []
    for (chat_id, _), candidates in zip(wanted, per_item, strict=True):
        ids: dict[int, None] = {}
        for name in candidates:
            uid = found.get((chat_id, name))
            if uid is not None:
                ids.setdefault(uid, None)
        result.append(list(ids))
    return result


async def send_batch(
    db: Database, publisher: Publisher, jobs: Jobs, requests: Sequence[SendRequest]
) -> list[SendResult]:
    """Send many messages in one transaction; results in request order, one per request.

    Duplicates of one (chat, sender, client_msg_id) in a batch, or of an earlier send, yield the
    same message (`created` False for all but the first). Publishes to the hub after commit.
    """
    results: list[SendResult | None] = [None] * len(requests)
    for i, req in enumerate(requests):
        try:
            _check_request(req)
        except AppError as exc:
            results[i] = exc
    pending = [i for i, r in enumerate(results) if r is None]
    published: list[events.Event] = []
    if pending:
        async with db.transaction() as conn:
            published = await _send_locked(conn, requests, results, pending)
    if published:
        await publisher.publish(published)
        # One notification job for the whole batch, after commit.
        await notifications.after_send(jobs, [r.message.id for r in results if isinstance(r, Sent) and r.created])
    out: list[SendResult] = []
    for r in results:
        assert r is not None
        out.append(r)
    return out


async def _send_locked(
    conn: Connection, requests: Sequence[SendRequest], results: list[SendResult | None], pending: list[int]
) -> list[events.Event]:
    # Reply targets and mentions do not need the chat locks (a message never changes chats),
    # so they are resolved before taking them, keeping the locked section short.
    reply_ids = sorted({rid for i in pending if (rid := requests[i].reply_to_id) is not None})
    reply_chat: dict[int, int] = {}
    if reply_ids:
        reply_chat = {r["id"]: r["chat_id"] for r in await conn.fetch(Q.message_chats, reply_ids)}
    resolved = await _resolve_mentions(conn, [(requests[i].chat_id, requests[i].text) for i in pending])
    mentions = dict(zip(pending, resolved, strict=True))

    chat_ids = sorted({requests[i].chat_id for i in pending})
    chats = {r["id"]: r for r in await conn.fetch(Q.lock_chats, chat_ids)}

    pairs = sorted({(requests[i].chat_id, requests[i].sender_id) for i in pending if requests[i].chat_id in chats})
    roles: dict[tuple[int, int], str] = {}
    if pairs:
        records = await conn.fetch(Q.member_roles_for, [p[0] for p in pairs], [p[1] for p in pairs])
        roles = {(r["chat_id"], r["user_id"]): r["role"] for r in records}
    for i in pending:
        req = requests[i]
        if (req.chat_id, req.sender_id) not in roles:
            results[i] = NotFound("Chat not found")
    pending = [i for i in pending if results[i] is None]

    # Idempotency, checked under the chat lock: a concurrent retry of the same key waits for
    # our commit and then finds the row here.
    keys = sorted({(requests[i].chat_id, requests[i].sender_id, requests[i].client_msg_id) for i in pending})
    existing: dict[tuple[int, int, str], Message] = {}
    if keys:
        records = await conn.fetch(Q.messages_by_keys, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])
        for msg in await with_attachments(conn, [message_from(r) for r in records]):
            existing[(msg.chat_id, msg.sender_id, msg.client_msg_id)] = msg
    for i in pending:
        req = requests[i]
        found = existing.get((req.chat_id, req.sender_id, req.client_msg_id))
        if found is not None:
            results[i] = Sent(found, created=False)
        elif chats[req.chat_id]["kind"] == "channel" and roles[(req.chat_id, req.sender_id)] == "member":
            results[i] = Forbidden("Only the owner and admins post in a channel", code="read_only_channel")
        elif req.reply_to_id is not None and reply_chat.get(req.reply_to_id) != req.chat_id:
            results[i] = Unprocessable("reply_to_id is not a message of this chat", code="invalid_reply")
    pending = [i for i in pending if results[i] is None]

    # Attachments: one set-based check for the whole batch (ready media of each sender).
    attached: dict[int, list[MediaOut]] = {}
    with_files = [i for i in pending if requests[i].attachment_ids]
    if with_files:
        wanted = [(requests[i].sender_id, requests[i].attachment_ids) for i in with_files]
        for i, outcome in zip(with_files, await media.attachable_batch(conn, wanted), strict=True):
            if isinstance(outcome, AppError):
                results[i] = outcome
            else:
                attached[i] = outcome
        pending = [i for i in pending if results[i] is None]

    # Within the batch the first valid request of a key creates the message; repeats share it.
    first_of: dict[tuple[int, int, str], int] = {}
    creating: list[int] = []
    repeats: list[tuple[int, int]] = []
    for i in pending:
        req = requests[i]
        key = (req.chat_id, req.sender_id, req.client_msg_id)
        if key in first_of:
            repeats.append((i, first_of[key]))
        else:
            first_of[key] = i
            creating.append(i)
    if not creating:
        return []

    last_seq = {cid: chats[cid]["last_seq"] for cid in chats}
    seqs = []
    for i in creating:
        cid = requests[i].chat_id
        last_seq[cid] += 1
        seqs.append(last_seq[cid])
    bumped = sorted({requests[i].chat_id for i in creating})
    # A sender has read everything up to their own latest message.
    markers: dict[tuple[int, int], int] = {}
    for i, seq in zip(creating, seqs, strict=True):
        pair = (requests[i].chat_id, requests[i].sender_id)
        markers[pair] = max(seq, markers.get(pair, 0))
    marker_keys = sorted(markers)
    records = await conn.fetch(
        Q.insert_messages,
        [requests[i].chat_id for i in creating],
        seqs,
        [requests[i].sender_id for i in creating],
        [requests[i].client_msg_id for i in creating],
        [requests[i].text for i in creating],
        [requests[i].reply_to_id for i in creating],
        [_pg_array(mentions[i]) for i in creating],
        bumped,
        [last_seq[c] for c in bumped],
        [k[0] for k in marker_keys],
        [k[1] for k in marker_keys],
        [markers[k] for k in marker_keys],
    )
    inserted = {(r["chat_id"], r["seq"]): message_from(r) for r in records}
    messages = [inserted[(requests[i].chat_id, seq)] for i, seq in zip(creating, seqs, strict=True)]
    if attached:
        messages = [
            msgspec.structs.replace(m, attachments=attached[i]) if i in attached else m
            for i, m in zip(creating, messages, strict=True)
        ]
        await media.attach(conn, [media.Link(m.id, [a.id for a in m.attachments]) for m in messages if m.attachments])
    for i, msg in zip(creating, messages, strict=True):
        results[i] = Sent(msg, created=True)
    for i, first in repeats:
        first_result = results[first]
        assert isinstance(first_result, Sent)
        results[i] = Sent(first_result.message, created=False)
    drafts = [events.Draft(m.chat_id, events.RECEIVE_MESSAGE, MessageBody(m)) for m in messages]
    return await events.append(conn, drafts)


async def with_attachments(conn: Database | Connection, messages: list[Message]) -> list[Message]:
    """The messages with their attachments filled in (one query for all of them)."""
    files = await media.for_messages(conn, [m.id for m in messages if not m.deleted])
    if not files:
        return messages
    return [msgspec.structs.replace(m, attachments=files[m.id]) if m.id in files else m for m in messages]


async def send(db: Database, publisher: Publisher, jobs: Jobs, request: SendRequest) -> Sent:
    """One message (REST): raises the request's error instead of returning it."""
    (result,) = await send_batch(db, publisher, jobs, [request])
    if isinstance(result, AppError):
        raise result
    return result


async def _role(db_or_conn: Database | Connection, chat_id: int, user_id: int) -> str:
    """The caller's role in the chat; 404 for non-members (the chat is invisible to them)."""
    role: str | None = await db_or_conn.fetchval(Q.member_role, chat_id, user_id)
    if role is None:
        raise NotFound("Chat not found")
    return role


async def page(
    db: Database, user_id: int, chat_id: int, *, before: int | None, after: int | None, limit: int
) -> MessagePage:
    """Ascending by seq. No bound: the newest page. `before`: the page just below it (has_more
    says older ones exist). `after`: the page just above it (has_more says newer ones exist)."""
    await _role(db, chat_id, user_id)
    if after is not None:
        upper = before if before is not None else _SEQ_MAX
        records = await db.fetch(Q.messages_after, chat_id, after, upper, limit + 1)
        has_more = len(records) > limit
        return MessagePage(await with_attachments(db, [message_from(r) for r in records[:limit]]), has_more)
    if before is not None:
        records = await db.fetch(Q.messages_before, chat_id, before, 0, limit + 1)
    else:
        records = await db.fetch(Q.messages_latest, chat_id, limit + 1)
    has_more = len(records) > limit
    return MessagePage(await with_attachments(db, [message_from(r) for r in reversed(records[:limit])]), has_more)


async def edit(
    db: Database, publisher: Publisher, jobs: Jobs, user_id: int, chat_id: int, message_id: int, text: str
) -> Message:
    check_text(text, has_attachments=False)
    async with db.transaction() as conn:
        await _role(conn, chat_id, user_id)
        record = await conn.fetchrow(Q.lock_message, message_id, chat_id)
        if record is None:
            raise NotFound("Message not found")
        current = message_from(record)
        if current.sender_id != user_id:
            raise Forbidden("Only the sender may edit a message")
        if current.deleted:
            raise Conflict("The message is deleted", code="message_deleted")
        (mentions,) = await _resolve_mentions(conn, [(chat_id, text)])
        updated = await conn.fetchrow(Q.edit_message, message_id, text, mentions)
        assert updated is not None  # the row is locked above
        (edited,) = await with_attachments(conn, [message_from(updated)])
        published = await events.append(conn, [events.Draft(chat_id, events.MESSAGE_EDITED, MessageBody(edited))])
    await publisher.publish(published)
    # Notify the members the edit newly mentions.
    await notifications.after_edit(jobs, edited.id, [u for u in edited.mentions if u not in current.mentions])
    return edited


async def delete(db: Database, publisher: Publisher, user_id: int, chat_id: int, message_id: int) -> None:
    """Tombstone: seq stays, text/mentions go. Deleting a tombstone again changes nothing."""
    async with db.transaction() as conn:
        role = await _role(conn, chat_id, user_id)
        record = await conn.fetchrow(Q.lock_message, message_id, chat_id)
        if record is None:
            raise NotFound("Message not found")
        current = message_from(record)
        if current.sender_id != user_id and role not in ("owner", "admin"):
            raise Forbidden("Only the sender or the chat's owner and admins may delete a message")
        if current.deleted:
            return
        await conn.execute(Q.tombstone_message, message_id)
        body = MessageDeletedBody(chat_id, message_id, current.seq)
        published = await events.append(conn, [events.Draft(chat_id, events.MESSAGE_DELETED, body)])
    await publisher.publish(published)
