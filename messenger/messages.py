"""Messages: batched sending (REST and the WebSocket group-commit writer), pages, edits, deletes.

`send_batch` is the one write path for new messages. A batch commits as one: the chat rows
locked in id order (which is what makes per-chat `seq` gap-free and idempotency race-free),
set-based validation, one INSERT for every message, the event append last, and the hub
publish only after commit. Without attachments that is one statement (`send_messages`, see
sql/schema/0012_send_batch.sql; for a batch of one, `send_message`, 0018); with them, a
transaction of several. Each request gets its
own result, so one bad request never fails the others.

Layer: domain. Writers take `db`, a `Publisher` (after-commit fan-out) and `Jobs` (the
notification job); they never see the realtime core.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

import asyncpg
import msgspec

from . import events, forwarding, media, notifications, redaction, searchtext
from .db import Connection, Database, Q
from .errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from .model import (
    Forward,
    MediaOut,
    Message,
    MessageBody,
    MessageDeletedBody,
    PinsChangedBody,
    ReplyPreview,
)
from .ports import Jobs, Publisher
from .rendering import NOBODY as NOBODY
from .rendering import message_from as message_from
from .rendering import rendered as rendered
from .rendering import rendered_from as rendered_from
from .rendering import shared_view as shared_view
from .rendering import with_attachments as with_attachments

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


_encoder = msgspec.json.Encoder()


class SendRequest(msgspec.Struct, frozen=True):
    sender_id: int
    chat_id: int
    client_msg_id: str
    text: str | None = None
    reply_to_id: int | None = None
    attachment_ids: Sequence[int] = ()
    forward: Forward | None = None


class Sent(msgspec.Struct, frozen=True):
    """A successful send: `created` is False when the idempotency key matched an earlier send."""

    message: Message
    created: bool


# Per request: the message, or the error for that request alone.
SendResult: TypeAlias = Sent | AppError


class MessagePage(msgspec.Struct, frozen=True):
    messages: list[Message]
    has_more: bool


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
    if req.forward is not None:
        if req.text is not None or req.attachment_ids:
            raise Unprocessable("A forward carries no text or attachment_ids of its own", code="invalid_forward")
        return
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
    db: Database,
    publisher: Publisher,
    jobs: Jobs,
    requests: Sequence[SendRequest],
    *,
    after_acks: list[Awaitable[None]] | None = None,
) -> list[SendResult]:
    """Send many messages in one transaction; results in request order, one per request.

    Duplicates of one (chat, sender, client_msg_id) in a batch, or of an earlier send, yield the
    same message (`created` False for all but the first). Publishes to the hub after commit.
    The notification job is enqueued only for messages that someone could be notified of (see
    `_send_plain`). With `after_acks` the publish and then the enqueue are left there, in that
    order, for the caller to await once it has handed out the results (the group-commit
    writer: after the acks); without it (REST) both are awaited here, before returning.
    """
    results: list[SendResult | None] = [None] * len(requests)
    for i, req in enumerate(requests):
        try:
            _check_request(req)
        except AppError as exc:
            results[i] = exc
    pending = [i for i, r in enumerate(results) if r is None]
    published: list[events.Event] | None = None
    # Messages someone could be notified of; None: every created message (the locked path).
    notify: list[int] | None = None
    if pending and not any(requests[i].attachment_ids for i in pending):
        plain = await _send_plain(db, requests, results, pending)
        if plain is not None:
            published, notify = plain
    if pending and published is None:
        async with db.transaction() as conn:
            published = await _send_locked(conn, requests, results, pending)
    if published:
        if after_acks is None:
            await publisher.publish(published)
        else:
            # Committed, so the acks may go first: the fan-out (and the notification job
            # below) runs once the caller has handed them out, not inside their latency.
            after_acks.append(publisher.publish(published))
        if notify is None:
            notify = [r.message.id for r in results if isinstance(r, Sent) and r.created]
        if notify:
            # One notification job for the whole batch, after commit.
            enqueue = notifications.after_send(jobs, notify)
            if after_acks is None:
                await enqueue
            else:
                after_acks.append(enqueue)
    out: list[SendResult] = []
    for r in results:
        assert r is not None
        out.append(r)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID_AT = b'{"message":{"id":'
_SEQ_AT = b',"seq":'
_CREATED_AT = b',"created_at":"'
_EPOCH_JSON = b"1970-01-01T00:00:00Z"


def _payload_pieces(message: Message) -> tuple[bytes, bytes, bytes, bytes]:
    """The receive_message payload of a message not inserted yet, cut where the database puts
    its id, seq and created_at (sql/schema/0012_send_batch.sql splices them in).

    `message` carries id 0, seq 0 and created_at at the epoch. The cuts are found by key: a JSON
    string never holds an unescaped quote, so `,"seq":` and `,"created_at":"` can only be keys,
    and the message's own come first (strings and lists precede them; nested objects follow)."""
    body = _encoder.encode(MessageBody(shared_view(message)))
    if not body.startswith(_ID_AT + b"0,"):
        raise AssertionError("receive_message payload does not start with the message id")
    after_id_start = len(_ID_AT) + 1
    seq_at = body.index(_SEQ_AT + b"0,", after_id_start) + len(_SEQ_AT)
    created_at = body.index(_CREATED_AT + _EPOCH_JSON + b'"', seq_at) + len(_CREATED_AT)
    return (
        _ID_AT,
        body[after_id_start:seq_at],
        body[seq_at + 1 : created_at],
        body[created_at + len(_EPOCH_JSON) :],
    )


