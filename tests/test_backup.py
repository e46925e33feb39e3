"""The embedded default end to end: the admin CLI next to a running server, and
`messenger backup` / `messenger restore` into a fresh data directory."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from . import media_samples as s
from .rig import Server, base_env, running_server
from .test_admin_cli import admin_cli

PASSWORD = "embedded pass 1"


async def messenger(env: dict[str, str], *args: str) -> str:
    pipe = asyncio.subprocess.PIPE
    command = [sys.executable, "-m", "messenger", *args]
    proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=pipe, stderr=pipe)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def login(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post("/v1/auth/login", json={"login": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
async def embedded() -> AsyncIterator[Server]:
    """A server on the embedded default whose first account the CLI made before it started."""
    env = base_env(MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-embedded-"))
    done = await admin_cli(env, "create-user", "ada@example.com", "ada", "--admin", stdin=PASSWORD + "\n")
    assert done.status == 0, done.err
    async with running_server(env) as srv:
        yield srv


async def test_admin_cli_reuses_the_embedded_database_of_a_running_server(embedded: Server) -> None:
    done = await admin_cli(embedded.env, "create-user", "bob@example.com", "bob", stdin=PASSWORD + "\n")
    assert done.status == 0, done.err
    async with httpx.AsyncClient(base_url=embedded.url) as http:
        me = (await http.get("/v1/users/me", headers=await login(http, "ada"))).json()["user"]
        assert me["is_admin"] is True
        await login(http, "bob")
        assert (await http.get("/readyz")).status_code == 200  # the CLI left the database running


async def test_restore_into_a_fresh_data_dir_has_users_chats_messages_and_media(embedded: Server) -> None:
    picture = s.png(6, 4)
    async with httpx.AsyncClient(base_url=embedded.url) as http:
        ada = await login(http, "ada")
        media = (
            await http.post(
                "/v1/media", json={"filename": "p.png", "content_type": "image/png", "size": len(picture)}, headers=ada
            )
        ).json()
        upload = media["upload"]
        sent = await http.request(upload["method"], upload["url"], headers=upload["headers"], content=picture)
        assert sent.is_success
        media_id = media["media"]["id"]
        assert (await http.post(f"/v1/media/{media_id}/complete", headers=ada)).status_code == 200
        group = {"kind": "group", "title": "kept", "member_ids": []}
        chat = (await http.post("/v1/chats", json=group, headers=ada)).json()
        body = {"client_msg_id": "b1", "text": "survives", "attachment_ids": [media_id]}
        assert (await http.post(f"/v1/chats/{chat['chat']['id']}/messages", json=body, headers=ada)).status_code == 201
    target = Path(tempfile.mkdtemp(prefix="messenger-backup-")) / "b"
    assert "backed up" in await messenger(embedded.env, "backup", str(target))

    fresh = base_env(MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-restored-"))
    fresh.pop("SECRET_KEY")  # the backup's generated key must come back with it
    assert "restored" in await messenger(fresh, "restore", str(target))
    async with running_server(fresh) as restored, httpx.AsyncClient(base_url=restored.url) as http:
        ada = await login(http, "ada")
        chats = (await http.get("/v1/chats", headers=ada)).json()["chats"]
        assert [c["title"] for c in chats] == ["kept"]
        page = (await http.get(f"/v1/chats/{chats[0]['id']}/messages", headers=ada)).json()
        assert [m["text"] for m in page["messages"]] == ["survives"]
        url = (await http.get(f"/v1/media/{media_id}", headers=ada)).json()["media"]["download_url"]
        assert (await http.get(url)).content == picture
