"""Ending a session closes its sockets: logout, revoke, refresh-token reuse and password reset."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .rig import Mailbox, Server
from .test_auth import bearer, login, reset_token, verified_account


@contextlib.asynccontextmanager
async def socket(server: Server, access_token: str) -> AsyncIterator[ClientConnection]:
    async with connect(server.ws_url, additional_headers=bearer(access_token)) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ready["type"] == "ready"
        yield ws


async def closed(ws: ClientConnection) -> bool:
    """True once the server closes the socket (frames before the close are skipped)."""
    try:
        async with asyncio.timeout(10):
            while True:
                await ws.recv()
    except ConnectionClosed:
        return True


async def test_logout_closes_the_sessions_socket(client: httpx.AsyncClient, mailbox: Mailbox, server: Server) -> None:
    username, _, _ = await verified_account(client, mailbox)
    ended = (await login(client, username)).json()
    kept = (await login(client, username)).json()
    async with socket(server, ended["access_token"]) as gone, socket(server, kept["access_token"]) as alive:
        r = await client.post(
            "/v1/auth/logout", json={"refresh_token": ended["refresh_token"]}, headers=bearer(ended["access_token"])
        )
        assert r.status_code == 204
        assert await closed(gone)
        await alive.send(json.dumps({"type": "ping", "ref": "still-here"}))
        assert json.loads(await asyncio.wait_for(alive.recv(), 10))["type"] == "pong"


async def test_revoking_a_session_closes_its_socket(
    client: httpx.AsyncClient, mailbox: Mailbox, server: Server
) -> None:
    username, _, _ = await verified_account(client, mailbox)
    target = (await login(client, username, agent="target")).json()
    me = (await login(client, username)).json()
    sessions = (await client.get("/v1/auth/sessions", headers=bearer(me["access_token"]))).json()["sessions"]
    target_id = next(s["id"] for s in sessions if s["user_agent"] == "target")
    async with socket(server, target["access_token"]) as ws:
        assert (await client.delete(f"/v1/auth/sessions/{target_id}", headers=bearer(me["access_token"]))).is_success
        assert await closed(ws)


async def test_refresh_token_reuse_closes_the_sessions_socket(
    client: httpx.AsyncClient, mailbox: Mailbox, server: Server
) -> None:
    username, _, _ = await verified_account(client, mailbox)
    first = (await login(client, username)).json()
    second = (await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    async with socket(server, second["access_token"]) as ws:
        r = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.json()["error"]["code"] == "token_reused"
        assert await closed(ws)


async def test_password_reset_closes_every_socket_of_the_user(
    client: httpx.AsyncClient, mailbox: Mailbox, server: Server
) -> None:
    username, email, _ = await verified_account(client, mailbox)
    a = (await login(client, username)).json()
    b = (await login(client, username)).json()
    async with socket(server, a["access_token"]) as ws_a, socket(server, b["access_token"]) as ws_b:
        token = await reset_token(client, mailbox, email)
        assert (
            await client.post("/v1/auth/password/reset", json={"token": token, "password": "new password!"})
        ).is_success
        assert await closed(ws_a)
        assert await closed(ws_b)
