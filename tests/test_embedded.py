"""The embedded default: no DATABASE_URL, no SMTP_URL, no Redis — everything still works."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from email import message_from_bytes
from pathlib import Path

import asyncpg
import httpx
import psutil

from messenger import embedded

from .rig import base_env, running_server
from .test_auth import link_token


def embedded_postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "postgres" in cmdline and str(data_dir) in cmdline:
            found.append(proc)
    return found


def read_outbox(outbox: Path) -> list[bytes]:
    return [f.read_bytes() for f in sorted(outbox.glob("*.eml"))]


async def outbox_mail(outbox: Path, timeout: float = 15) -> bytes:
    for _ in range(int(timeout / 0.1)):
        found = await asyncio.to_thread(read_outbox, outbox)
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail in {outbox}")


async def test_embedded_default_registers_verifies_logs_in_and_stops_its_database() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="messenger-embedded-"))
    env = base_env(MESSENGER_DATA_DIR=str(data_dir))
    assert not any(k in env for k in ("DATABASE_URL", "SMTP_URL", "REDIS_URL"))
    async with running_server(env) as srv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        assert embedded_postgres_processes(data_dir)
        body = {"email": "first@example.com", "username": "first_user", "password": "embedded password"}
        assert (await client.post("/v1/auth/register", json=body)).status_code == 201
        raw = await outbox_mail(data_dir / "outbox")
        mail = message_from_bytes(raw)
        assert mail["To"] == "first@example.com"
        r = await client.post("/v1/auth/verify-email", json={"token": link_token(mail, "verify-email")})
        assert r.status_code == 200
        r = await client.post("/v1/auth/login", json={"login": "first_user", "password": "embedded password"})
        assert r.status_code == 200
        r = await client.post("/v1/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
        assert r.status_code == 200
        me = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert me.json()["user"]["email"] == "first@example.com"
    assert srv.proc.returncode == 0
    for _ in range(50):
        if not embedded_postgres_processes(data_dir):
            break
        await asyncio.sleep(0.1)
    assert embedded_postgres_processes(data_dir) == []


async def test_embedded_postgresql_runs_with_its_server_settings() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="messenger-embedded-settings-"))
    pg = await asyncio.to_thread(embedded.start, data_dir)
    try:
        conn = await asyncpg.connect(pg.dsn)
        try:
            # The reload that applies them reaches an existing backend with its next signal.
            for _ in range(50):
                shown = {name: await conn.fetchval(f"SHOW {name}") for name in embedded.SERVER_SETTINGS}
                if shown == embedded.SERVER_SETTINGS:
                    break
                await asyncio.sleep(0.02)
            assert shown == embedded.SERVER_SETTINGS
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
