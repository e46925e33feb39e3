"""The real-service test rig: PostgreSQL databases, an SMTP sink, and server processes.

Servers run as real `messenger serve` subprocesses (uvicorn on a free port), so tests exercise
the same sockets, process model and signal handling as production, and several nodes can be
started (and killed) side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ADMIN_DSN = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET_KEY = "test-secret-key-0123456789abcdef"
# One TLS context for the clients a test makes over and over (the `client` fixture, readiness
# polls): httpx otherwise builds one per client, loading the CA bundle, tens of ms each. The
# test servers speak plain HTTP; this only spares that cost.
TLS = httpx.create_ssl_context()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def dsn_for(database: str) -> str:
    base, _, _ = ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def create_database() -> tuple[str, str]:
    name = f"mtest_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, dsn_for(name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class Mailbox:
    """Messages received by the aiosmtpd sink."""

    messages: list[Message] = field(default_factory=list)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        self.box.messages.append(message_from_bytes(content if isinstance(content, bytes) else content.encode()))
        return "250 OK"


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[Mailbox, str]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/ws"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: the node dies without any cleanup, as in a crash."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "SMTP_", "S3_"))}
    env.update(
        SECRET_KEY=SECRET_KEY,
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # Tests share 127.0.0.1 as client address; the limits are tested with their own servers.
        RATE_LIMIT_LOGIN="1000",
        RATE_LIMIT_LOGIN_IP="100000",
        RATE_LIMIT_REGISTER="100000",
        RATE_LIMIT_EMAIL="100000",
    )
    env.update(overrides)
    return env


class PortTaken(RuntimeError):
    pass


async def start_server(env: dict[str, str], *, args: tuple[str, ...] = (), timeout: float = 60) -> Server:
    # free_port() can race with another process binding the same port between our probe and
    # the server's bind; on that (and only that) failure, try again on a new port.
    for attempt in range(4):
        try:
            return await _start_server(env, args=args, timeout=timeout)
        except PortTaken:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


async def _start_server(env: dict[str, str], *, args: tuple[str, ...], timeout: float) -> Server:
    port = free_port()
    env = dict(env)
    env.setdefault("MESSENGER_DATA_DIR", tempfile.mkdtemp(prefix="messenger-test-"))
    env["PORT"] = str(port)
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    log_path = Path(tempfile.mkstemp(prefix="messenger-server-", suffix=".log")[1])
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "messenger", "serve", "--host", "127.0.0.1", "--no-web-build", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", port, proc, log_path, env)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(verify=TLS) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                output = server.log()
                if "address already in use" in output:
                    raise PortTaken(output)
                raise RuntimeError(f"server exited with {proc.returncode}:\n{output}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(server.url + "/readyz", timeout=2)).status_code == 200:
                    return server
            await asyncio.sleep(0.1)
    server.kill()
    raise RuntimeError(f"server did not become ready in {timeout}s:\n{server.log()}")


@contextlib.asynccontextmanager
async def running_server(env: dict[str, str], *, args: tuple[str, ...] = ()) -> AsyncIterator[Server]:
    server = await start_server(env, args=args)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def nodes_env(database_url: str, smtp_url: str, redis_url: str) -> dict[str, str]:
    """The environment of several nodes sharing one database and one Redis (or Redis Cluster),
    on a prefix of their own: presence notices a silent node within 3 s and a closed last
    socket within 1 s (not the defaults' 30 s and 5 s), and the frame limits stay out of the way."""
    return base_env(
        DATABASE_URL=database_url,
        SMTP_URL=smtp_url,
        REDIS_URL=redis_url,
        REDIS_PREFIX=f"mtest:{uuid.uuid4().hex[:8]}:",
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-nodes-"),
        WS_FRAME_RATE="2000",
        WS_FRAME_BURST="2000",
        PRESENCE_TTL="3",
        PRESENCE_GRACE="1",
    )


@contextlib.asynccontextmanager
async def three_nodes(env: dict[str, str]) -> AsyncIterator[tuple[Server, Server, Server]]:
    """Three server processes on `env`, started side by side and stopped together."""
    started = await asyncio.gather(*(start_server(env) for _ in range(3)))
    try:
        yield started[0], started[1], started[2]
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in started))
