"""Lean load-generator clients: a WebSocket client and a keep-alive HTTP/1.1 client.

The load comes from the same two cores as the server, so every microsecond the client spends
per frame is taken from the server. `LeanWs` is a WebSocket client on a bare asyncio Protocol
(uvloop): the frame parser works on one buffer per read and calls back synchronously, with no
per-frame task, future or queue. Client frames are masked as RFC 6455 requires, with a random
key and the websockets library's C `apply_mask`. `LibWs` wraps the `websockets` asyncio client
behind the same interface for comparison (`--client websockets`); on this machine it costs
about 2-3x the client CPU per received frame (see bench/README.md).

`LeanHttp` is a keep-alive HTTP/1.1 client on httptools' response parser, wrk-style: one
request in flight per connection.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import struct
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

import httptools
from websockets.speedups import apply_mask

OnFrame = Callable[[bytes, bool], None]

# How many undecodable frames a client process describes in its result (the rest are counted).
UNDECODABLE_SAMPLES = 3


def describe_undecodable(payload: bytes, binary: bool, exc: Exception) -> str:
    """A frame the bench could not decode, told well enough to diagnose the next failure from
    the results alone: the decoder's complaint, the frame header as the parser read it (opcode,
    payload length and the width of the length field it came in) and the payload's ends."""
    n = len(payload)
    field = "7-bit" if n < 126 else "16-bit" if n < 65536 else "64-bit"
    head, tail = payload[:160], payload[max(160, n - 80) :]
    return (
        f"{exc}; {'binary (opcode 0x2)' if binary else 'text (opcode 0x1)'} frame, {n} payload bytes "
        f"({field} length field): {head!r}{' ... ' + repr(tail) if tail else ''}"
    )


class HandshakeError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"WebSocket handshake refused: HTTP {status} {body[:200]!r}")
        self.status = status


def split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme in ("https", "wss") else 80)


