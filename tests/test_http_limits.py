"""Bounded HTTP on a real `messenger serve`, over raw sockets: header size, header deadline,
Host, the connection cap, and memory while 200 connections push oversized or endless headers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psutil
import pytest

from .rig import Server, running_server

HEADER_LIMIT = 16 * 1024


@pytest.fixture(scope="module")
async def strict_server(server_env: dict[str, str]) -> AsyncIterator[Server]:
    """A server with a 1 s header deadline and room for 20 connections."""
    env = {**server_env, "HTTP_HEADER_TIMEOUT": "1", "HTTP_MAX_CONNECTIONS": "20"}
    async with running_server(env) as srv:
        yield srv


async def _exchange(server: Server, request: bytes) -> bytes:
    """Send `request`, return everything the server says until it closes or 30 s pass."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(request)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return await asyncio.wait_for(_read_response(reader), 30)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return head + await reader.readexactly(int(line.split(b":")[1]))
    return head


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_headers_over_16_kib_are_431(server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEADER_LIMIT + b"\r\n\r\n"
    assert _status(await _exchange(server, request)) == 431


async def test_headers_just_under_16_kib_are_served(server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (HEADER_LIMIT - 100) + b"\r\n\r\n"
    assert _status(await _exchange(server, request)) == 200


async def test_a_request_without_host_is_400(server: Server) -> None:
    assert _status(await _exchange(server, b"GET /healthz HTTP/1.1\r\n\r\n")) == 400


async def test_a_request_with_two_hosts_is_400(server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
    assert _status(await _exchange(server, request)) == 400


async def test_a_websocket_handshake_with_two_hosts_is_400(server: Server) -> None:
    request = (
        b"GET /v1/ws HTTP/1.1\r\nHost: a\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert _status(await _exchange(server, request)) == 400


async def test_headers_trickled_past_the_deadline_are_cut_off(strict_server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\n")

        async def trickle() -> bytes:
            # One header byte every 0.2 s: each byte resets an idle timer, not the deadline.
            while True:
                writer.write(b"X")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(reader.read(1), 0.2)

        assert await asyncio.wait_for(trickle(), 30) == b""
    finally:
        writer.close()


async def test_a_kept_alive_connection_gets_a_new_deadline_after_each_response(strict_server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(await _read_response(reader)) == 200
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # and never the rest
        assert await asyncio.wait_for(reader.read(1), 30) == b""
    finally:
        writer.close()


async def test_one_connection_over_the_cap_is_503_and_the_cap_frees_up(strict_server: Server) -> None:
    # Twenty requests whose bodies never come: their headers are complete, so they stay open.
    held = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", strict_server.port)
        writer.write(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: 100\r\n\r\n{")
        await writer.drain()
        held.append((reader, writer))
    try:
        refused = await _exchange(strict_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (_status(refused), b"retry-after: 1" in refused.lower()) == (503, True)
    finally:
        for _, writer in held:
            writer.close()
    for _ in range(100):
        if _status(await _exchange(strict_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the server never took connections again after the flood closed")


async def _push_headers(server: Server, oversized: bool) -> bytes:
    """Push 1 MiB of header bytes (one huge header, or endless short ones) until refused."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + (b"X-Big: " if oversized else b""))
        piece = b"a" * 8192 if oversized else b"X-Endless: yes\r\n" * 512
        for _ in range(128):
            try:
                writer.write(piece)
                await writer.drain()
            except ConnectionError:  # the server answered and closed
                break
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            return await asyncio.wait_for(_read_response(reader), 30)
        return b""
    finally:
        writer.close()


async def test_memory_stays_flat_while_200_connections_push_huge_headers(server: Server) -> None:
    process = psutil.Process(server.proc.pid)
    # Warm up allocator pools with one round, so the measured round shows growth, not setup.
    await asyncio.gather(*(_push_headers(server, i % 2 == 0) for i in range(20)))
    before = process.memory_info().rss
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    answers = await asyncio.gather(*(_push_headers(server, i % 2 == 0) for i in range(200)))
    done.set()
    await sampler
    # Every connection was refused (431) or cut off; none was served.
    assert not [a for a in answers if a and _status(a) != 431]
    assert (peak - before) / 2**20 < 8
