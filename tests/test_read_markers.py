"""Read markers group-committed (realtime/readmarks.py, chats.mark_read_batch) against a real
server and PostgreSQL: markers queued while a batch commits go to the database together as one
statement, each request is still judged on its own, a (user, chat) announces only the highest
of its markers in a batch, and markers never go backwards however they race.

To make a batch of known content without timing, a test holds one member's chat_members row
locked: the batch carrying that member's marker waits in PostgreSQL, so every marker sent
meanwhile (each followed by a `ping`, whose `pong` says the server has taken the marker) queues
for the next batch.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from .factories import User, make_user
from .rig import TLS, Server, running_server
from .test_worker import until
from .wsclient import WsClient, clients, make_chat

METRICS_TOKEN = "metrics-token-read-markers-01234"
BATCHES = re.compile(r"^messenger_read_marker_batch_size_(count|sum) (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
async def marks(server_env: dict[str, str]) -> AsyncIterator[Server]:
    """A server of this module's own, so its batch metrics count only this module's markers."""
    async with running_server({**server_env, "METRICS_TOKEN": METRICS_TOKEN}) as srv:
        yield srv


@pytest.fixture
async def http(marks: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=marks.url, timeout=30, verify=TLS) as c:
        yield c


async def batches(http: httpx.AsyncClient) -> tuple[int, int]:
    """(batches committed, markers in them) so far."""
    text = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    found = {kind: int(float(value)) for kind, value in BATCHES.findall(text)}
    return found.get("count", 0), found.get("sum", 0)


async def post(http: httpx.AsyncClient, user: User, chat: int, count: int) -> None:
    for i in range(count):
        r = await http.post(
            f"/v1/chats/{chat}/messages", json={"client_msg_id": f"m{chat}-{i}", "text": "hi"}, headers=user.headers
        )
        assert r.status_code == 201, r.text


async def trio(http: httpx.AsyncClient, db: asyncpg.Pool, messages: int) -> tuple[tuple[User, User, User], int]:
    """(owner, reader, holder) in a group with `messages` messages from the owner."""
    owner, reader, holder = await make_user(db), await make_user(db), await make_user(db)
    chat = await make_chat(http, owner, [reader, holder])
    await post(http, owner, chat, messages)
    return (owner, reader, holder), chat


async def taken(ws: WsClient, frames: list[dict[str, object]]) -> None:
    """Send the frames, then a ping: its pong says the server has read (and queued) them."""
    for frame in frames:
        await ws.send(frame)
    await ws.send({"type": "ping", "ref": "taken"})
    await ws.expect("pong", ref="taken")


@asynccontextmanager
async def batch_held(db: asyncpg.Pool, ws: WsClient, user: User, chat: int) -> AsyncIterator[None]:
    """Inside: a batch carrying `user`'s marker (seq 1) in `chat` waits for the row's lock in
    PostgreSQL, so what the body sends queues for the next batch. On exit the lock goes."""
    async with db.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute(
                "SELECT 1 FROM chat_members WHERE chat_id = $1 AND user_id = $2 FOR UPDATE", chat, user.id
            )
            await taken(ws, [{"type": "read", "chat_id": chat, "seq": 1}])

            async def waiting() -> bool:
                n = await db.fetchval(
                    """SELECT count(*) FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock'"""
                )
                return bool(n)

            await until(waiting)
            yield
        finally:
            await transaction.rollback()