async def _send_plain(
    db: Database, requests: Sequence[SendRequest], results: list[SendResult | None], pending: list[int]
) -> tuple[list[events.Event], list[int]] | None:
    """A batch without attachments in one statement (`send_messages`, migrations 0012 and
    0015; `send_message` for a batch of one, 0018), which commits on its own: one round trip
    for the whole batch instead of a transaction of seven. Returns the events to publish and
    the ids of the created messages that someone could be notified of (the function tells: a
    mention, a direct chat, or a member who asked for every message), so a batch nobody can be
    notified of enqueues no job.

    Reply targets, forwards and mentions are read first, as `_send_locked` does before it takes
    the locks. Returns None, having changed nothing, when a forward would copy attachments: those
    take the transaction (`_send_locked`), where the media rows are share-locked until commit."""
    async with db.connection() as conn:
        reply_ids = sorted({rid for i in pending if (rid := requests[i].reply_to_id) is not None})
        replies: dict[int, asyncpg.Record] = {}
        if reply_ids:
            replies = {r["id"]: r for r in await conn.fetch(Q.reply_targets, reply_ids)}
        copies = await forwarding.resolve(
            conn, [(i, requests[i].sender_id, fwd) for i in pending if (fwd := requests[i].forward) is not None]
        )
        if any(isinstance(c, forwarding.Copy) and c.attachments for c in copies.values()):
            return None
        resolved = await _resolve_mentions(conn, [(requests[i].chat_id, requests[i].text) for i in pending])

        drafts: list[Message | AppError] = []
        for i, mentioned in zip(pending, resolved, strict=True):
            req = requests[i]
            copy = copies.get(i)
            if isinstance(copy, AppError):
                drafts.append(copy)
            elif req.reply_to_id is not None and (
                req.reply_to_id not in replies or replies[req.reply_to_id]["chat_id"] != req.chat_id
            ):
                drafts.append(Unprocessable("reply_to_id is not a message of this chat", code="invalid_reply"))
            else:
                message = Message(
                    0, req.chat_id, 0, req.sender_id, req.client_msg_id, _text_of(req, copy), req.reply_to_id,
                    [], mentioned, _EPOCH, None, False,
                )  # fmt: skip
                drafts.append(_decorated(message, replies, copy))
        pieces = [_payload_pieces(d) if isinstance(d, Message) else (b"", b"", b"", b"") for d in drafts]
        mentions = [d.mentions if isinstance(d, Message) else [] for d in drafts]
        columns: list[Sequence[object]] = [
            [requests[i].chat_id for i in pending],
            [requests[i].sender_id for i in pending],
            [requests[i].client_msg_id for i in pending],
            [d.text if isinstance(d, Message) else None for d in drafts],
            [requests[i].reply_to_id for i in pending],
            [isinstance(d, AppError) for d in drafts],
            list(mentions),
            [searchtext.index_vector(d.text) if isinstance(d, Message) else None for d in drafts],
            *forwarding.origin_columns([copies.get(i) for i in pending]),
            [p[0] for p in pieces],
            [p[1] for p in pieces],
            [p[2] for p in pieces],
            [p[3] for p in pieces],
        ]
        if len(pending) == 1:
            # A batch of one (most batches at low rates): the same steps, as scalars (0018).
            record = await conn.fetchrow(Q.send_message, *(column[0] for column in columns))
            assert record is not None
            records = [record]
        else:
            # Arrays cannot nest ragged: each message's mentions travel as an array literal.
            columns[6] = [_pg_array(m) for m in mentions]
            records = await conn.fetch(Q.send_messages, *columns)

        published: list[events.Event] = []
        notify: list[int] = []
        created: dict[tuple[int, int, str], Message] = {}
        existing: dict[int, int] = {}
        repeats: list[int] = []
        for record, i, draft in zip(records, pending, drafts, strict=True):
            req = requests[i]
            outcome = record["outcome"]
            if outcome == "created":
                assert isinstance(draft, Message)
                message = msgspec.structs.replace(
                    draft, id=record["id"], seq=record["seq"], created_at=record["created_at"]
                )
                created[(req.chat_id, req.sender_id, req.client_msg_id)] = message
                results[i] = Sent(message, created=True)
                published.append(events.Event(record["pos"], req.chat_id, events.RECEIVE_MESSAGE, record["payload"]))
                if record["notify"]:
                    notify.append(record["id"])
            elif outcome == "repeat":
                repeats.append(i)
            elif outcome == "existing":
                existing[i] = record["id"]
            elif outcome == "not_found":
                results[i] = NotFound("Chat not found")
            elif outcome == "read_only_channel":
                results[i] = Forbidden("Only the owner and admins post in a channel", code="read_only_channel")
            else:
                assert outcome == "checked" and isinstance(draft, AppError)
                results[i] = draft
        for i in repeats:
            req = requests[i]
            results[i] = Sent(created[(req.chat_id, req.sender_id, req.client_msg_id)], created=False)
        if existing:
            # Retries of earlier sends (committed before ours): rendered for their senders.
            keys = [(requests[i].chat_id, requests[i].sender_id, requests[i].client_msg_id) for i in existing]
            records = await conn.fetch(
                Q.messages_by_keys, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
            )
            found = {
                (m.chat_id, m.sender_id, m.client_msg_id): m
                for m in await with_attachments(conn, [rendered_from(r) for r in records])
            }
            for i, key in zip(existing, keys, strict=True):
                results[i] = Sent(found[key], created=False)
    return published, notify


