"""`messenger admin ...` run as real subprocesses against DATABASE_URL (the embedded default is
covered in tests/test_backup.py)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import asyncpg
import httpx

from .factories import PASSWORD, make_user
from .rig import Server
from .wsclient import WsClient


@dataclass
class Done:
    status: int
    out: str
    err: str


async def admin_cli(env: dict[str, str], *args: str, stdin: str = "") -> Done:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "messenger",
        "admin",
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 60)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


async def test_create_user_reads_the_password_from_stdin_and_makes_a_verified_admin(
    client: httpx.AsyncClient, server_env: dict[str, str]
) -> None:
    done = await admin_cli(server_env, "create-user", "root@example.com", "rootadmin", "--admin", stdin="s3cret pass\n")
    assert done.status == 0, done.err
    assert done.out.count("\n") == 1 and "rootadmin" in done.out
    r = await client.post("/v1/auth/login", json={"login": "rootadmin", "password": "s3cret pass"})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["is_admin"] is True


async def test_create_user_refuses_a_short_password(server_env: dict[str, str], db: asyncpg.Pool) -> None:
    done = await admin_cli(server_env, "create-user", "short@example.com", "shorty", stdin="short\n")
    assert done.status != 0
    assert "password" in done.err
    assert await db.fetchval("SELECT count(*) FROM users") == 0


async def test_a_taken_username_is_a_clear_error(server_env: dict[str, str], db: asyncpg.Pool) -> None:
    taken = await make_user(db)
    done = await admin_cli(server_env, "create-user", "new@example.com", taken.username, stdin="long enough\n")
    assert done.status == 1
    assert "taken" in done.err


async def test_unknown_username_exits_non_zero_with_a_message(server_env: dict[str, str]) -> None:
    for command in ("grant", "deactivate"):
        done = await admin_cli(server_env, command, "nobody_here")
        assert done.status == 1, command
        assert "no user named 'nobody_here'" in done.err
        assert done.out == ""


async def test_grant_and_revoke_set_the_admin_flag(server_env: dict[str, str], db: asyncpg.Pool) -> None:
    user = await make_user(db)
    assert (await admin_cli(server_env, "grant", user.username)).status == 0
    assert await db.fetchval("SELECT is_admin FROM users WHERE id = $1", user.id) is True
    done = await admin_cli(server_env, "revoke", user.username)
    assert done.status == 0
    assert done.out.strip() == f"{user.username} is no longer a server admin"
    assert await db.fetchval("SELECT is_admin FROM users WHERE id = $1", user.id) is False


async def test_deactivate_closes_the_sockets_of_a_running_server(
    client: httpx.AsyncClient, server_env: dict[str, str], db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    ws = await WsClient.open(server.ws_url, user.token)
    try:
        assert (await admin_cli(server_env, "deactivate", user.username)).status == 0
        code, _ = await ws.closed()
        assert code == 1008
    finally:
        await ws.close()
    r = await client.post("/v1/auth/login", json={"login": user.username, "password": PASSWORD})
    assert r.json()["error"]["code"] == "account_deactivated"


async def test_set_password_changes_it_and_ends_the_sessions(
    client: httpx.AsyncClient, server_env: dict[str, str], db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    assert (await admin_cli(server_env, "set-password", user.username, stdin="brand new pass\n")).status == 0
    assert (await client.get("/v1/users/me", headers=user.headers)).status_code == 401
    r = await client.post("/v1/auth/login", json={"login": user.username, "password": "brand new pass"})
    assert r.status_code == 200, r.text