async def test_markers_queued_while_a_batch_commits_go_to_the_database_as_one_statement(
    marks: Server, http: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = await make_user(db)
    readers = [await make_user(db) for _ in range(5)]
    chats = [await make_chat(http, owner, readers) for _ in range(3)]
    for chat in chats:
        await post(http, owner, chat, 1)
    sockets = [await WsClient.open(marks.ws_url, r.token) for r in readers]
    async with clients(*sockets):
        before = await batches(http)
        async with batch_held(db, sockets[0], readers[0], chats[0]):
            for ws in sockets:
                others = [c for c in chats if (ws, c) != (sockets[0], chats[0])]
                await taken(ws, [{"type": "read", "chat_id": c, "seq": 1} for c in others])

        async def all_read() -> bool:
            n = await db.fetchval(
                "SELECT count(*) FROM chat_members WHERE chat_id = ANY($1::bigint[]) AND last_read_seq = 1", chats
            )
            return bool(n == len(chats) * (len(readers) + 1))

        await until(all_read)

        async def counted() -> tuple[int, int] | None:
            now = await batches(http)
            return now if now[0] >= before[0] + 2 else None

        after = await until(counted)
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1 + 14)


async def test_a_bad_marker_fails_alone_in_its_batch(marks: Server, http: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    (owner, reader, holder), chat = await trio(http, db, 2)
    elsewhere = await make_chat(http, owner, [holder])
    wo, wr, wh = [await WsClient.open(marks.ws_url, u.token) for u in (owner, reader, holder)]
    async with clients(wo, wr, wh):
        async with batch_held(db, wh, holder, chat):
            await taken(
                wr,
                [
                    {"type": "read", "chat_id": elsewhere, "seq": 0, "ref": "not-a-member"},
                    {"type": "read", "chat_id": chat, "seq": 3, "ref": "beyond"},
                    {"type": "read", "chat_id": chat, "seq": 2, "ref": "fine"},
                ],
            )
        assert (await wr.expect("error", ref="not-a-member"))["code"] == "not_found"
        assert (await wr.expect("error", ref="beyond"))["code"] == "invalid_seq"
        assert await wo.expect("read", user_id=reader.id) == {
            "type": "read",
            "chat_id": chat,
            "user_id": reader.id,
            "seq": 2,
        }


async def test_several_markers_of_one_member_in_a_batch_announce_only_the_highest(
    marks: Server, http: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    (owner, reader, holder), chat = await trio(http, db, 4)
    wo, wr, wh = [await WsClient.open(marks.ws_url, u.token) for u in (owner, reader, holder)]
    async with clients(wo, wr, wh):
        async with batch_held(db, wh, holder, chat):
            await taken(wr, [{"type": "read", "chat_id": chat, "seq": s} for s in (2, 3, 1)])
        first = await wo.expect("read", user_id=reader.id)
        # Sent once that batch is announced (so after its commit): a batch of its own.
        await taken(wr, [{"type": "read", "chat_id": chat, "seq": 4}])
        second = await wo.expect("read", user_id=reader.id)
    assert [first["seq"], second["seq"]] == [3, 4]


async def test_markers_never_go_backwards_however_they_race(
    marks: Server, http: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner, reader = await make_user(db), await make_user(db)
    chat = await make_chat(http, owner, [reader])
    await post(http, owner, chat, 30)
    wo = await WsClient.open(marks.ws_url, owner.token)
    phone = await WsClient.open(marks.ws_url, reader.token)
    laptop = await WsClient.open(marks.ws_url, reader.token)
    rng = random.Random(14)
    async with clients(wo, phone, laptop):

        async def over_socket(ws: WsClient) -> None:
            seqs = list(range(31))
            rng.shuffle(seqs)
            await taken(ws, [{"type": "read", "chat_id": chat, "seq": s} for s in seqs])

        async def over_rest() -> None:
            seqs = list(range(31))
            rng.shuffle(seqs)
            for s in seqs:
                r = await http.post(f"/v1/chats/{chat}/read", json={"seq": s}, headers=reader.headers)
                assert r.status_code == 204, r.text

        await asyncio.gather(over_socket(phone), over_socket(laptop), over_rest())
        announced: list[int] = []
        while not announced or announced[-1] < 30:
            announced.append((await wo.expect("read", user_id=reader.id))["seq"])
    assert announced == sorted(set(announced))
    marker = await db.fetchval(
        "SELECT last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2", chat, reader.id
    )
    assert marker == 30
