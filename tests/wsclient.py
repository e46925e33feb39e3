"""A small WebSocket test client (the `websockets` library) speaking the contract's frames,
plus the realtime tests' own database: the shared suite database rewinds the event stream
after every test, which a long-running node (correctly) refuses to go back on."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

from messenger import db as dbmod

from .factories import User
from .rig import create_database, drop_database

PERSISTED = {"receive_message", "message_edited", "message_deleted", "chat_updated", "member_added", "member_removed"}


class WsClient:
    def __init__(self, conn: ClientConnection, binary: bool) -> None:
        self.conn = conn
        self.binary = binary
        self.backlog: list[dict[str, Any]] = []
        self.ready: dict[str, Any] = {}

    @classmethod
    async def open(
        cls,
        ws_url: str,
        token: str | None = None,
        *,
        msgpack: bool = False,
        origin: str | None = None,
        auth_frame: bool = False,
        wait_ready: bool = True,
        rcvbuf: int | None = None,
    ) -> WsClient:
        """`rcvbuf` fixes the socket's receive buffer before connecting (no autotuning), to
        make a client that stops reading back up the server quickly."""
        sock = None
        if rcvbuf is not None:
            host, port = urlsplit(ws_url).hostname, urlsplit(ws_url).port
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        headers = {}
        if token is not None and not auth_frame:
            headers["Authorization"] = f"Bearer {token}"
        conn = await connect(
            ws_url,
            additional_headers=headers,
            subprotocols=[Subprotocol("messenger.msgpack")] if msgpack else None,
            origin=Origin(origin) if origin else None,
            max_size=None,
            # Unread frames must not stop the client from reading the server's close frame.
            max_queue=None,
            ping_interval=None,
            compression=None,
            sock=sock,
        )
        client = cls(conn, msgpack)
        if auth_frame and token is not None:
            await client.send({"type": "auth", "token": token})
        if wait_ready:
            client.ready = await client.expect("ready")
        return client

    async def send(self, frame: dict[str, Any]) -> None:
        if self.binary:
            await self.conn.send(msgspec.msgpack.encode(frame))
        else:
            await self.conn.send(msgspec.json.encode(frame).decode())

    async def send_raw(self, data: str | bytes) -> None:
        await self.conn.send(data)

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        if self.backlog:
            return self.backlog.pop(0)
        data = await asyncio.wait_for(self.conn.recv(), timeout)
        if isinstance(data, bytes):
            assert self.binary, "binary frame on a JSON socket"
            frame: dict[str, Any] = msgspec.msgpack.decode(data)
        else:
            assert not self.binary, "text frame on a MessagePack socket"
            frame = msgspec.json.decode(data)
        return frame

    async def expect(self, kind: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        """The next frame of type `kind` (other frames in between are kept for later)."""
        deadline = time.monotonic() + timeout
        skipped: list[dict[str, Any]] = []
        try:
            while True:
                frame = await self.recv(max(0.01, deadline - time.monotonic()))
                if frame["type"] == kind and all(frame.get(k) == v for k, v in fields.items()):
                    return frame
                skipped.append(frame)
        finally:
            self.backlog[:0] = skipped

    async def persisted(self, count: int, timeout: float = 15, kinds: set[str] | None = None) -> list[dict[str, Any]]:
        """The next `count` persisted frames (of `kinds`), dropping ephemeral ones."""
        kinds = kinds or PERSISTED
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            frame = await self.recv(max(0.01, deadline - time.monotonic()))
            if frame["type"] in kinds:
                out.append(frame)
        return out

    async def quiet(self, kinds: set[str], wait: float = 0.5) -> list[dict[str, Any]]:
        """Frames of `kinds` that arrive within `wait` (used to show that nothing more comes)."""
        seen: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            deadline = time.monotonic() + wait
            while True:
                frame = await self.recv(max(0.001, deadline - time.monotonic()))
                if frame["type"] in kinds:
                    seen.append(frame)
        return seen

    async def closed(self, timeout: float = 10) -> tuple[int | None, str]:
        """Read until the server closes; returns (code, reason)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self.conn.recv()
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code if rcvd else None), (rcvd.reason if rcvd else "")
        raise AssertionError("socket still open")

    async def close(self) -> None:
        await self.conn.close()


@contextlib.asynccontextmanager
async def clients(*items: Any) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for c in items:
            with contextlib.suppress(Exception):
                await c.close()


async def fresh_database() -> tuple[str, str]:
    name, dsn = await create_database()
    await dbmod.migrate(dsn)
    return name, dsn


async def drop(name: str) -> None:
    await drop_database(name)


async def pool(dsn: str) -> asyncpg.Pool:
    p = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
    assert p is not None
    return p


@contextlib.asynccontextmanager
async def private_database() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A migrated database of its own (DSN and pool) for a module whose long-running nodes must
    not see the shared database's per-test cleanup rewind the event stream."""
    name, dsn = await fresh_database()
    p = await pool(dsn)
    try:
        yield dsn, p
    finally:
        await p.close()
        await drop(name)


async def make_chat(http: httpx.AsyncClient, owner: User, members: list[User], kind: str = "group") -> int:
    r = await http.post(
        "/v1/chats",
        json={"kind": kind, "title": "room", "member_ids": [m.id for m in members]},
        headers=owner.headers,
    )
    assert r.status_code in (200, 201), r.text
    chat_id: int = r.json()["chat"]["id"] if "chat" in r.json() else r.json()["id"]
    return chat_id


def seqs(frames_: list[dict[str, Any]]) -> list[int]:
    return [f["message"]["seq"] for f in frames_]


def cursors(frames_: list[dict[str, Any]]) -> list[int]:
    return [int(f["cursor"]) for f in frames_]


def texts(frames_: list[dict[str, Any]]) -> list[str]:
    return [f["message"]["text"] for f in frames_]


Predicate = Callable[[dict[str, Any]], bool]