class LeanWs(asyncio.Protocol):
    """One WebSocket connection. Frames arrive through `on_frame(payload, is_binary)`."""

    def __init__(self, on_frame: OnFrame) -> None:
        self.on_frame = on_frame
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._handshake: asyncio.Future[None] | None = None
        self._upgraded = False
        self._fragments: list[bytes] = []
        self._fragment_binary = False
        self._paused = False
        self._resume: asyncio.Future[None] | None = None
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.subprotocol: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        on_frame: OnFrame,
        *,
        headers: dict[str, str] | None = None,
        subprotocol: str | None = None,
        timeout: float = 30.0,
    ) -> LeanWs:
        loop = asyncio.get_running_loop()
        _, proto = await asyncio.wait_for(loop.create_connection(lambda: cls(on_frame), host, port), timeout)
        await asyncio.wait_for(proto._upgrade(host, port, path, headers or {}, subprotocol), timeout)
        return proto

    async def _upgrade(self, host: str, port: int, path: str, headers: dict[str, str], subprotocol: str | None) -> None:
        assert self.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        self._handshake = asyncio.get_running_loop().create_future()
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self._handshake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ConnectionError("connection lost during handshake"))
        if not self.closed.done():
            self.closed.set_result(1006)
        if self._resume is not None and not self._resume.done():
            self._resume.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._resume is not None and not self._resume.done():
            self._resume.set_result(None)

    # -- receiving -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            status_line, *header_lines = head.split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            assert self._handshake is not None
            if status != 101:
                self._handshake.set_exception(HandshakeError(status, bytes(buf)))
                assert self.transport is not None
                self.transport.close()
                return
            for line in header_lines:
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-protocol":
                    self.subprotocol = value.strip()
            self._upgraded = True
            self._handshake.set_result(None)
            if not buf:
                return
        pos = 0
        n = len(buf)
        on_frame = self.on_frame
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            hlen = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hlen = 4
            elif length == 127:
                if n - pos < 10:
                    break
                (length,) = struct.unpack_from("!Q", buf, pos + 2)
                hlen = 10
            mask = b""
            if b1 & 0x80:  # servers must not mask, but tolerate it
                if n - pos < hlen + 4:
                    break
                mask = bytes(buf[pos + hlen : pos + hlen + 4])
                hlen += 4
            end = pos + hlen + length
            if end > n:
                break
            payload = bytes(buf[pos + hlen : end])
            if mask:
                payload = apply_mask(payload, mask)
            pos = end
            opcode = b0 & 0x0F
            if opcode == 1 or opcode == 2:
                if b0 & 0x80:
                    on_frame(payload, opcode == 2)
                else:
                    self._fragments = [payload]
                    self._fragment_binary = opcode == 2
            elif opcode == 0:
                self._fragments.append(payload)
                if b0 & 0x80:
                    on_frame(b"".join(self._fragments), self._fragment_binary)
                    self._fragments = []
            elif opcode == 9:
                self._write_frame(0x8A, payload)
            elif opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(code)
                self._write_frame(0x88, payload[:2])
                assert self.transport is not None
                self.transport.close()
                break
        if pos:
            del buf[:pos]

    # -- sending ---------------------------------------------------------------------------

    def _write_frame(self, first: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            header = bytes((first, 0x80 | n))
        elif n < 65536:
            header = struct.pack("!BBH", first, 0xFE, n)
        else:
            header = struct.pack("!BBQ", first, 0xFF, n)
        key = random.getrandbits(32).to_bytes(4, "little")
        transport.write(header + key + apply_mask(payload, key))

    def send_nowait(self, payload: bytes, binary: bool = False) -> None:
        """Queue a frame in the transport (no backpressure: callers pace themselves)."""
        self._write_frame(0x82 if binary else 0x81, payload)

    async def send(self, payload: bytes, binary: bool = False) -> None:
        self._write_frame(0x82 if binary else 0x81, payload)
        if self._paused:
            self._resume = asyncio.get_running_loop().create_future()
            await self._resume

    @property
    def is_open(self) -> bool:
        return self._upgraded and not self.closed.done()

    async def close(self, code: int = 1000, timeout: float = 2.0) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._write_frame(0x88, struct.pack("!H", code))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        if self.transport is not None:
            self.transport.close()


class LibWs:
    """The `websockets` library's asyncio client behind LeanWs's interface."""

    def __init__(self, on_frame: OnFrame) -> None:
        self.on_frame = on_frame
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reader: asyncio.Task[None] | None = None
        self._ws: object = None

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        on_frame: OnFrame,
        *,
        headers: dict[str, str] | None = None,
        subprotocol: str | None = None,
        timeout: float = 30.0,
    ) -> LibWs:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidStatus
        from websockets.typing import Subprotocol

        self = cls(on_frame)
        try:
            ws = await connect(
                f"ws://{host}:{port}{path}",
                additional_headers=headers or {},
                subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
                compression=None,
                open_timeout=timeout,
                ping_interval=None,
                max_size=None,
                max_queue=None,
            )
        except InvalidStatus as exc:
            raise HandshakeError(exc.response.status_code, bytes(exc.response.body or b"")) from None
        self._ws = ws
        self._reader = asyncio.create_task(self._read(ws))
        return self

    async def _read(self, ws: object) -> None:
        from websockets.asyncio.client import ClientConnection
        from websockets.exceptions import ConnectionClosed

        assert isinstance(ws, ClientConnection)
        try:
            async for message in ws:
                if isinstance(message, str):
                    self.on_frame(message.encode(), False)
                else:
                    self.on_frame(message, True)
        except ConnectionClosed:
            pass
        if not self.closed.done():
            self.closed.set_result(ws.close_code or 1006)

    def send_nowait(self, payload: bytes, binary: bool = False) -> None:
        asyncio.get_running_loop().create_task(self.send(payload, binary))

    async def send(self, payload: bytes, binary: bool = False) -> None:
        from websockets.asyncio.client import ClientConnection
        from websockets.exceptions import ConnectionClosed

        ws = self._ws
        assert isinstance(ws, ClientConnection)
        with contextlib.suppress(ConnectionClosed):
            await ws.send(payload, text=not binary)

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    async def close(self, code: int = 1000, timeout: float = 2.0) -> None:
        from websockets.asyncio.client import ClientConnection

        ws = self._ws
        assert isinstance(ws, ClientConnection)
        await ws.close(code)
        if self._reader is not None:
            await self._reader


WsConn = LeanWs | LibWs


async def ws_connect(
    kind: str,
    host: str,
    port: int,
    path: str,
    on_frame: OnFrame,
    *,
    headers: dict[str, str] | None = None,
    subprotocol: str | None = None,
) -> WsConn:
    if kind == "websockets":
        return await LibWs.connect(host, port, path, on_frame, headers=headers, subprotocol=subprotocol)
    return await LeanWs.connect(host, port, path, on_frame, headers=headers, subprotocol=subprotocol)


class HttpResponse:
    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


class LeanHttp(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection, one request in flight at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host_header = f"{host}:{port}"
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._body: list[bytes] = []
        self._waiter: asyncio.Future[HttpResponse] | None = None

    @classmethod
    async def connect(cls, host: str, port: int) -> LeanHttp:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_connection(lambda: cls(host, port), host, port)
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("HTTP connection lost"))

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        body = b"".join(self._body)
        self._body = []
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(HttpResponse(self._parser.get_status_code(), body))

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes | None = None
    ) -> HttpResponse:
        assert self.transport is not None
        if self.transport.is_closing():
            raise ConnectionError("HTTP connection closed")
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host_header}"]
        if headers:
            lines.extend(f"{k}: {v}" for k, v in headers.items())
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + body if body is not None else head)
        return await self._waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
