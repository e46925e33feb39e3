"""A connection's objects: freed by reference counting when it ends, not left to the collector,
and few while it lives.

Objects in a reference cycle wait for a collection, and the collection that finds long-lived
ones walks every tracked object of the process, pausing every socket of the node (bench/README.md,
"The tail at 1,000 msgs/s on a quiet machine"). These tests hold the per-connection objects to
being freed as soon as they are dropped: a WebSocket that authenticates, talks and closes,
and an HTTP connection, leave no reference cycle among the server's objects. And an idle
socket's task waits in the gateway's own coroutines only (app.py, App).

The server runs in this process here (uvicorn on a free port with `messenger serve`'s protocol
classes), because only this process's collector can be asked what it finds.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn

from messenger.app import create_app
from messenger.httpd import BoundedHttpToolsProtocol, protocol_options
from messenger.settings import Settings

from .chat_factories import new_chat
from .factories import make_user
from .rig import SECRET_KEY, free_port
from .wsclient import WsClient

# The server's own per-connection objects come from these modules; the test's clients (the
# `websockets` client protocol, httpx) come from others and may form cycles of their own.
SERVER_MODULES = ("messenger.", "uvicorn.", "websockets.server", "starlette.")


@pytest.fixture
async def inprocess(database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A server in this process; yields its base URL."""
    # The protocol reads its limits from the environment once per process; given here instead.
    monkeypatch.setattr(BoundedHttpToolsProtocol, "_limits", (1000, 10.0))
    settings = Settings(
        database_url=database,
        secret_key=SECRET_KEY,
        data_dir=tmp_path,
        bcrypt_rounds=4,
        log_level="WARNING",
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        **protocol_options(),
        proxy_headers=False,
        lifespan="on",
        log_config=None,
    )
    # It catches SIGINT/SIGTERM while it serves and gives the test process its handlers back after.
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task  # its lifespan's end gives the collector back as it was (collector.serve)


@contextmanager
def cycles_found() -> Iterator[list[str]]:
    """The server-side types in reference cycles formed inside the block."""
    found: list[str] = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield found
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        found += sorted(
            {
                f"{type(o).__module__}.{type(o).__qualname__}"
                for o in gc.garbage
                if type(o).__module__.startswith(SERVER_MODULES)
            }
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


async def _until_closed_on_server(base: str) -> None:
    """Until the server holds no connection: its side of a close runs after the client's."""
    for _ in range(200):
        if not [t for t in asyncio.all_tasks() if (t.get_coro().__qualname__ or "").endswith("run_asgi")]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the server at {base} still runs a connection")


async def test_a_websocket_that_talks_and_closes_leaves_no_reference_cycle(inprocess: str, db: asyncpg.Pool) -> None:
    ws_url = inprocess.replace("http", "ws", 1) + "/v1/ws"
    alice, bob = await make_user(db), await make_user(db)
    async with httpx.AsyncClient(base_url=inprocess) as client:
        chat = (await new_chat(client, alice, "group", bob))["id"]
    with cycles_found() as found:
        a = await WsClient.open(ws_url, alice.token)
        b = await WsClient.open(ws_url, bob.token, msgpack=True)
        await a.send({"type": "send_message", "chat_id": chat, "client_msg_id": "c1", "text": "hi"})
        await a.expect("ack")
        await b.expect("receive_message")
        await b.send({"type": "typing", "chat_id": chat})
        await a.expect("typing")
        await a.conn.close()
        await b.conn.close()
        await _until_closed_on_server(inprocess)
    assert found == []


async def test_a_websocket_closed_by_the_server_leaves_no_reference_cycle(inprocess: str, db: asyncpg.Pool) -> None:
    ws_url = inprocess.replace("http", "ws", 1) + "/v1/ws"
    alice = await make_user(db)
    with cycles_found() as found:
        a = await WsClient.open(ws_url, alice.token)
        await a.send_raw("{not json")
        assert (await a.expect("error"))["code"] == "bad_frame"
        await a.send({"type": "ping", "ref": "x" * (65 * 1024)})
        assert (await a.closed())[0] == 1009
        bad = await WsClient.open(ws_url, "not-a-token", auth_frame=True, wait_ready=False)
        assert (await bad.closed())[0] == 4001
        await _until_closed_on_server(inprocess)
    assert found == []


async def test_http_requests_leave_no_reference_cycle(inprocess: str, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    with cycles_found() as found:
        async with httpx.AsyncClient(base_url=inprocess) as client:
            assert (await client.get("/v1/chats", headers=alice.headers)).status_code == 200
            assert (await client.get("/v1/chats")).status_code == 401
            assert (await client.get("/v1/no-such-route")).status_code == 404
            json = {"Content-Type": "application/json"}
            assert (await client.post("/v1/auth/login", content=b"{", headers=json)).status_code == 400
        await asyncio.sleep(0.1)
    assert found == []


def _awaiting(task: asyncio.Task[object]) -> list[str]:
    """The chain of coroutines a task waits in, outermost first."""
    chain: list[str] = []
    coro: object = task.get_coro()
    while coro is not None:
        chain.append(getattr(coro, "__qualname__", type(coro).__qualname__))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


async def test_an_idle_socket_waits_in_the_gateway_alone_not_in_the_middleware(
    inprocess: str, db: asyncpg.Pool
) -> None:
    ws_url = inprocess.replace("http", "ws", 1) + "/v1/ws"
    alice = await make_user(db)
    ws = await WsClient.open(ws_url, alice.token)
    try:
        (task,) = [t for t in asyncio.all_tasks() if _awaiting(t)[0].endswith("run_asgi")]
        chain = _awaiting(task)
        assert chain[:3] == ["WebSocketsSansIOProtocol.run_asgi", "App.__call__", "Gateway.__call__"]
        assert not [name for name in chain if "Middleware" in name or name.startswith("Router")]
    finally:
        await ws.conn.close()
        await _until_closed_on_server(inprocess)