async def _send_locked(
    conn: Connection, requests: Sequence[SendRequest], results: list[SendResult | None], pending: list[int]
) -> list[events.Event]:
    # Reply targets and mentions do not need the chat locks (a message never changes chats),
    # so they are resolved before taking them, keeping the locked section short.
    reply_ids = sorted({rid for i in pending if (rid := requests[i].reply_to_id) is not None})
    replies: dict[int, asyncpg.Record] = {}
    if reply_ids:
        replies = {r["id"]: r for r in await conn.fetch(Q.reply_targets, reply_ids)}
    copies = await forwarding.resolve(
        conn, [(i, requests[i].sender_id, fwd) for i in pending if (fwd := requests[i].forward) is not None]
    )
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
        for msg in await with_attachments(conn, [rendered_from(r) for r in records]):
            existing[(msg.chat_id, msg.sender_id, msg.client_msg_id)] = msg
    for i in pending:
        req = requests[i]
        found = existing.get((req.chat_id, req.sender_id, req.client_msg_id))
        if found is not None:
            results[i] = Sent(found, created=False)
        elif chats[req.chat_id]["kind"] == "channel" and roles[(req.chat_id, req.sender_id)] == "member":
            results[i] = Forbidden("Only the owner and admins post in a channel", code="read_only_channel")
        elif req.reply_to_id is not None and (
            req.reply_to_id not in replies or replies[req.reply_to_id]["chat_id"] != req.chat_id
        ):
            results[i] = Unprocessable("reply_to_id is not a message of this chat", code="invalid_reply")
        elif isinstance(copy := copies.get(i), AppError):
            results[i] = copy
    pending = [i for i in pending if results[i] is None]

    # MediaOuts: one set-based check for the whole batch (ready media of each sender).
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
    # A forwarded copy carries the original's attachments: linking them to the copy is what
    # lets the target chat's members download them (the media ACL follows message links).
    for i in pending:
        copy = copies.get(i)
        if isinstance(copy, forwarding.Copy) and copy.attachments:
            attached[i] = copy.attachments

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
        [_text_of(requests[i], copies.get(i)) for i in creating],
        [requests[i].reply_to_id for i in creating],
        [_pg_array(mentions[i]) for i in creating],
        bumped,
        [last_seq[c] for c in bumped],
        [k[0] for k in marker_keys],
        [k[1] for k in marker_keys],
        [markers[k] for k in marker_keys],
        *forwarding.origin_columns([copies.get(i) for i in creating]),
        [searchtext.index_vector(_text_of(requests[i], copies.get(i))) for i in creating],
    )
    inserted = {(r["chat_id"], r["seq"]): message_from(r) for r in records}
    messages = [
        _decorated(inserted[(requests[i].chat_id, seq)], replies, copies.get(i))
        for i, seq in zip(creating, seqs, strict=True)
    ]
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
    drafts = [
        events.Draft(m.chat_id, events.RECEIVE_MESSAGE, MessageBody(shared_view(m)), message_id=m.id) for m in messages
    ]
    return await events.append(conn, drafts)


