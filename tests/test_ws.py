"""The WebSocket gateway on one node: auth, frames, limits, delivery, resume, backpressure."""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from websockets.exceptions import InvalidStatus

from messenger.realtime.hub import HOLD_WINDOW

from .factories import User, access_token, make_user
from .rig import TLS, Mailbox, Server, base_env, running_server
from .wsclient import WsClient, cursors, make_chat, private_database, seqs, texts


@pytest.fixture(scope="module")
async def rtdb() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
async def node(rtdb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> AsyncIterator[Server]:
    env = base_env(
        DATABASE_URL=rtdb[0],
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-ws-"),
        # Tests send hundreds of frames from one socket; the flood test floods well past this.
        WS_FRAME_RATE="1000",
        WS_FRAME_BURST="1000",
    )
    async with running_server(env) as srv:
        yield srv


@pytest.fixture
def pg(rtdb: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return rtdb[1]


@pytest.fixture
async def http(node: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.url, timeout=30, verify=TLS) as c:
        yield c


def cmid() -> str:
    return uuid.uuid4().hex


# -- handshake and auth ----------------------------------------------------------------------


async def test_header_auth_gets_ready_with_user_and_cursor(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token, wait_ready=False)
    ready = await ws.recv()
    assert ready["type"] == "ready"
    assert ready["user_id"] == user.id
    assert ready["cursor"].isdigit()
    await ws.close()


async def test_auth_frame_authenticates(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token, auth_frame=True, wait_ready=False)
    ready = await ws.recv()
    assert (ready["type"], ready["user_id"]) == ("ready", user.id)
    await ws.close()


async def test_first_frame_other_than_auth_closes_4001(node: Server) -> None:
    ws = await WsClient.open(node.ws_url, wait_ready=False)
    await ws.send({"type": "ping"})
    code, _ = await ws.closed()
    assert code == 4001


async def test_expired_token_closes_4001(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    stale = access_token(user.id, user.session_id, now=time.time() - 3600)
    ws = await WsClient.open(node.ws_url, stale, wait_ready=False)
    code, reason = await ws.closed()
    assert (code, reason) == (4001, "token_expired")


async def test_invalid_token_in_auth_frame_closes_4001(node: Server) -> None:
    ws = await WsClient.open(node.ws_url, "not-a-token", auth_frame=True, wait_ready=False)
    code, _ = await ws.closed()
    assert code == 4001


async def test_ended_session_closes_4001(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    await pg.execute("UPDATE sessions SET ended_at = now() WHERE id = $1", user.session_id)
    ws = await WsClient.open(node.ws_url, user.token, wait_ready=False)
    code, reason = await ws.closed()
    assert (code, reason) == (4001, "session_ended")


async def test_revoked_session_closes_open_socket_1008(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token)
    r = await http.delete(f"/v1/auth/sessions/{user.session_id}", headers=user.headers)
    assert r.status_code == 204
    code, _ = await ws.closed(timeout=5)
    assert code == 1008


async def test_foreign_origin_is_refused_before_accept(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    with pytest.raises(InvalidStatus) as info:
        await WsClient.open(node.ws_url, user.token, origin="https://evil.example")
    assert info.value.response.status_code == 403


async def test_same_origin_is_accepted(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token, origin=node.url)
    await ws.close()


# -- frames and limits -----------------------------------------------------------------------


async def test_malformed_and_unknown_frames_get_bad_frame_and_socket_stays_open(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token)
    await ws.send_raw("{not json")
    assert (await ws.expect("error"))["code"] == "bad_frame"
    await ws.send({"type": "teleport", "ref": "r1"})
    error = await ws.expect("error")
    assert (error["code"], error["ref"]) == ("bad_frame", "r1")
    await ws.send({"type": "send_message", "chat_id": "x", "ref": 7})
    error = await ws.expect("error")
    assert (error["code"], error["ref"]) == ("bad_frame", 7)
    await ws.send({"type": "ping", "ref": "alive"})
    assert (await ws.expect("pong"))["ref"] == "alive"
    await ws.close()


async def test_frame_over_64_kib_closes_1009(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token)
    await ws.send({"type": "ping", "ref": "x" * (65 * 1024)})
    code, _ = await ws.closed()
    assert code == 1009


async def test_flood_gets_rate_limited_then_1008(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token)
    frame = msgspec.json.encode({"type": "ping"}).decode()
    for _ in range(3000):
        try:
            await ws.send_raw(frame)
        except Exception:
            break
    await ws.expect("error", code="rate_limited")
    code, reason = await ws.closed()
    assert (code, reason) == (1008, "rate limit exceeded")


# -- messages --------------------------------------------------------------------------------


async def test_send_message_is_acked_and_delivered_to_json_and_msgpack_members(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob, carol])
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token, msgpack=True)
    c = await WsClient.open(node.ws_url, carol.token)
    key = cmid()
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": key, "text": "héllo"})
    ack = await a.expect("ack")
    assert ack["client_msg_id"] == key
    assert (ack["message"]["text"], ack["message"]["seq"]) == ("héllo", 1)
    for ws in (a, b, c):
        frame = await ws.expect("receive_message")
        assert frame["message"] == ack["message"]
        assert frame["cursor"].isdigit()
    for ws in (a, b, c):
        await ws.close()


async def test_send_to_foreign_chat_gets_error_with_client_msg_id(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob, eve = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob])
    ws = await WsClient.open(node.ws_url, eve.token)
    await ws.send({"type": "send_message", "chat_id": chat, "client_msg_id": "k1", "text": "hi"})
    error = await ws.expect("error")
    assert (error["code"], error["ref"]) == ("not_found", "k1")
    await ws.close()


async def test_resent_client_msg_id_acks_the_same_message(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    ws = await WsClient.open(node.ws_url, alice.token)
    for _ in range(2):
        await ws.send({"type": "send_message", "chat_id": chat, "client_msg_id": "same", "text": "once"})
    first, second = await ws.expect("ack"), await ws.expect("ack")
    assert first["message"]["id"] == second["message"]["id"]
    await ws.close()


async def test_burst_of_sends_arrives_in_seq_order(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token)
    for i in range(100):
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"m{i}", "text": f"{i}"})
    got = await b.persisted(100, kinds={"receive_message"})
    assert seqs(got) == list(range(1, 101))
    assert cursors(got) == sorted(cursors(got))
    await a.close()
    await b.close()


# -- typing and read -------------------------------------------------------------------------


async def test_typing_reaches_other_members_once_per_interval(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token)
    await a.send({"type": "ping"})
    await a.expect("pong")
    for _ in range(5):
        await a.send({"type": "typing", "chat_id": chat})
    assert await b.expect("typing") == {"type": "typing", "chat_id": chat, "user_id": alice.id}
    assert await b.quiet({"typing"}) == []
    assert await a.quiet({"typing"}, wait=0.1) == []
    await a.close()
    await b.close()


async def test_typing_in_foreign_chat_is_not_found(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> None:
    alice, bob, eve = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob])
    ws = await WsClient.open(node.ws_url, eve.token)
    await ws.send({"type": "ping"})
    await ws.expect("pong")
    await ws.send({"type": "typing", "chat_id": chat, "ref": "t"})
    assert (await ws.expect("error"))["code"] == "not_found"
    await ws.close()


