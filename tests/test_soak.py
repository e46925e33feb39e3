"""Soak: moderate steady load (senders and receivers over WebSockets, some REST reads) while the
server's RSS, open file descriptors and database connections are sampled every second. They must
stay flat: the median of the last third of the samples against the median of the first third,
within generous bounds. Every acknowledged message reaches every receiver once, in order.

CI runs it shortened (`SOAK_SECONDS`, default 60); the full run is 10 minutes:
`SOAK_SECONDS=600 bash tests/run.sh tests/test_soak.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import psutil
import pytest

from .factories import User, make_user
from .rig import Mailbox, Server, base_env, running_server
from .wsclient import WsClient, clients, make_chat, private_database

SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "60"))
RATE_PER_SENDER = 20  # messages per second per chat: ~80/s in, ~400 deliveries/s out
POOL_MAX = 10


@dataclass
class Sample:
    rss: float
    fds: int
    db_connections: int


@dataclass
class Room:
    chat_id: int
    sender: User
    members: list[User]
    acked: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
async def soak_db() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
async def soak_node(soak_db: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> AsyncIterator[Server]:
    env = base_env(
        DATABASE_URL=soak_db[0],
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-soak-"),
        DB_POOL_MAX=str(POOL_MAX),
    )
    async with running_server(env) as srv:
        yield srv


def _third_medians(values: list[float]) -> tuple[float, float]:
    third = max(1, len(values) // 3)
    return statistics.median(values[:third]), statistics.median(values[-third:])


@pytest.mark.timeout(SOAK_SECONDS + 240)
async def test_steady_load_keeps_memory_fds_and_connections_flat(
    soak_node: Server, soak_db: tuple[str, asyncpg.Pool]
) -> None:
    dsn, db = soak_db
    database = dsn.rsplit("/", 1)[-1]
    users = [await make_user(db) for _ in range(20)]
    rooms: list[Room] = []
    async with httpx.AsyncClient(base_url=soak_node.url, timeout=30) as http:
        for i in range(0, 20, 5):
            group = users[i : i + 5]
            rooms.append(Room(await make_chat(http, group[0], group[1:]), group[0], group))
    receivers = {
        (room.chat_id, u.id): await WsClient.open(soak_node.ws_url, u.token) for room in rooms for u in room.members
    }
    received: dict[tuple[int, int], list[int]] = {key: [] for key in receivers}
    senders = {room.chat_id: await WsClient.open(soak_node.ws_url, room.sender.token) for room in rooms}
    proc = psutil.Process(soak_node.proc.pid)
    samples: list[Sample] = []
    stop = asyncio.Event()

    async def receive(key: tuple[int, int], ws: WsClient) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                frame = await ws.recv(timeout=3600)
                if frame["type"] == "receive_message":
                    received[key].append(frame["message"]["id"])

    async def send(room: Room, ws: WsClient, http: httpx.AsyncClient) -> None:
        n = 0
        start = time.monotonic()
        while not stop.is_set():
            await ws.send({"type": "send_message", "chat_id": room.chat_id, "client_msg_id": f"k{n}", "text": f"m{n}"})
            n += 1
            if n % 20 == 0:  # a little REST next to the socket traffic
                r = await http.get(f"/v1/chats/{room.chat_id}/messages?limit=20", headers=room.sender.headers)
                assert r.status_code == 200, r.text
            await asyncio.sleep(max(0.0, start + n / RATE_PER_SENDER - time.monotonic()))

    async def acks(room: Room, ws: WsClient) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                frame = await ws.recv(timeout=3600)
                assert frame["type"] != "error", frame
                if frame["type"] == "ack":
                    room.acked.append(frame["message"]["id"])

    async def keep_alive() -> None:
        # Quiet sockets must ping (WS_IDLE_TIMEOUT closes them with 1001 otherwise).
        while not stop.is_set():
            await asyncio.sleep(15)
            for ws in receivers.values():
                await ws.send({"type": "ping"})

    async def sample() -> None:
        while not stop.is_set():
            connections = await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database)
            samples.append(Sample(proc.memory_info().rss / 2**20, proc.num_fds(), connections))
            await asyncio.sleep(1)

    async with (
        httpx.AsyncClient(base_url=soak_node.url, timeout=30) as http,
        clients(*receivers.values(), *senders.values()),
    ):
        readers = [asyncio.create_task(receive(k, ws)) for k, ws in receivers.items()]
        readers += [asyncio.create_task(acks(room, senders[room.chat_id])) for room in rooms]
        work = [asyncio.create_task(send(room, senders[room.chat_id], http)) for room in rooms]
        work += [asyncio.create_task(sample()), asyncio.create_task(keep_alive())]
        await asyncio.sleep(SOAK_SECONDS)
        stop.set()
        await asyncio.gather(*work)
        # Drain: every acknowledged message reaches every member's socket.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(len(received[(room.chat_id, u.id)]) >= len(room.acked) for room in rooms for u in room.members):
                break
            await asyncio.sleep(0.2)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers)
    for room in rooms:
        assert len(room.acked) > RATE_PER_SENDER * SOAK_SECONDS // 2  # the load really ran
        for u in room.members:
            got = received[(room.chat_id, u.id)]
            assert got[: len(room.acked)] == sorted(room.acked) == room.acked, (room.chat_id, u.id)
    assert len(samples) >= SOAK_SECONDS // 2
    rss = _third_medians([s.rss for s in samples])
    fds = _third_medians([float(s.fds) for s in samples])
    conns = _third_medians([float(s.db_connections) for s in samples])
    report = f"rss MiB {rss}, fds {fds}, db connections {conns}, acked {[len(r.acked) for r in rooms]}"
    print(report)
    assert rss[1] <= rss[0] * 1.25 + 24, report
    assert fds[1] <= fds[0] + 16, report
    assert conns[1] <= conns[0] + 3 and max(s.db_connections for s in samples) <= POOL_MAX + 4, report
