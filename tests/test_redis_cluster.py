"""Three nodes on a Redis Cluster (three masters, started by `tests/services.sh --cluster`):
sharded fan-out across nodes, a node crash, and a cluster shard restarted mid-traffic. Every node
is a real `messenger serve` process; jobs run in the nodes (no JOBS_REDIS_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio.cluster import RedisCluster

from messenger.keys import RedisKeys
from messenger.redisconn import connect

from .factories import User, make_user
from .rig import TLS, Mailbox, Server, nodes_env, start_server, three_nodes
from .wsclient import WsClient, cursors, make_chat, private_database, seqs, texts

CLUSTER_URL = os.environ.get("TEST_REDIS_CLUSTER_URL", "")
CLUSTER_DIR = os.environ.get("TEST_REDIS_CLUSTER_DIR", "")


@pytest.fixture(scope="module")
def cluster_url() -> str:
    assert CLUSTER_URL, "run through tests/run.sh, which starts a Redis Cluster (tests/services.sh --cluster)"
    return CLUSTER_URL


@pytest.fixture(scope="module")
async def rtdb() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
def env(rtdb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str], cluster_url: str) -> dict[str, str]:
    return nodes_env(rtdb[0], smtp[1], cluster_url)


@pytest.fixture(scope="module")
async def nodes(env: dict[str, str]) -> AsyncIterator[tuple[Server, Server, Server]]:
    async with three_nodes(env) as started:
        yield started


@pytest.fixture
def pg(rtdb: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return rtdb[1]


@pytest.fixture
async def http(nodes: tuple[Server, Server, Server]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=nodes[0].url, timeout=30, verify=TLS) as c:
        yield c


async def test_messages_of_chats_on_different_shards_reach_every_node_in_order_once(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    a, b, c = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    keys = RedisKeys(env["REDIS_PREFIX"])
    cluster = connect(env["REDIS_URL"])
    assert isinstance(cluster, RedisCluster)
    # Three chats whose bucket channels are not all on one shard (the fan-out really crosses
    # shards): chat ids are consecutive, their buckets' slots are not.
    chats: list[int] = []
    shards: set[str] = set()
    try:
        await cluster.initialize()
        while len(chats) < 3:
            chat = await make_chat(http, alice, [bob, carol])
            node = cluster.get_node_from_key(keys.bucket_channel(keys.chat_bucket(chat)))
            assert node is not None
            if len(chats) < 2 or len(shards | {node.name}) > 1:
                chats.append(chat)
                shards.add(node.name)
    finally:
        await cluster.aclose()
    assert len(shards) > 1
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token, msgpack=True)
    wc = await WsClient.open(c.ws_url, carol.token)
    for i in range(60):
        for chat in chats:
            await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"{chat}-{i}", "text": f"m{i}"})
    for ws in (wb, wc, wa):
        got = await ws.persisted(180, kinds={"receive_message"})
        # Exactly once, in the one stream order, across the three chats and shards.
        assert cursors(got) == sorted(set(cursors(got)))
        for chat in chats:
            mine = [f for f in got if f["message"]["chat_id"] == chat]
            assert seqs(mine) == list(range(1, 61))
            assert texts(mine) == [f"m{i}" for i in range(60)]
        assert await ws.quiet({"receive_message"}) == []
    for ws in (wa, wb, wc):
        await ws.close()


async def test_typing_and_presence_cross_nodes_on_the_cluster(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, _ = nodes
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token)
    assert (await wa.expect("presence", user_id=bob.id))["online"] is True
    await wb.send({"type": "typing", "chat_id": chat})
    assert await wa.expect("typing") == {"type": "typing", "chat_id": chat, "user_id": bob.id}
    await wb.close()
    assert (await wa.expect("presence", user_id=bob.id))["online"] is False
    await wa.close()


async def _send(
    sender: WsClient,
    chat: int,
    count: int,
    acked: list[int],
    enough: asyncio.Event,
    *,
    until: asyncio.Event | None = None,
) -> int:
    """Send `count` messages (and, with `until`, keep sending until it is set), a short pause
    between them, until done or the socket dies; collect the acks' seqs, set `enough` at the
    50th ack, and return how many were sent."""
    sent = 0
    sending = True

    async def send_all() -> None:
        nonlocal sent, sending
        with contextlib.suppress(Exception):
            while sent < count or (until is not None and not until.is_set()):
                text = str(sent)
                await sender.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"k{text}", "text": text})
                sent += 1
                await asyncio.sleep(0.005)
        sending = False

    async def collect_acks() -> None:
        with contextlib.suppress(Exception):
            while sending or len(acked) < sent:
                frame = await sender.recv(timeout=30)
                if frame["type"] == "ack":
                    acked.append(frame["message"]["seq"])
                    if len(acked) == 50:
                        enough.set()

    await asyncio.gather(send_all(), collect_acks())
    return sent


async def test_a_crashed_node_loses_nothing_acknowledged_and_resume_replays_once(
    nodes: tuple[Server, Server, Server], env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    a, b, _ = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob, carol])
    doomed = await start_server(env)
    try:
        wb = await WsClient.open(a.ws_url, bob.token)
        wc = await WsClient.open(b.ws_url, carol.token)
        start_b, start_c = wb.ready["cursor"], wc.ready["cursor"]
        sender = await WsClient.open(doomed.ws_url, alice.token)
        acked: list[int] = []
        fifty = asyncio.Event()
        traffic = asyncio.create_task(_send(sender, chat, 400, acked, fifty))
        await asyncio.wait_for(fifty.wait(), 30)
        doomed.kill()
        await traffic
        for ws in (wb, wc):
            live = await ws.persisted(len(acked), kinds={"receive_message"})
            assert seqs(live) == list(range(1, len(acked) + 1))
            await ws.close()
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


async def _subscribers(port: int, channel: str) -> int:
    out = await asyncio.to_thread(
        subprocess.run, ["redis-cli", "-p", str(port), "pubsub", "shardnumsub", channel], capture_output=True, text=True
    )
    lines = out.stdout.split()
    return int(lines[1]) if len(lines) == 2 else -1


async def test_a_shard_restarted_mid_traffic_loses_nothing_acknowledged(
    nodes: tuple[Server, Server, Server], env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    assert CLUSTER_DIR, "the shard restart needs the cluster tests/services.sh --cluster started"
    a, b, c = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob, carol])
    keys = RedisKeys(env["REDIS_PREFIX"])
    cluster = connect(env["REDIS_URL"])
    assert isinstance(cluster, RedisCluster)
    try:
        await cluster.initialize()
        shard = cluster.get_node_from_key(keys.bucket_channel(keys.chat_bucket(chat)))
        assert shard is not None
        port = int(shard.port)
    finally:
        await cluster.aclose()
    home = Path(CLUSTER_DIR) / str(port)
    wb = await WsClient.open(b.ws_url, bob.token)
    wc = await WsClient.open(c.ws_url, carol.token, msgpack=True)
    sender = await WsClient.open(a.ws_url, alice.token)
    acked: list[int] = []
    fifty, restarted = asyncio.Event(), asyncio.Event()
    # Traffic goes on until the shard is back (and for at least 100 messages): mid-traffic.
    traffic = asyncio.create_task(_send(sender, chat, 100, acked, fifty, until=restarted))
    await asyncio.wait_for(fifty.wait(), 30)
    # The master carrying this chat's channel dies mid-traffic (no replica: nothing fails over)
    # and comes back empty from its nodes.conf with the same slots.
    os.kill(int((home / "redis.pid").read_text()), signal.SIGKILL)
    await asyncio.sleep(1)
    await asyncio.to_thread(subprocess.run, ["bash", str(home / "start.sh")], check=True)
    restarted.set()
    sent = await traffic
    # Sends never wait for Redis: every one was acknowledged, in order.
    assert acked == list(range(1, sent + 1))
    for ws in (wb, wc):
        live = await ws.persisted(sent, kinds={"receive_message"})
        assert seqs(live) == list(range(1, sent + 1))
        assert await ws.quiet({"receive_message"}) == []
    # Once the shard is back, all three nodes subscribe to the chat's channel on it again.
    channel = keys.bucket_channel(keys.chat_bucket(chat))
    for _ in range(200):
        if await _subscribers(port, channel) == 3:
            break
        await asyncio.sleep(0.1)
    assert await _subscribers(port, channel) == 3
    await sender.send({"type": "send_message", "chat_id": chat, "client_msg_id": "after", "text": "after"})
    for ws in (wb, wc):
        assert texts(await ws.persisted(1, kinds={"receive_message"})) == ["after"]
    for ws in (sender, wb, wc):
        await ws.close()


async def _bucket_port(env: dict[str, str], chat: int) -> int:
    """The port of the master holding the shard channel of this chat's bucket."""
    keys = RedisKeys(env["REDIS_PREFIX"])
    cluster = connect(env["REDIS_URL"])
    assert isinstance(cluster, RedisCluster)
    try:
        await cluster.initialize()
        shard = cluster.get_node_from_key(keys.bucket_channel(keys.chat_bucket(chat)))
        assert shard is not None
        return int(shard.port)
    finally:
        await cluster.aclose()


