"""The worker process: a digest mail survives a worker killed mid-send (exactly one mail), the
cleanup jobs delete what expired and nothing else, and /metrics counts jobs.

Real `messenger worker` subprocesses against this module's own database and Redis prefix, a
Redis-backed node for the API, and an aiosmtpd sink that can hold a delivery half-way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes
from typing import Any

import asyncpg
import httpx
import pytest

from .chat_factories import new_chat, send
from .factories import make_user
from .rig import REDIS_URL, TLS, Mailbox, Server, base_env, free_port, running_server
from .wsclient import private_database


class HoldingHandler:
    """An SMTP sink that, while held, keeps every session waiting at RCPT TO."""

    def __init__(self) -> None:
        self.box = Mailbox()
        self.released = threading.Event()
        self.released.set()
        self.holding = threading.Event()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if not self.released.is_set():
            self.holding.set()
            await asyncio.to_thread(self.released.wait, 60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        self.box.messages.append(message_from_bytes(content if isinstance(content, bytes) else content.encode()))
        return "250 OK"


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[HoldingHandler, str]]:
    from aiosmtpd.controller import Controller

    handler = HoldingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, f"smtp://127.0.0.1:{port}"
    finally:
        handler.released.set()
        controller.stop()


@pytest.fixture(scope="module")
async def wdb() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
def env(
    wdb: tuple[str, asyncpg.Pool], sink: tuple[HoldingHandler, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    return base_env(
        DATABASE_URL=wdb[0],
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=f"mtest:{uuid.uuid4().hex[:8]}:",
        SMTP_URL=sink[1],
        MESSENGER_DATA_DIR=str(tmp_path_factory.mktemp("worker-data")),
        NOTIFICATION_EMAIL_WINDOW="1",
        WORKER_METRICS_PORT="0",
    )


@pytest.fixture(scope="module")
async def node(env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server(env) as srv:
        yield srv


@pytest.fixture
async def http(node: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.url, timeout=30, verify=TLS) as c:
        yield c


@pytest.fixture
def pg(wdb: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return wdb[1]


# Each worker's output, by pid: kept in a file (a long-running worker could fill a pipe) and
# printed by `finish` when the worker failed, so a failing test shows why the worker exited.
_LOGS: dict[int, str] = {}


def start_worker(env: dict[str, str], *, burst: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "messenger", "worker", *(["--burst"] if burst else [])]
    fd, path = tempfile.mkstemp(prefix="messenger-worker-", suffix=".log")
    with os.fdopen(fd, "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    _LOGS[proc.pid] = path
    return proc


async def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("worker did not exit")
            await asyncio.sleep(0.05)
    finally:
        path = _LOGS.pop(proc.pid, None)
        if path is not None:
            with open(path, "rb") as log:
                output = log.read()
            os.remove(path)
            # Captured by pytest and shown with the test's failure; a killed worker's is noise.
            if proc.returncode not in (0, -signal.SIGKILL, -signal.SIGTERM):
                print(f"worker exited with {proc.returncode}; its output ends:")
                print(output[-6000:].decode(errors="replace"))
    return proc.returncode


@contextlib.asynccontextmanager
async def running_worker(env: dict[str, str]) -> AsyncIterator[subprocess.Popen[bytes]]:
    proc = start_worker(env, burst=False)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await finish(proc, 15)
            except AssertionError:
                proc.kill()
                proc.wait()


async def until(check: Any, timeout: float = 20) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_worker_killed_while_sending_a_digest_sends_exactly_one_email_after_restart(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], sink: tuple[HoldingHandler, str]
) -> None:
    handler = sink[0]
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    await send(http, alice, chat["id"], "ping")
    assert await finish(start_worker(env, burst=True)) == 0  # creates the notification
    await asyncio.sleep(1.2)  # the window passes

    # The killed run's job stays queued (arq's in-progress lease outlives it); a queue of
    # their own keeps these runs from holding up the module's burst runs.
    env = {**env, "REDIS_PREFIX": f"mtest:{uuid.uuid4().hex[:8]}:"}
    handler.holding.clear()
    handler.released.clear()
    worker = start_worker(env, burst=True)
    try:
        await until(lambda: asyncio.to_thread(handler.holding.wait, 0.2))
        os.kill(worker.pid, signal.SIGKILL)  # mid-send: the SMTP session is open
        await finish(worker)
    finally:
        handler.released.set()
    digest = await pg.fetchrow("SELECT id, outcome FROM digest_emails WHERE user_id = $1", bob.id)
    assert digest is not None and digest["outcome"] is None
    assert handler.box.to(bob.email) == []

    async with running_worker(env):
        await handler.box.wait_for(bob.email, timeout=30)
        await until(lambda: pg.fetchval("SELECT outcome = 'sent' FROM digest_emails WHERE id = $1", digest["id"]))
    (mail,) = handler.box.to(bob.email)
    assert mail["Message-ID"].startswith(f"<digest-{digest['id']}@")
    assert await pg.fetchval("SELECT count(*) FROM digest_emails WHERE user_id = $1", bob.id) == 1


async def test_cleanup_jobs_remove_what_expired_and_nothing_else(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    # No mail for bob: a digest scan runs in each burst, concurrently with the other jobs, and
    # whether it found bob's notifications due would decide which digests exist below.
    r = await http.patch("/v1/users/me/settings", json={"email_direct_messages": False}, headers=bob.headers)
    assert r.status_code == 200, r.text
    chat = await new_chat(http, alice, "direct", bob)
    old_msg = await send(http, alice, chat["id"], "old")
    new_msg = await send(http, alice, chat["id"], "new")
    assert await finish(start_worker(env, burst=True)) == 0  # bob's two notifications
    await pg.execute(
        """UPDATE notifications
           SET created_at = now() - CASE WHEN message_id = $1 THEN interval '91 days' ELSE interval '89 days' END
           WHERE user_id = $2""",
        old_msg["id"],
        bob.id,
    )
    # The unfinished digest waits for a retry later than this run: were it due, the digest scan
    # (running alongside the cleanup) could finish it first and make it old enough to delete.
    digests = await pg.fetch(
        """INSERT INTO digest_emails (user_id, window_start, created_at, outcome, next_attempt_at) VALUES
           ($1, now() - interval '100 days', now() - interval '100 days', 'sent', now()),
           ($1, now() - interval '99 days', now() - interval '99 days', NULL, now() + interval '1 hour'),
           ($1, now() - interval '1 day', now() - interval '1 day', 'sent', now())
           RETURNING id""",
        bob.id,
    )
    await pg.execute(
        """INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES
           ('\\x01', $1, now() - interval '2 days'), ('\\x02', $1, now() + interval '1 day')""",
        bob.session_id,
    )
    await pg.execute(
        """INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at) VALUES
           ('\\x03', $1, 'verify', now() - interval '2 days'), ('\\x04', $1, 'reset', now() + interval '1 hour')""",
        bob.id,
    )
    await pg.execute("UPDATE sessions SET last_used_at = now() - interval '31 days' WHERE id = $1", alice.session_id)

    assert await finish(start_worker(env, burst=True)) == 0  # a burst runs each periodic job once

    kept = await pg.fetch("SELECT message_id, read_at FROM notifications WHERE user_id = $1", bob.id)
    assert [r["message_id"] for r in kept] == [new_msg["id"]]  # NOTIFICATION_RETENTION_DAYS: 90
    assert kept[0]["read_at"] is None
    left = {r["id"] for r in await pg.fetch("SELECT id FROM digest_emails WHERE user_id = $1", bob.id)}
    assert left == {digests[1]["id"], digests[2]["id"]}
    assert [
        r["token_hash"]
        for r in await pg.fetch("SELECT token_hash FROM refresh_tokens WHERE session_id = $1", bob.session_id)
    ] == [b"\x02"]
    assert [
        r["token_hash"] for r in await pg.fetch("SELECT token_hash FROM email_tokens WHERE user_id = $1", bob.id)
    ] == [b"\x04"]
    ended = {
        r["id"]: r["end_reason"]
        for r in await pg.fetch(
            "SELECT id, end_reason FROM sessions WHERE id = ANY($1::bigint[])", [alice.session_id, bob.session_id]
        )
    }
    assert ended == {alice.session_id: "expired", bob.session_id: None}


# In the worker's /metrics once the digest scan it runs at start has ended: arq is at work.
DIGEST_SCAN_DONE = 'function="send_digests",outcome='


async def worker_metrics(client: httpx.AsyncClient, port: int) -> str:
    """The worker's /metrics text; empty while its metrics server is not up yet."""
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=2)).text
    return ""


