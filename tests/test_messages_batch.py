"""`messages.send_batch`, the group-commit entry point, called in-process against the test database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence

import asyncpg
import httpx
import msgspec
import pytest

from messenger import jobs, messages
from messenger.db import Database
from messenger.errors import AppError
from messenger.events import Event
from messenger.messages import SendRequest, Sent
from messenger.model import MessageBody
from messenger.realtime.writer import GroupCommitWriter
from messenger.services import Services
from messenger.settings import Settings

from .chat_factories import new_chat, send
from .factories import make_user
from .rig import SECRET_KEY


class RecordingHub:
    """Stands in for the realtime hub (not storage): records what writers publish after commit."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)


class RecordingJobs:
    """Stands in for the job queue (not storage): records what is enqueued."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, tuple[object, ...]]] = []

    async def enqueue(self, function: str, *args: object, job_id: str | None = None) -> None:
        self.enqueued.append((function, args))

    async def depth(self) -> int | None:
        return len(self.enqueued)


@pytest.fixture
async def services(database: str) -> AsyncIterator[Services]:
    db = await Database.connect(database, min_size=1, max_size=8)
    svc = Services(Settings(database_url=database, secret_key=SECRET_KEY), db, None)
    svc.hub = RecordingHub()
    # No job functions: the notification job after each batch fails to enqueue and is logged.
    svc.jobs = jobs.InProcessJobs([])
    try:
        yield svc
    finally:
        await db.close()


async def test_mixed_batch_gives_each_request_its_own_result(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a, b = await make_user(db), await make_user(db)
    group = (await new_chat(client, a, "group", b))["id"]
    channel = (await new_chat(client, a, "channel", b))["id"]
    foreign = (await new_chat(client, b, "group"))["id"]
    elsewhere = await send(client, a, channel, "earlier")
    reqs = [
        SendRequest(a.id, group, "k1", "one"),
        SendRequest(b.id, group, "k2", f"two @{a.username}"),
        SendRequest(a.id, group, "k1", "one again"),
        SendRequest(b.id, channel, "k3", "members cannot post"),
        SendRequest(a.id, foreign, "k4", "not a member"),
        SendRequest(a.id, group, "k5", ""),
        SendRequest(a.id, channel, "k6", "announcement"),
        SendRequest(a.id, group, "k7", "bad reply", reply_to_id=elsewhere["id"]),
        SendRequest(a.id, group, "k8", "with file", attachment_ids=[1]),
        SendRequest(a.id, group, "k9", "nul\x00"),
        SendRequest(a.id, group, "", "no key"),
        SendRequest(b.id, group, "k10", "reply", reply_to_id=None),
    ]
    results = await messages.send_batch(services.db, services.hub, services.jobs, reqs)
    assert len(results) == len(reqs)
    ok = {i: r for i, r in enumerate(results) if isinstance(r, Sent)}
    errors = {i: r.status for i, r in enumerate(results) if isinstance(r, AppError)}
    assert errors == {3: 403, 4: 404, 5: 422, 7: 422, 8: 422, 9: 422, 10: 422}
    assert sorted(ok) == [0, 1, 2, 6, 11]
    assert [ok[i].message.seq for i in (0, 1, 11)] == [1, 2, 3]
    assert (ok[0].created, ok[2].created, ok[2].message, ok[2].message.text) == (True, False, ok[0].message, "one")
    assert ok[1].message.mentions == [a.id]
    assert (ok[6].message.chat_id, ok[6].message.seq) == (channel, 2)
    assert await db.fetchval("SELECT count(*) FROM messages") == 5
    hub = services.hub
    assert isinstance(hub, RecordingHub)
    assert [e.type for e in hub.published] == ["receive_message"] * 4
    assert [e.pos for e in hub.published] == sorted(e.pos for e in hub.published)


async def test_a_batch_leaves_one_job_for_after_the_acks_with_only_the_messages_someone_could_be_notified_of(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a, b = await make_user(db), await make_user(db)
    quiet = (await new_chat(client, a, "group", b))["id"]
    followed = (await new_chat(client, a, "group", b))["id"]
    r = await client.patch(f"/v1/chats/{followed}/settings", json={"notify_all": True}, headers=b.headers)
    assert r.status_code == 200, r.text
    direct = (await new_chat(client, a, "direct", b))["id"]
    reqs = [
        SendRequest(a.id, quiet, "plain", "nobody to notify"),
        SendRequest(a.id, quiet, "mention", f"hello @{b.username}"),
        SendRequest(a.id, followed, "followed", "b asked for every message"),
        SendRequest(a.id, direct, "direct", "the peer is notified"),
    ]
    recording = RecordingJobs()
    after_acks: list[Awaitable[None]] = []
    results = await messages.send_batch(services.db, services.hub, recording, reqs, after_acks=after_acks)
    assert recording.enqueued == []
    for work in after_acks:
        await work
    ids = [r.message.id for r in results if isinstance(r, Sent)]
    assert recording.enqueued == [("notify_messages", (ids[1:],))]


async def test_a_batch_leaves_its_publish_for_after_the_acks_ahead_of_the_notification_job(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a, b = await make_user(db), await make_user(db)
    direct = (await new_chat(client, a, "direct", b))["id"]
    hub = services.hub
    assert isinstance(hub, RecordingHub)
    recording = RecordingJobs()
    after_acks: list[Awaitable[None]] = []
    (result,) = await messages.send_batch(
        services.db, hub, recording, [SendRequest(a.id, direct, "k", "hi")], after_acks=after_acks
    )
    assert isinstance(result, Sent)
    # Committed and answered, nothing fanned out yet.
    assert (hub.published, len(after_acks)) == ([], 2)
    await after_acks[0]
    assert ([e.chat_id for e in hub.published], recording.enqueued) == ([direct], [])
    await after_acks[1]
    assert recording.enqueued == [("notify_messages", ([result.message.id],))]


async def test_the_writer_acks_a_batch_before_publishing_it(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a = await make_user(db)
    group = (await new_chat(client, a, "group"))["id"]
    acked: list[str] = []
    acked_when_published: list[list[str]] = []

    class AckWatchingHub(RecordingHub):
        async def publish(self, events: Sequence[Event]) -> None:
            acked_when_published.append(list(acked))
            await super().publish(events)

    hub = AckWatchingHub()

    async def send_batch(
        requests: Sequence[SendRequest], after_acks: list[Awaitable[None]]
    ) -> list[messages.SendResult]:
        return await messages.send_batch(services.db, hub, services.jobs, requests, after_acks=after_acks)

    writer = GroupCommitWriter(send_batch)
    writer.start()
    for key in ("k1", "k2"):
        writer.submit(SendRequest(a.id, group, key, "x"), lambda result, key=key: acked.append(key))
    await writer.close()
    assert acked_when_published == [["k1", "k2"]]
    assert len(hub.published) == 2


async def test_batch_repeating_an_earlier_send_returns_it_uncreated(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a = await make_user(db)
    chat = (await new_chat(client, a, "group"))["id"]
    first = await send(client, a, chat, "hello", client_msg_id="same")
    (result,) = await messages.send_batch(
        services.db, services.hub, services.jobs, [SendRequest(a.id, chat, "same", "hello")]
    )
    assert isinstance(result, Sent)
    assert (result.created, result.message.id) == (False, first["id"])
    hub = services.hub
    assert isinstance(hub, RecordingHub)
    assert hub.published == []


async def test_two_hundred_requests_across_twenty_chats(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    users = [await make_user(db) for _ in range(5)]
    chats = [(await new_chat(client, users[0], "group", *users[1:]))["id"] for _ in range(20)]
    reqs = [SendRequest(users[i % 5].id, chats[i % 20], f"c{i}", f"message {i}") for i in range(200)]
    results = await messages.send_batch(services.db, services.hub, services.jobs, reqs)
    assert all(isinstance(r, Sent) and r.created for r in results)
    for chat_id in chats:
        seqs = [r.message.seq for r in results if isinstance(r, Sent) and r.message.chat_id == chat_id]
        assert seqs == list(range(1, 11))
    for i, r in enumerate(results):
        assert isinstance(r, Sent)
        assert (r.message.client_msg_id, r.message.text) == (f"c{i}", f"message {i}")
    rows = await db.fetch("SELECT id, last_seq FROM chats")
    assert {r["last_seq"] for r in rows} == {10}


async def test_concurrent_overlapping_batches_stay_gap_free(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    a = await make_user(db)
    chats = [(await new_chat(client, a, "group"))["id"] for _ in range(4)]

    async def batch(n: int) -> list[messages.SendResult]:
        # Each batch names the chats in a different order; locks are still taken in id order.
        order = chats[n % 4 :] + chats[: n % 4]
        return await messages.send_batch(
            services.db, services.hub, services.jobs, [SendRequest(a.id, c, f"b{n}-{c}", "x") for c in order]
        )

    await asyncio.gather(*(batch(n) for n in range(12)))
    for chat_id in chats:
        seqs = [r["seq"] for r in await db.fetch("SELECT seq FROM messages WHERE chat_id = $1 ORDER BY seq", chat_id)]
        assert seqs == list(range(1, 13))


async def test_batch_without_attachments_judges_each_request_in_one_statement(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    # No attachments: the batch goes through send_messages (migration 0012) in one statement.
    a, b = await make_user(db), await make_user(db)
    group = (await new_chat(client, a, "group", b))["id"]
    channel = (await new_chat(client, a, "channel", b))["id"]
    foreign = (await new_chat(client, b, "group"))["id"]
    elsewhere = await send(client, a, channel, "earlier")
    earlier = await send(client, a, group, "sent before", client_msg_id="k0")
    reqs = [
        SendRequest(a.id, group, "k1", "one"),
        SendRequest(b.id, group, "k2", f"two @{a.username}"),
        SendRequest(a.id, group, "k1", "one again"),
        SendRequest(b.id, channel, "k3", "members cannot post"),
        SendRequest(a.id, foreign, "k4", "not a member"),
        SendRequest(a.id, channel, "k6", "announcement"),
        SendRequest(a.id, group, "k7", "bad reply", reply_to_id=elsewhere["id"]),
        SendRequest(a.id, group, "k0", "retry of an earlier send"),
        SendRequest(b.id, group, "k8", "reply", reply_to_id=earlier["id"]),
        SendRequest(a.id, group, "k7", "the key again, now valid"),
    ]
    results = await messages.send_batch(services.db, services.hub, services.jobs, reqs)
    errors = {i: (r.status, r.code) for i, r in enumerate(results) if isinstance(r, AppError)}
    assert errors == {3: (403, "read_only_channel"), 4: (404, "not_found"), 6: (422, "invalid_reply")}
    ok = {i: r for i, r in enumerate(results) if isinstance(r, Sent)}
    assert {i: r.created for i, r in ok.items()} == {0: True, 1: True, 2: False, 5: True, 7: False, 8: True, 9: True}
    assert [ok[i].message.seq for i in (0, 1, 8, 9)] == [2, 3, 4, 5]
    assert ok[2].message == ok[0].message
    assert (ok[7].message.id, ok[7].message.text) == (earlier["id"], "sent before")
    assert ok[1].message.mentions == [a.id]
    assert ok[8].message.reply_to is not None and ok[8].message.reply_to.text == "sent before"
    assert ok[9].message.text == "the key again, now valid"
    assert (ok[5].message.chat_id, ok[5].message.seq) == (channel, 2)
    assert await db.fetchval("SELECT last_seq FROM chats WHERE id = $1", group) == 5
    marker = "SELECT last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2"
    assert await db.fetchval(marker, group, b.id) == 4
    hub = services.hub
    assert isinstance(hub, RecordingHub)
    assert [e.pos for e in hub.published] == sorted(e.pos for e in hub.published)
    assert len(hub.published) == 5


async def test_stored_receive_message_is_the_ack_encoded_once(
    client: httpx.AsyncClient, db: asyncpg.Pool, services: Services
) -> None:
    # The database splices id, seq and created_at into the payload made in Python: the stored
    # bytes must be exactly what encoding the acknowledged message gives (live == replay).
    a, b = await make_user(db), await make_user(db)
    group = (await new_chat(client, a, "group", b))["id"]
    original = await send(client, a, group, 'quote "me" \\ \u00e9\U0001f600')
    reqs = [
        SendRequest(a.id, group, f"e{i}", text, reply_to_id=original["id"] if i % 2 else None)
        for i, text in enumerate(["plain", f'hi @{b.username} ,"seq":0, ,"created_at":"x"', "\u2028\t"] * 4)
    ]
    results = await messages.send_batch(services.db, services.hub, services.jobs, reqs)
    hub = services.hub
    assert isinstance(hub, RecordingHub)
    stored = {r["message_id"]: bytes(r["payload"]) for r in await db.fetch("SELECT message_id, payload FROM events")}
    for result, event in zip(results, hub.published, strict=True):
        assert isinstance(result, Sent)
        expected = msgspec.json.encode(MessageBody(messages.shared_view(result.message)))
        assert (event.payload, stored[result.message.id]) == (expected, expected)
    # created_at with and without microseconds is written as msgspec writes it.
    for instant in ("2026-01-02 03:04:05+00", "2026-01-02 03:04:05.12+00", "2026-01-02 03:04:05.000001+00"):
        value = await db.fetchval("SELECT $1::text::timestamptz", instant)
        written = await db.fetchval("SELECT json_instant($1::text::timestamptz)", instant)
        assert written == msgspec.json.encode(value).decode()[1:-1]