async def _unheard_chat(
    http: httpx.AsyncClient, env: dict[str, str], owner: User, members: list[User], avoid: set[int]
) -> tuple[int, str, int]:
    """A new chat whose bucket no node subscribes to yet (earlier tests' buckets may still be
    held for the unsubscribe grace) and not in the `avoid` buckets: (chat, channel, port)."""
    keys = RedisKeys(env["REDIS_PREFIX"])
    while True:
        chat = await make_chat(http, owner, members)
        bucket = keys.chat_bucket(chat)
        if bucket in avoid:
            continue
        channel = keys.bucket_channel(bucket)
        port = await _bucket_port(env, chat)
        if await _subscribers(port, channel) == 0:
            avoid.add(bucket)
            return chat, channel, port


async def _until_subscribers(port: int, channel: str, count: int) -> int:
    for _ in range(200):
        got = await _subscribers(port, channel)
        if got == count:
            return got
        await asyncio.sleep(0.05)
    return await _subscribers(port, channel)


async def test_a_node_subscribes_only_to_the_buckets_of_its_users_chats_and_delivers_in_order(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    a, b, c = nodes
    alice, bob, carol, dave = [await make_user(pg) for _ in range(4)]
    buckets: set[int] = set()
    # Chat one has members on nodes a and b only; chat two on node c (and a, its sender) only.
    one, one_channel, one_port = await _unheard_chat(http, env, alice, [bob], buckets)
    two, two_channel, two_port = await _unheard_chat(http, env, alice, [carol, dave], buckets)
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token, msgpack=True)
    wc = await WsClient.open(c.ws_url, carol.token)
    assert await _until_subscribers(one_port, one_channel, 2) == 2
    assert await _until_subscribers(two_port, two_channel, 2) == 2
    for i in range(80):
        for chat in (one, two):
            await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"{chat}-{i}", "text": f"m{i}"})
    # Node c hears nothing of chat one and delivers chat two in order past its positions;
    # node b the other way round.
    for ws, chat in ((wc, two), (wb, one)):
        got = await ws.persisted(80, kinds={"receive_message"})
        assert [f["message"]["chat_id"] for f in got] == [chat] * 80
        assert seqs(got) == list(range(1, 81))
        assert await ws.quiet({"receive_message"}) == []
    assert await _subscribers(one_port, one_channel) == 2
    assert await _subscribers(two_port, two_channel) == 2
    for ws in (wa, wb, wc):
        await ws.close()


