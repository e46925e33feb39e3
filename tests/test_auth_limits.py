"""Rate limits (in memory and in Redis) and mail through arq jobs with Redis.

Each test starts its own server with low limits (the default test server raises them), once
without Redis and once with, each with its own Redis prefix so counters never mix.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from messenger import jobs, mail, tasks
from messenger.settings import load

from .factories import PASSWORD, job_context, make_user
from .rig import Mailbox, Server, running_server
from .test_auth import link_token, new_identity, register


@pytest.fixture(params=["memory", "redis"])
def backend_env(request: pytest.FixtureRequest, server_env: dict[str, str]) -> dict[str, str]:
    env = dict(server_env)
    if request.param == "redis":
        env.update(REDIS_URL=request.getfixturevalue("redis_env")["REDIS_URL"], REDIS_PREFIX=f"rl-{uuid.uuid4().hex}:")
    return env


@contextlib.asynccontextmanager
async def limited(env: dict[str, str], **limits: str) -> AsyncIterator[httpx.AsyncClient]:
    async with running_server({**env, **limits}) as srv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        yield client


async def attempt(client: httpx.AsyncClient, login: str, password: str = "wrong password") -> httpx.Response:
    return await client.post("/v1/auth/login", json={"login": login, "password": password})


def assert_limited(r: httpx.Response) -> None:
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


async def test_login_is_limited_per_account(backend_env: dict[str, str], db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    bob = await make_user(db)
    async with limited(backend_env, RATE_LIMIT_LOGIN="3") as client:
        for _ in range(3):
            assert (await attempt(client, alice.username)).status_code == 401
        # The budget is the account's, whichever login names it; even the right password waits.
        assert_limited(await attempt(client, alice.email))
        assert_limited(await attempt(client, alice.username, PASSWORD))
        assert (await attempt(client, bob.username, PASSWORD)).status_code == 200


async def test_login_limit_for_unknown_accounts_looks_the_same(backend_env: dict[str, str]) -> None:
    async with limited(backend_env, RATE_LIMIT_LOGIN="2") as client:
        statuses = [(await attempt(client, "nobody_here")).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]


async def test_login_is_limited_per_ip(backend_env: dict[str, str], db: asyncpg.Pool) -> None:
    users = [await make_user(db) for _ in range(3)]
    async with limited(backend_env, RATE_LIMIT_LOGIN_IP="4") as client:
        for user in users:
            assert (await attempt(client, user.username)).status_code == 401
        assert (await attempt(client, users[0].username, PASSWORD)).status_code == 200
        assert_limited(await attempt(client, users[1].username, PASSWORD))


async def test_register_is_limited_per_ip(backend_env: dict[str, str]) -> None:
    async with limited(backend_env, RATE_LIMIT_REGISTER="2") as client:
        for _ in range(2):
            assert (await register(client, *new_identity())).status_code == 201
        assert_limited(await register(client, *new_identity()))


async def test_forgot_and_resend_are_limited_per_address(backend_env: dict[str, str]) -> None:
    async with limited(backend_env, RATE_LIMIT_EMAIL="2") as client:
        _, email = new_identity()
        _, other = new_identity()
        for path in ("/v1/auth/password/forgot", "/v1/auth/resend-verification"):
            for _ in range(2):
                assert (await client.post(path, json={"email": email})).status_code == 202
            assert_limited(await client.post(path, json={"email": email.upper()}))
            assert (await client.post(path, json={"email": other})).status_code == 202


# -- mail through arq ----------------------------------------------------------------------


def start_worker(env: dict[str, str], *, burst: bool) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "messenger", "worker", *(["--burst"] if burst else [])]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_with_redis_mail_is_sent_by_the_arq_worker(redis_env: dict[str, str], mailbox: Mailbox) -> None:
    env = {**redis_env, "REDIS_PREFIX": f"jobs-{uuid.uuid4().hex}:"}
    async with running_server(env) as srv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        username, email = new_identity()
        assert (await register(client, username, email)).status_code == 201
        await asyncio.sleep(0.3)
        assert mailbox.to(email) == []  # queued in Redis: nothing runs it inside the server
        worker = start_worker(env, burst=False)
        try:
            (sent,) = await mailbox.wait_for(email, timeout=20)
        finally:
            worker.terminate()
            await asyncio.to_thread(worker.wait, 15)
        r = await client.post("/v1/auth/verify-email", json={"token": link_token(sent, "verify-email")})
        assert r.status_code == 200


def _mail(to: str) -> mail.Mail:
    settings = load({"MESSENGER_DATA_DIR": tempfile.mkdtemp(), "SECRET_KEY": "x" * 32})
    return mail.verification_mail(settings, to, "tok", "key")


async def test_arq_jobs_with_the_same_id_are_queued_once(redis_env: dict[str, str], mailbox: Mailbox) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    env = {**redis_env, "REDIS_PREFIX": f"jobs-{uuid.uuid4().hex}:"}
    _, to = new_identity()
    pool = await create_pool(RedisSettings.from_dsn(env["REDIS_URL"]), default_queue_name=f"{env['REDIS_PREFIX']}jobs")
    try:
        queue = jobs.ArqJobs(pool, env["REDIS_PREFIX"])
        await queue.enqueue("send_mail", _mail(to), job_id="mail:same")
        await queue.enqueue("send_mail", _mail(to), job_id="mail:same")
    finally:
        await pool.aclose()
    worker = start_worker(env, burst=True)
    assert await asyncio.to_thread(worker.wait, 30) == 0
    assert len(mailbox.to(to)) == 1


async def test_in_process_jobs_with_the_same_id_run_once(tmp_path: Path, database: str) -> None:
    outbox = tmp_path / "outbox"
    runner = jobs.InProcessJobs(tasks.FUNCTIONS)
    settings = load({"DATABASE_URL": database, "SECRET_KEY": "k" * 32})
    async with job_context(settings, database, mailer=mail.OutboxMailer(outbox)) as ctx:
        runner.start(ctx, [])
        await runner.enqueue("send_mail", _mail("a@example.com"), job_id="mail:one")
        await runner.enqueue("send_mail", _mail("a@example.com"), job_id="mail:one")
        await runner.enqueue("send_mail", _mail("b@example.com"), job_id="mail:two")
        await runner.close()
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert {f.read_bytes().split(b"\nTo: ", 1)[1].split(b"\n", 1)[0].strip() for f in files} == {
        b"a@example.com",
        b"b@example.com",
    }


async def test_in_process_job_failures_are_logged_not_raised(
    tmp_path: Path, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(ctx: tasks.JobContext) -> None:
        raise ValueError("boom")

    runner = jobs.InProcessJobs([explode])
    settings = load({"DATABASE_URL": database, "SECRET_KEY": "k" * 32})
    async with job_context(settings, database) as ctx:
        runner.start(ctx, [])
        await runner.enqueue("explode")
        await runner.close()
    assert "job explode None failed" in caplog.text


async def test_server_stops_cleanly_with_pending_mail(server_env: dict[str, str], mailbox: Mailbox) -> None:
    srv: Server
    async with running_server(server_env) as srv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        username, email = new_identity()
        assert (await register(client, username, email)).status_code == 201
    assert srv.proc.returncode == 0
    await mailbox.wait_for(email)


async def test_cleanup_drops_expired_tokens_and_ends_idle_sessions(database: str, db: asyncpg.Pool) -> None:
    idle = await make_user(db)
    active = await make_user(db)
    await db.execute("UPDATE sessions SET last_used_at = now() - interval '31 days' WHERE id = $1", idle.session_id)
    await db.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, now() - interval '2 days')",
        b"old",
        active.session_id,
    )
    await db.execute(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at) "
        "VALUES ($1, $2, 'reset', now() - interval '2 days'), ($3, $2, 'verify', now() + interval '1 hour')",
        b"old",
        active.id,
        b"new",
    )
    async with job_context(load({"DATABASE_URL": database, "SECRET_KEY": "k" * 32}), database) as ctx:
        removed = await tasks.cleanup_expired(ctx)
    mine = ("delete_expired_refresh_tokens", "delete_expired_email_tokens", "end_idle_sessions")
    assert {k: removed[k] for k in mine} == dict.fromkeys(mine, 1)
    live = {r["id"] for r in await db.fetch("SELECT id FROM sessions WHERE ended_at IS NULL")}
    assert live == {active.session_id}


async def test_unreachable_redis_makes_limited_endpoints_503_not_500() -> None:
    from redis.asyncio import Redis

    from messenger.errors import Unavailable
    from messenger.ratelimit import RedisLimiter

    from .rig import free_port

    redis = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    try:
        with pytest.raises(Unavailable):
            await RedisLimiter(redis, "x:", 60).hit("login", "someone", 5)
    finally:
        await redis.aclose()