async def test_sigterm_to_messenger_worker_stops_the_worker_itself_with_status_0(env: dict[str, str]) -> None:
    # `messenger worker` becomes the worker process (exec): nothing in between to forward the
    # signal, and the status is arq's graceful shutdown, not a wrapper killed by SIGTERM.
    port = free_port()
    async with running_worker({**env, "WORKER_METRICS_PORT": str(port)}) as proc, httpx.AsyncClient() as client:
        await until(lambda: _digest_scan_done(client, port))
        proc.send_signal(signal.SIGTERM)
        assert await finish(proc, 15) == 0


async def _digest_scan_done(client: httpx.AsyncClient, port: int) -> bool:
    return DIGEST_SCAN_DONE in await worker_metrics(client, port)


async def test_worker_metrics_count_jobs_by_function_and_outcome(env: dict[str, str]) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    port = free_port()
    arq = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=f"{env['REDIS_PREFIX']}jobs")
    try:
        async with running_worker({**env, "WORKER_METRICS_PORT": str(port)}), httpx.AsyncClient() as client:
            # Not a list of message ids: the job fails (and is not retried).
            await arq.enqueue_job("notify_messages", "not ids")

            async def scraped() -> str | None:
                text = await worker_metrics(client, port)
                # Wait for the digest scan's outcome, not just its running gauge.
                if 'function="notify_messages",outcome="error"' in text and DIGEST_SCAN_DONE in text:
                    return text
                return None

            text = await until(scraped)
    finally:
        await arq.aclose()
    assert 'messenger_worker_jobs_total{function="notify_messages",outcome="error"} 1.0' in text
    # The digest scan runs at start (and on its cron after that).
    assert 'messenger_worker_jobs_total{function="send_digests",outcome="ok"}' in text
    assert 'messenger_worker_job_duration_seconds_count{function="send_digests"}' in text


async def test_cleanup_settles_notifications_read_in_their_chat(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    read = await send(http, alice, chat["id"], "read in the chat")
    unread = await send(http, alice, chat["id"], "not read yet")
    assert await finish(start_worker(env, burst=True)) == 0
    r = await http.post(f"/v1/chats/{chat['id']}/read", json={"seq": read["seq"]}, headers=bob.headers)
    assert r.status_code == 204, r.text

    assert await finish(start_worker(env, burst=True)) == 0
    rows = await pg.fetch(
        "SELECT message_id, read_at IS NOT NULL AS read FROM notifications WHERE user_id = $1", bob.id
    )
    assert {r["message_id"]: r["read"] for r in rows} == {read["id"]: True, unread["id"]: False}
