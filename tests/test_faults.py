"""Fault tests with real processes: a node's PostgreSQL goes away and comes back, a client that
never reads, and a reconnect storm. After each, every acknowledged message reaches every member
exactly once in seq order (live, or by resume). SIGKILL of a node and Redis outages are covered
by tests/test_cluster.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from messenger import db as dbmod

from .factories import User, make_user
from .rig import Mailbox, Server, base_env, free_port, running_server, start_server
from .wsclient import WsClient, clients, make_chat, pool, private_database


def _pg_bin() -> Path:
    """PG_BIN, else the installed server binaries (Debian layout, newest first), else PATH."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]), reverse=True)
    if found:
        return found[0].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()


@dataclass
class PrivatePostgres:
    """A PostgreSQL of our own (initdb + pg_ctl as the `postgres` OS user), to stop and restart."""

    root: Path
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="messenger-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    pg = PrivatePostgres(root, free_port())
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(Exception):
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def cmid() -> str:
    return uuid.uuid4().hex


async def _delivered_once_in_order(
    ws_url: str, user: User, start_cursor: str, expected_ids: list[int], live: WsClient | None = None
) -> None:
    """`live` (if given) saw exactly the expected messages in seq order; a fresh socket resuming
    from `start_cursor` gets exactly them once, in order, and nothing else."""
    if live is not None:
        got = await live.persisted(len(expected_ids), kinds={"receive_message"})
        assert [f["message"]["id"] for f in got] == expected_ids
        assert await live.quiet({"receive_message"}, 0.3) == []
    ws = await WsClient.open(ws_url, user.token)
    async with clients(ws):
        await ws.send({"type": "resume", "cursor": start_cursor})
        got = await ws.persisted(len(expected_ids), kinds={"receive_message"})
        assert [f["message"]["id"] for f in got] == expected_ids
        seqs = [f["message"]["seq"] for f in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert await ws.quiet({"receive_message"}, 0.3) == []


# -- PostgreSQL unavailable for a node --------------------------------------------------------


@pytest.fixture(scope="module")
def own_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as pg:
        yield pg


@pytest.fixture(scope="module")
async def pg_node(own_pg: PrivatePostgres, smtp: tuple[Mailbox, str]) -> AsyncIterator[Server]:
    await dbmod.migrate(own_pg.dsn)
    env = base_env(DATABASE_URL=own_pg.dsn, SMTP_URL=smtp[1], MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="mfault-"))
    async with running_server(env) as srv:
        yield srv


async def _ws_send(ws: WsClient, chat_id: int, client_msg_id: str, text: str) -> dict[str, Any]:
    """The reply to a send: its `ack`, or the `error` frame carrying its client_msg_id."""
    await ws.send({"type": "send_message", "chat_id": chat_id, "client_msg_id": client_msg_id, "text": text})
    deadline = time.monotonic() + 30
    while True:
        frame = await ws.recv(max(0.01, deadline - time.monotonic()))
        if frame["type"] == "ack" and frame["client_msg_id"] == client_msg_id:
            return frame
        if frame["type"] == "error" and frame.get("ref") == client_msg_id:
            return frame


