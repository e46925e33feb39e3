"""Several nodes sharing PostgreSQL and Redis: cross-node delivery, order, presence, crashes and
a Redis outage. Every node is a real `messenger serve` process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from .factories import make_user
from .rig import REDIS_URL, TLS, Mailbox, Server, nodes_env, running_server, start_server, three_nodes
from .test_admin_cli import admin_cli
from .wsclient import WsClient, make_chat, private_database, seqs, texts


@pytest.fixture(scope="module")
async def rtdb() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
def cluster_env(rtdb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> dict[str, str]:
    return nodes_env(rtdb[0], smtp[1], REDIS_URL)


@pytest.fixture(scope="module")
async def nodes(cluster_env: dict[str, str]) -> AsyncIterator[tuple[Server, Server, Server]]:
    async with three_nodes(cluster_env) as started:
        yield started


@pytest.fixture
def pg(rtdb: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return rtdb[1]


@pytest.fixture
async def http(nodes: tuple[Server, Server, Server]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=nodes[0].url, timeout=30, verify=TLS) as c:
        yield c


async def test_messages_sent_on_one_node_reach_two_others_in_seq_order(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, c = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob, carol])
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token, msgpack=True)
    wc = await WsClient.open(c.ws_url, carol.token)
    for i in range(200):
        await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"x{i}", "text": f"m{i}"})
    for ws in (wb, wc, wa):
        got = await ws.persisted(200, kinds={"receive_message"})
        assert seqs(got) == list(range(1, 201))
        assert texts(got) == [f"m{i}" for i in range(200)]
    for ws in (wa, wb, wc):
        await ws.close()


async def test_typing_read_and_presence_cross_nodes(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, _ = nodes
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token)
    assert await wa.expect("presence", user_id=bob.id) == {"type": "presence", "user_id": bob.id, "online": True}
    await wb.send({"type": "typing", "chat_id": chat})
    assert await wa.expect("typing") == {"type": "typing", "chat_id": chat, "user_id": bob.id}
    await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": "r", "text": "read me"})
    await wb.expect("receive_message")
    await wb.send({"type": "read", "chat_id": chat, "seq": 1})
    assert await wa.expect("read") == {"type": "read", "chat_id": chat, "user_id": bob.id, "seq": 1}
    await wb.close()
    assert (await wa.expect("presence", user_id=bob.id))["online"] is False
    await wa.close()


async def test_ready_names_peers_online_on_other_nodes(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, c = nodes
    alice, bob, carol, dave = [await make_user(pg) for _ in range(4)]
    await make_chat(http, alice, [bob], kind="direct")
    await make_chat(http, alice, [carol, dave])
    wb = await WsClient.open(b.ws_url, bob.token)
    wc = await WsClient.open(c.ws_url, carol.token)
    wa = await WsClient.open(a.ws_url, alice.token)
    assert sorted(wa.ready["presence"]) == sorted([bob.id, carol.id])
    for ws in (wa, wb, wc):
        await ws.close()


async def test_users_of_a_crashed_node_go_offline(
    nodes: tuple[Server, Server, Server], cluster_env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    await make_chat(http, alice, [bob])
    doomed = await start_server(cluster_env)
    try:
        wa = await WsClient.open(nodes[0].ws_url, alice.token)
        await WsClient.open(doomed.ws_url, bob.token)
        assert (await wa.expect("presence", user_id=bob.id))["online"] is True
        doomed.kill()
        assert (await wa.expect("presence", user_id=bob.id, timeout=15))["online"] is False
        await wa.close()
        # The snapshot of a socket opened afterwards agrees with the frames.
        again = await WsClient.open(nodes[1].ws_url, alice.token)
        assert bob.id not in again.ready["presence"]
        await again.close()
    finally:
        doomed.kill()


async def test_session_end_closes_sockets_on_other_nodes(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    _, b, c = nodes
    user = await make_user(pg)
    wb = await WsClient.open(b.ws_url, user.token)
    wc = await WsClient.open(c.ws_url, user.token)
    r = await http.delete(f"/v1/auth/sessions/{user.session_id}", headers=user.headers)
    assert r.status_code == 204
    assert (await wb.closed(timeout=5))[0] == 1008
    assert (await wc.closed(timeout=5))[0] == 1008


async def test_every_acked_message_survives_a_node_crash(
    nodes: tuple[Server, Server, Server], cluster_env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, _ = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob, carol])
    doomed = await start_server(cluster_env)
    try:
        wb = await WsClient.open(a.ws_url, bob.token)
        wc = await WsClient.open(b.ws_url, carol.token)
        start_b, start_c = wb.ready["cursor"], wc.ready["cursor"]
        sender = await WsClient.open(doomed.ws_url, alice.token)
        acked: list[int] = []
        hundred = asyncio.Event()

        async def send_all() -> None:
            with contextlib.suppress(Exception):
                for i in range(1000):
                    await sender.send(
                        {"type": "send_message", "chat_id": chat, "client_msg_id": f"k{i}", "text": f"{i}"}
                    )
                    if i % 25 == 0:
                        await asyncio.sleep(0.01)

        async def collect_acks() -> None:
            with contextlib.suppress(Exception):
                while True:
                    frame = await sender.recv(timeout=30)
                    if frame["type"] == "ack":
                        acked.append(frame["message"]["seq"])
                        if len(acked) == 100:
                            hundred.set()

        tasks = [asyncio.create_task(send_all()), asyncio.create_task(collect_acks())]
        await asyncio.wait_for(hundred.wait(), 30)
        doomed.kill()
        await asyncio.gather(*tasks)
        assert acked
        for ws in (wb, wc):
            live = await ws.persisted(len(acked), kinds={"receive_message"})
            assert seqs(live) == list(range(1, len(acked) + 1))  # live delivery: in order, no gap
            await ws.close()
        # Reconnecting and resuming from the first cursor yields every committed message once.
        last = await pg.fetchval("SELECT max(seq) FROM messages WHERE chat_id = $1", chat)
        assert set(acked) <= set(range(1, last + 1))
        for user, node, start in ((bob, a, start_b), (carol, b, start_c)):
            ws = await WsClient.open(node.ws_url, user.token)
            await ws.send({"type": "resume", "cursor": start})
            got = await ws.persisted(last, kinds={"receive_message"})
            assert seqs(got) == list(range(1, last + 1))
            assert await ws.quiet({"receive_message"}) == []
            await ws.close()
    finally:
        doomed.kill()


class Gate:
    """A TCP proxy to Redis that can be cut, to take Redis away from one node only."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def open(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in self.writers:
            with contextlib.suppress(Exception):
                w.transport.abort()
        await self.server.wait_closed()