async def test_a_user_added_to_a_chat_its_node_does_not_hear_gets_the_addition_and_what_follows_once(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    a, b, c = nodes
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat, channel, port = await _unheard_chat(http, env, alice, [bob], set())
    wa = await WsClient.open(a.ws_url, alice.token)
    wb = await WsClient.open(b.ws_url, bob.token)
    wc = await WsClient.open(c.ws_url, carol.token, msgpack=True)
    assert await _until_subscribers(port, channel, 2) == 2
    r = await http.post(f"/v1/chats/{chat}/members", json={"user_id": carol.id}, headers=alice.headers)
    assert r.status_code == 201, r.text
    # Sent at once: node c learns of carol's chat from the positions channel, then hears (or
    # fills from PostgreSQL) its messages before it has subscribed to the chat's bucket.
    for i in range(40):
        await wa.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"k{i}", "text": f"m{i}"})
    got = await wc.persisted(41, kinds={"member_added", "receive_message"})
    assert got[0]["type"] == "member_added" and got[0]["user_id"] == carol.id
    assert seqs(got[1:]) == list(range(1, 41))
    assert cursors(got) == sorted(set(cursors(got)))
    assert await wc.quiet({"member_added", "receive_message"}) == []
    assert await _until_subscribers(port, channel, 3) == 3
    for ws in (wa, wb, wc):
        await ws.close()


async def test_a_user_connecting_to_a_node_that_does_not_hear_the_chat_misses_nothing_sent_meanwhile(
    nodes: tuple[Server, Server, Server], pg: asyncpg.Pool, http: httpx.AsyncClient, env: dict[str, str]
) -> None:
    a, _, c = nodes
    alice, carol = await make_user(pg), await make_user(pg)
    chat, _, _ = await _unheard_chat(http, env, alice, [carol], set())
    sender = await WsClient.open(a.ws_url, alice.token)
    acked: list[int] = []
    fifty = asyncio.Event()
    traffic = asyncio.create_task(_send(sender, chat, 300, acked, fifty))
    await asyncio.wait_for(fifty.wait(), 30)
    # Node c has no user in the chat until carol connects, mid-traffic, while it is loading
    # her chats: every message after her socket's start cursor reaches her, once, in order.
    wc = await WsClient.open(c.ws_url, carol.token)
    start = int(wc.ready["cursor"])
    sent = await traffic
    assert sent == 300
    rows = await pg.fetch(
        "SELECT m.seq FROM events e JOIN messages m ON m.id = e.message_id"
        " WHERE e.chat_id = $1 AND e.type = 'receive_message' AND e.pos > $2 ORDER BY e.pos",
        chat,
        start,
    )
    expected = [r["seq"] for r in rows]
    assert expected, "the traffic ended before the socket started"
    got = await wc.persisted(len(expected), kinds={"receive_message"})
    assert seqs(got) == expected
    assert await wc.quiet({"receive_message"}) == []
    for ws in (sender, wc):
        await ws.close()