@pytest.mark.timeout(180)
async def test_database_outage_fails_sends_cleanly_and_the_node_recovers_without_restart(
    pg_node: Server, own_pg: PrivatePostgres
) -> None:
    setup = await pool(own_pg.dsn)
    try:
        alice, bob = await make_user(setup), await make_user(setup)
        async with httpx.AsyncClient(base_url=pg_node.url, timeout=30) as http:
            chat_id = await make_chat(http, alice, [bob])
    finally:
        await setup.close()
    async with httpx.AsyncClient(base_url=pg_node.url, timeout=30) as http:
        sender = await WsClient.open(pg_node.ws_url, alice.token)
        reader = await WsClient.open(pg_node.ws_url, bob.token)
        start = reader.ready["cursor"]
        async with clients(sender, reader):
            acked = [(await _ws_send(sender, chat_id, cmid(), "before"))["message"]]

            await asyncio.to_thread(own_pg.stop)
            # Over the socket: an error naming the send, never an ack.
            during_ws = cmid()
            reply = await _ws_send(sender, chat_id, during_ws, "during")
            assert reply["type"] == "error", reply
            assert reply["code"] in ("send_failed", "unavailable"), reply
            # Over REST: a clear 503 in the error shape (not a bare 500).
            during_rest = cmid()
            body = {"client_msg_id": during_rest, "text": "during rest"}
            r = await http.post(f"/v1/chats/{chat_id}/messages", json=body, headers=alice.headers)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "unavailable"
            assert (await http.get("/readyz")).status_code == 503
            # A socket opened now cannot be authorized against the database: closed, not hung.
            late = await WsClient.open(pg_node.ws_url, alice.token, wait_ready=False)
            code, _ = await late.closed(timeout=20)
            assert code in (1011, 1013), code

            await asyncio.to_thread(own_pg.start)
            # The node recovers by itself: the REST retry (same client_msg_id) succeeds soon.
            deadline = time.monotonic() + 30
            while True:
                r = await http.post(f"/v1/chats/{chat_id}/messages", json=body, headers=alice.headers)
                if r.status_code in (200, 201) or time.monotonic() > deadline:
                    break
                assert r.status_code == 503, r.text
                await asyncio.sleep(0.2)
            assert r.status_code == 201, r.text
            acked.append(r.json()["message"])
            retried = await _ws_send(sender, chat_id, during_ws, "during")
            assert retried["type"] == "ack", retried
            acked.append(retried["message"])
            acked.append((await _ws_send(sender, chat_id, cmid(), "after"))["message"])
            assert (await http.get("/readyz")).status_code == 200

            ids = [m["id"] for m in sorted(acked, key=lambda m: m["seq"])]
            assert [m["seq"] for m in sorted(acked, key=lambda m: m["seq"])] == [1, 2, 3, 4]
            await _delivered_once_in_order(pg_node.ws_url, bob, start, ids, live=reader)
    check = await pool(own_pg.dsn)
    try:
        stored = await check.fetch("SELECT id FROM messages WHERE chat_id = $1 ORDER BY seq", chat_id)
        assert [r["id"] for r in stored] == ids  # nothing committed without being acknowledged
    finally:
        await check.close()


# -- a Redis-backed pair of nodes on a database of their own ----------------------------------


@pytest.fixture(scope="module")
async def cluster_db() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
async def pair(cluster_db: tuple[str, asyncpg.Pool], redis_env: dict[str, str]) -> AsyncIterator[tuple[Server, Server]]:
    env = {
        **redis_env,
        "DATABASE_URL": cluster_db[0],
        "REDIS_PREFIX": f"mfault:{uuid.uuid4().hex[:8]}:",
        "MESSENGER_DATA_DIR": tempfile.mkdtemp(prefix="mfault-"),
        "DB_POOL_MAX": str(POOL_MAX),
        "WS_QUEUE_LIMIT": "64",
        "WS_FRAME_RATE": "100000",
        "WS_FRAME_BURST": "100000",
    }
    started = await asyncio.gather(start_server(env), start_server(env))
    try:
        yield started[0], started[1]
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in started))


POOL_MAX = 10