async def test_read_is_persisted_and_reaches_members(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token)
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": cmid(), "text": "read me"})
    await b.expect("receive_message")
    await b.send({"type": "read", "chat_id": chat, "seq": 1})
    assert await a.expect("read") == {"type": "read", "chat_id": chat, "user_id": bob.id, "seq": 1}
    r = await http.get(f"/v1/chats/{chat}", headers=bob.headers)
    assert r.json().get("chat", r.json())["unread_count"] == 0
    await a.close()
    await b.close()


# -- resume ----------------------------------------------------------------------------------


async def _gone_member(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> tuple[User, User, int, str]:
    """Alice and Bob in a chat, and the cursor of a socket of Bob's that has closed since."""
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    b = await WsClient.open(node.ws_url, bob.token)
    await b.close()
    return alice, bob, chat, str(b.ready["cursor"])


async def test_resume_replays_exactly_the_messages_sent_meanwhile(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob, chat, cursor = await _gone_member(node, pg, http)
    a = await WsClient.open(node.ws_url, alice.token)
    for i in range(50):
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"r{i}", "text": f"m{i}"})
    for _ in range(50):
        await a.expect("ack")
    b = await WsClient.open(node.ws_url, bob.token)
    await b.send({"type": "resume", "cursor": cursor})
    got = await b.persisted(50)
    assert texts(got) == [f"m{i}" for i in range(50)]
    assert await b.quiet({"receive_message"}) == []
    await a.close()
    await b.close()