def _text_of(request: SendRequest, copy: forwarding.Copy | AppError | None) -> str | None:
    return copy.text if isinstance(copy, forwarding.Copy) else request.text


def _decorated(
    message: Message, replies: dict[int, asyncpg.Record], copy: forwarding.Copy | AppError | None
) -> Message:
    """A new message with its reply preview and forwarded origin (no reactions or pin yet)."""
    reply_to = None
    if message.reply_to_id is not None:
        r = replies[message.reply_to_id]
        reply_to = ReplyPreview(r["id"], r["seq"], r["sender_id"], r["text"], r["deleted"], r["files"])
    origin = copy.origin if isinstance(copy, forwarding.Copy) else None
    if reply_to is None and origin is None:
        return message
    return msgspec.structs.replace(message, reply_to=reply_to, forwarded_from=origin)


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
    says older ones exist). `after`: the page just above it (has_more says newer ones exist).
    Reply previews, reactions (with `me`), pins and forwarded origins come in the page query."""
    await _role(db, chat_id, user_id)
    if after is not None:
        upper = before if before is not None else _SEQ_MAX
        records = await db.fetch(Q.messages_after, chat_id, after, upper, limit + 1, user_id)
        has_more = len(records) > limit
        return MessagePage(await with_attachments(db, [rendered_from(r) for r in records[:limit]]), has_more)
    upper = before if before is not None else _SEQ_MAX
    records = await db.fetch(Q.messages_before, chat_id, upper, 0, limit + 1, user_id)
    has_more = len(records) > limit
    return MessagePage(await with_attachments(db, [rendered_from(r) for r in reversed(records[:limit])]), has_more)


async def after_change(conn: Connection, message_id: int, *, revised_pos: int | None = None) -> None:
    """A message was edited or deleted: its stored events and those of replies quoting it are
    re-rendered (deletion is final). After the append; `revised_pos`: the edit's position, so
    readers who left before it get the message, and the replies' quotes of it, redacted."""
    await rerender_events(conn, [message_id], revised_pos=revised_pos)
    replies = [r["id"] for r in await conn.fetch(Q.replies_of, message_id)]
    await rerender_events(conn, replies, revised_pos=revised_pos, quoting=True)


async def rerender_events(
    conn: Connection, message_ids: Sequence[int], *, revised_pos: int | None = None, quoting: bool = False
) -> None:
    """Re-render the stored events of these message ids from their current rows."""
    if message_ids:
        current = {i: shared_view(m) for i, m in (await rendered(conn, message_ids, NOBODY)).items()}
        await redaction.rewrite(conn, current, revised_pos=revised_pos, quoting=quoting)


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
        await conn.execute(Q.edit_message, message_id, text, mentions, searchtext.index_vector(text))
        edited = (await rendered(conn, [message_id], user_id))[message_id]
        body = MessageBody(shared_view(edited))
        draft = events.Draft(chat_id, events.MESSAGE_EDITED, body, message_id=message_id)
        published = await events.append(conn, [draft])
        # After the append: readers who left before this edit's position get it redacted.
        await after_change(conn, message_id, revised_pos=published[0].pos)
    await publisher.publish(published)
    # Notify the members the edit newly mentions.
    await notifications.after_edit(jobs, edited.id, [u for u in edited.mentions if u not in current.mentions])
    return edited


async def delete(
    db: Database, publisher: Publisher, user_id: int, chat_id: int, message_id: int, *, moderator: bool = False
) -> None:
    """Tombstone: seq stays, text/mentions go. Deleting a tombstone again changes nothing.

    `moderator`: a server admin, who may delete in any chat as its owner would (no membership).
    """
    async with db.transaction() as conn:
        role = "owner" if moderator else await _role(conn, chat_id, user_id)
        record = await conn.fetchrow(Q.lock_message, message_id, chat_id)
        if record is None:
            raise NotFound("Message not found")
        current = message_from(record)
        if current.sender_id != user_id and role not in ("owner", "admin"):
            raise Forbidden("Only the sender or the chat's owner and admins may delete a message")
        if current.deleted:
            return
        was_pinned = await conn.fetchval(Q.tombstone_message, message_id)
        drafts = [events.Draft(chat_id, events.MESSAGE_DELETED, MessageDeletedBody(chat_id, message_id, current.seq))]
        if was_pinned:
            unpinned = PinsChangedBody(chat_id, message_id, False, user_id)
            drafts.append(events.Draft(chat_id, events.PINS_CHANGED, unpinned))
        published = await events.append(conn, drafts)
        await after_change(conn, message_id)
    await publisher.publish(published)