@pytest.mark.timeout(180)
async def test_a_client_that_never_reads_delays_nobody_and_loses_nothing(
    pair: tuple[Server, Server], cluster_db: tuple[str, asyncpg.Pool]
) -> None:
    a, b = pair
    alice, bob, carol, slow = [await make_user(cluster_db[1]) for _ in range(4)]
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
        chat_id = await make_chat(http, alice, [bob, carol, slow])
    stuck = await WsClient.open(a.ws_url, slow.token, rcvbuf=8 * 1024)
    stuck.conn.transport.pause_reading()  # never reads: its kernel buffers fill, then the server queue
    slow_start = stuck.ready["cursor"]
    same_node = await WsClient.open(a.ws_url, bob.token)
    other_node = await WsClient.open(b.ws_url, carol.token)
    sender = await WsClient.open(b.ws_url, alice.token)
    acked: list[int] = []
    async with clients(same_node, other_node, sender):
        big = "y" * 3000
        for batch in range(0, 600, 50):
            for i in range(batch, batch + 50):
                await sender.send({"type": "send_message", "chat_id": chat_id, "client_msg_id": f"s{i}", "text": big})
            while len(acked) < batch + 50:
                frame = await sender.recv()
                if frame["type"] == "ack":
                    acked.append(frame["message"]["id"])
                assert frame["type"] != "error", frame
            # The readers keep pace with the sender while the stuck client holds nothing up.
            for reader in (same_node, other_node):
                got = await reader.persisted(50, kinds={"receive_message"})
                assert [f["message"]["id"] for f in got] == acked[batch : batch + 50]
        stuck.conn.transport.resume_reading()
        # It was either dropped as a slow consumer (4008) or buffered within bounds; whatever it
        # did get is a prefix of the acknowledged messages, in order.
        seen: list[int] = []
        code = None
        try:
            while len(seen) < len(acked):
                frame = await stuck.recv(timeout=30)
                if frame["type"] == "receive_message":
                    seen.append(frame["message"]["id"])
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        assert code in (None, 4008), code
        assert seen == acked[: len(seen)]
        await stuck.close()
    # Back with a resume from where it was: every acknowledged message once, in order.
    await _delivered_once_in_order(a.ws_url, slow, slow_start, acked)


@pytest.mark.timeout(300)
async def test_reconnect_storm_of_1000_resuming_sockets(
    pair: tuple[Server, Server], cluster_db: tuple[str, asyncpg.Pool]
) -> None:
    dsn, db = cluster_db
    database = dsn.rsplit("/", 1)[-1]
    users = [await make_user(db) for _ in range(100)]
    groups = [users[i : i + 10] for i in range(0, 100, 10)]
    async with httpx.AsyncClient(base_url=pair[0].url, timeout=60) as http:
        chats = [await make_chat(http, g[0], g[1:]) for g in groups]
        chat_of = {u.id: chats[i // 10] for i, u in enumerate(users)}
        # 1000 sockets (ten per user, spread over both nodes) learn their cursor, then all drop.
        gate = asyncio.Semaphore(100)

        async def first(user: User, k: int) -> str:
            async with gate:
                ws = await WsClient.open(pair[k % 2].ws_url, user.token)
                await ws.close()
                cursor: str = ws.ready["cursor"]
                return cursor

        slots = [(u, k) for u in users for k in range(10)]
        cursors = await asyncio.gather(*(first(u, k) for u, k in slots))
        # Messages arrive while everyone is away.
        acked: dict[int, list[int]] = {c: [] for c in chats}
        for g, c in zip(groups, chats, strict=True):
            for i in range(3):
                r = await http.post(
                    f"/v1/chats/{c}/messages", json={"client_msg_id": f"m{i}", "text": f"{i}"}, headers=g[i].headers
                )
                assert r.status_code == 201, r.text
                acked[c].append(r.json()["message"]["id"])

    peak = 0
    storming = True

    async def sample() -> None:
        nonlocal peak
        while storming:
            n = await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database)
            peak = max(peak, n)
            await asyncio.sleep(0.05)

    async def back(user: User, k: int, cursor: str) -> list[int]:
        ws = await WsClient.open(pair[k % 2].ws_url, user.token)
        async with clients(ws):
            await ws.send({"type": "resume", "cursor": cursor})
            got = await ws.persisted(3, timeout=60, kinds={"receive_message"})
            return [f["message"]["id"] for f in got]

    sampler = asyncio.create_task(sample())
    try:
        results = await asyncio.gather(
            *(back(u, k, c) for (u, k), c in zip(slots, cursors, strict=True)), return_exceptions=True
        )
    finally:
        storming = False
        await sampler
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]  # e.g. a refused (5xx) handshake would be an InvalidStatus here
    for (user, _), got in zip(slots, results, strict=True):
        assert got == acked[chat_of[user.id]]
    # Bounded: each node's pool (DB_POOL_MAX) plus a few fixed connections, whatever the storm.
    assert 0 < peak <= 2 * POOL_MAX + 6, peak