async def test_resume_while_a_sender_keeps_sending_has_no_gap_or_duplicate(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob, chat, cursor = await _gone_member(node, pg, http)
    a = await WsClient.open(node.ws_url, alice.token)
    total = 600
    for i in range(300):
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"s{i}", "text": f"m{i}"})

    async def keep_sending() -> None:
        for i in range(300, total):
            await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"s{i}", "text": f"m{i}"})
            if i % 20 == 0:
                await asyncio.sleep(0.005)

    sender = asyncio.create_task(keep_sending())
    b = await WsClient.open(node.ws_url, bob.token)
    await b.send({"type": "resume", "cursor": cursor})
    got = await b.persisted(total, timeout=30)
    await sender
    assert texts(got) == [f"m{i}" for i in range(total)]
    assert cursors(got) == sorted(set(cursors(got)))
    assert await b.quiet({"receive_message"}) == []
    await a.close()
    await b.close()


async def _wait_until_blocked_by(pg: asyncpg.Pool, pid: int) -> None:
    """Until a query of another connection waits for a lock that backend `pid` holds."""
    for _ in range(1000):
        if await pg.fetchval("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no query waited for the lock")


async def test_resume_right_after_a_late_ready_replays_everything_since_the_cursor(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    """The hold runs from `ready`, not from the socket's attach: a `ready` that comes later than
    the hold window after attach (its session check waits here on a row lock, as it can wait on
    a busy database) still lets a resume sent right after it switch with no gap."""
    alice, bob, chat, cursor = await _gone_member(node, pg, http)
    a = await WsClient.open(node.ws_url, alice.token)
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": cmid(), "text": "before"})
    await a.expect("receive_message")
    # A session last used over a minute ago: the socket's session check updates its row.
    await pg.execute("UPDATE sessions SET last_used_at = now() - interval '1 hour' WHERE id = $1", bob.session_id)
    async with pg.acquire() as holder, holder.transaction():
        await holder.execute("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", bob.session_id)
        b = await WsClient.open(node.ws_url, bob.token, wait_ready=False)
        # Attached (the socket's start cursor is fixed) and waiting for the row before `ready`.
        await _wait_until_blocked_by(pg, await holder.fetchval("SELECT pg_backend_pid()"))
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": cmid(), "text": "during"})
        await a.expect("receive_message")
        # Past the end of a hold window that would have started at attach.
        await asyncio.sleep(HOLD_WINDOW)
    await b.expect("ready")
    await b.send({"type": "resume", "cursor": cursor, "ref": "resume"})
    got: list[str] = []
    while len(got) < 2:
        frame = await b.recv()
        if frame["type"] == "receive_message":
            got.append(frame["message"]["text"])
        elif frame["type"] == "error":
            got.append(f"error {frame['code']}")
    assert got == ["before", "during"]
    assert await b.quiet({"receive_message", "error"}) == []
    await a.close()
    await b.close()


async def test_resume_from_trimmed_cursor_is_cursor_expired(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    await pg.execute("UPDATE event_stream SET trimmed_pos = 1 WHERE pos >= 1")
    try:
        ws = await WsClient.open(node.ws_url, user.token)
        await ws.send({"type": "resume", "cursor": "0", "ref": "r"})
        error = await ws.expect("error")
        assert (error["code"], error["ref"]) == ("cursor_expired", "r")
        await ws.send({"type": "ping"})
        await ws.expect("pong")
        await ws.close()
    finally:
        await pg.execute("UPDATE event_stream SET trimmed_pos = 0")


# -- membership and backpressure -------------------------------------------------------------


async def test_removed_member_stops_receiving_after_removal_frame(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await make_chat(http, alice, [bob])
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token)
    await b.send({"type": "ping"})
    await b.expect("pong")
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": "before", "text": "before"})
    await b.expect("receive_message")
    r = await http.delete(f"/v1/chats/{chat}/members/{bob.id}", headers=alice.headers)
    assert r.status_code == 204
    removed = await b.expect("member_removed")
    assert (removed["chat_id"], removed["user_id"]) == (chat, bob.id)
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": "after", "text": "after"})
    await a.expect("ack")
    assert await b.quiet({"receive_message", "chat_updated"}) == []
    await a.close()
    await b.close()


async def test_added_member_starts_receiving_at_once(node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient) -> None:
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await make_chat(http, alice, [bob])
    c = await WsClient.open(node.ws_url, carol.token)
    await c.send({"type": "ping"})
    await c.expect("pong")
    r = await http.post(f"/v1/chats/{chat}/members", json={"user_id": carol.id}, headers=alice.headers)
    assert r.status_code == 201, r.text
    assert (await c.expect("member_added"))["user_id"] == carol.id
    a = await WsClient.open(node.ws_url, alice.token)
    await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": "welcome", "text": "welcome"})
    assert (await c.expect("receive_message"))["message"]["text"] == "welcome"
    await a.close()
    await c.close()


async def test_slow_consumer_is_closed_4008_without_delaying_others(
    rtdb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str], pg: asyncpg.Pool
) -> None:
    env = base_env(
        DATABASE_URL=rtdb[0],
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-ws-"),
        WS_QUEUE_LIMIT="256",
        WS_FRAME_RATE="100000",
        WS_FRAME_BURST="100000",
    )
    alice, bob, slow = [await make_user(pg) for _ in range(3)]
    async with running_server(env) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        chat = await make_chat(http, alice, [bob, slow])
        s = await WsClient.open(srv.ws_url, slow.token, rcvbuf=16 * 1024)
        # A client that stops reading (with a small fixed receive buffer: see WsClient.open).
        s.conn.transport.pause_reading()
        b = await WsClient.open(srv.ws_url, bob.token)
        a = await WsClient.open(srv.ws_url, alice.token)
        big = "x" * 4000
        total = 2000
        got: list[dict[str, object]] = []
        for start in range(0, total, 20):
            for i in range(start, start + 20):
                await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"f{i}", "text": big})
            got += await b.persisted(20, kinds={"receive_message"})
            await a.persisted(20, kinds={"receive_message"})  # the sender reads too
        assert seqs(got) == list(range(1, total + 1))
        s.conn.transport.resume_reading()
        code, _ = await s.closed(timeout=20)
        assert code == 4008
        await a.close()
        await b.close()