async def test_redis_outage_on_a_node_loses_nothing_acknowledged(
    nodes: tuple[Server, Server, Server], cluster_env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a = nodes[0]
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    gate = Gate(int(REDIS_URL.rsplit(":", 1)[1].split("/")[0]))
    port = await gate.open()
    env = {**cluster_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    async with running_server(env) as cut_off:
        wb = await WsClient.open(a.ws_url, bob.token)
        wa = await WsClient.open(cut_off.ws_url, alice.token)
        await gate.cut()
        for i in range(30):
            await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"o{i}", "text": f"{i}"})
        acks = [await wa.expect("ack") for _ in range(30)]
        assert [f["message"]["seq"] for f in acks] == list(range(1, 31))
        assert seqs(await wa.persisted(30, kinds={"receive_message"})) == list(range(1, 31))
        # The other node hears nothing over Redis: it catches up from PostgreSQL.
        assert seqs(await wb.persisted(30, kinds={"receive_message"})) == list(range(1, 31))
        async with httpx.AsyncClient() as probe:
            assert (await probe.get(cut_off.url + "/readyz")).status_code == 503
        await wa.close()
        await wb.close()


async def test_admin_deactivation_closes_the_users_sockets_on_every_node(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    _, b, c = nodes
    admin, user = await make_user(pg), await make_user(pg)
    await pg.execute("UPDATE users SET is_admin = true WHERE id = $1", admin.id)
    wb = await WsClient.open(b.ws_url, user.token)
    wc = await WsClient.open(c.ws_url, user.token)
    r = await http.post(f"/v1/admin/users/{user.id}/deactivate", headers=admin.headers)
    assert r.status_code == 204
    assert (await wb.closed(timeout=5))[0] == 1008
    assert (await wc.closed(timeout=5))[0] == 1008


async def test_cli_deactivation_closes_the_users_sockets_on_every_node(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, cluster_env: dict[str, str]
) -> None:
    a, b, _ = nodes
    user = await make_user(pg)
    wa = await WsClient.open(a.ws_url, user.token)
    wb = await WsClient.open(b.ws_url, user.token)
    done = await admin_cli(cluster_env, "deactivate", user.username)
    assert done.status == 0, done.err
    assert (await wa.closed(timeout=5))[0] == 1008
    assert (await wb.closed(timeout=5))[0] == 1008