async def test_frames_held_back_by_slow_readers_arrive_whole_in_order_and_once(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    """Members that stop reading make the server's transport pause (900 messages of up to 16 KiB
    are more than the kernel's send buffer takes, 4 MiB at most): frames then wait in the peer
    and go out joined in one write when it resumes. The `websockets` client parses every byte
    (a bad header, length or UTF-8 sequence fails the connection) and each frame is JSON."""
    alice, bob, *slow_users = [await make_user(pg) for _ in range(5)]
    chat = await make_chat(http, alice, [bob, *slow_users])
    slow = [await WsClient.open(node.ws_url, u.token, rcvbuf=16 * 1024) for u in slow_users]
    for s in slow:
        s.conn.transport.pause_reading()
    a = await WsClient.open(node.ws_url, alice.token)
    b = await WsClient.open(node.ws_url, bob.token)
    pieces = ["x", "y" * 100, "z" * 4096, "é" * 4096, "€" * 4096, "😀" * 4096]
    sent = [f"{i} {pieces[i % len(pieces)]}"[:4096] for i in range(900)]
    got: list[dict[str, Any]] = []
    for start in range(0, len(sent), 20):
        for i in range(start, start + 20):
            await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": f"w{i}", "text": sent[i]})
        await a.persisted(20, kinds={"receive_message"})  # the sender reads its own copies
        got += await b.persisted(20, kinds={"receive_message"})
    assert texts(got) == sent
    for s in slow:
        s.conn.transport.resume_reading()
        held = await s.persisted(len(sent), timeout=60, kinds={"receive_message"})
        assert (texts(held), seqs(held)) == (sent, list(range(1, len(sent) + 1)))
        assert await s.quiet({"receive_message"}) == []
        await s.close()
    await a.close()
    await b.close()


async def test_asyncapi_document_lists_every_frame(http: httpx.AsyncClient) -> None:
    r = await http.get("/asyncapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["asyncapi"] == "3.0.0"
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {"auth", "send_message", "typing", "read", "resume", "ping"} <= names
    assert {"ready", "ack", "receive_message", "member_removed", "presence", "error", "pong"} <= names


async def test_new_chat_reaches_online_member_as_sync_would_show_it(
    node: Server, pg: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    b = await WsClient.open(node.ws_url, bob.token)
    await b.send({"type": "ping"})
    await b.expect("pong")
    cursor = b.ready["cursor"]
    chat = await make_chat(http, alice, [bob, carol])
    live = await b.persisted(4)
    r = await http.get("/v1/sync", params={"since": cursor}, headers=bob.headers)
    assert live == r.json()["events"]
    assert [f["type"] for f in live] == ["chat_updated", "member_added", "member_added", "member_added"]
    assert live[0]["chat"]["id"] == chat
    await b.close()


async def test_msgpack_client_can_authenticate_with_a_binary_auth_frame(node: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(node.ws_url, user.token, msgpack=True, auth_frame=True)
    assert ws.ready["user_id"] == user.id
    await ws.send({"type": "ping", "ref": 5})
    assert await ws.expect("pong") == {"type": "pong", "ref": 5}
    await ws.close()


@pytest.fixture(scope="module")
async def brisk(rtdb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> AsyncIterator[Server]:
    """A node with a 1 s heartbeat and a 3 s idle timeout."""
    env = base_env(
        DATABASE_URL=rtdb[0],
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-ws-"),
        WS_HEARTBEAT="1",
        WS_IDLE_TIMEOUT="3",
    )
    async with running_server(env) as srv:
        yield srv


async def test_server_sends_heartbeats(brisk: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(brisk.ws_url, user.token)
    assert await ws.expect("heartbeat", timeout=5) == {"type": "heartbeat", "interval": 1}
    await ws.close()


async def test_idle_socket_is_closed_1001(brisk: Server, pg: asyncpg.Pool) -> None:
    user = await make_user(pg)
    ws = await WsClient.open(brisk.ws_url, user.token)
    code, _ = await ws.closed(timeout=10)
    assert code == 1001


async def test_shutdown_closes_sockets_1012(rtdb: tuple[str, asyncpg.Pool], pg: asyncpg.Pool) -> None:
    env = base_env(DATABASE_URL=rtdb[0], MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-ws-"))
    user = await make_user(pg)
    async with running_server(env) as srv:
        ws = await WsClient.open(srv.ws_url, user.token)
        stopping = asyncio.create_task(asyncio.to_thread(srv.stop))
        code, _ = await ws.closed()
        await stopping
    assert code == 1012
