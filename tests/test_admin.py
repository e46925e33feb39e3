"""Server administration: /v1/admin/* (403 for everyone else) and deactivation."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from .chat_factories import new_chat, send
from .factories import PASSWORD, User, make_user
from .rig import Server
from .wsclient import WsClient


async def make_admin(db: asyncpg.Pool) -> User:
    user = await make_user(db)
    await db.execute("UPDATE users SET is_admin = true WHERE id = $1", user.id)
    return user


ADMIN_CALLS = [
    ("POST", "/v1/admin/users/{id}/deactivate"),
    ("POST", "/v1/admin/users/{id}/reactivate"),
    ("GET", "/v1/admin/users"),
    ("DELETE", "/v1/admin/messages/{message}"),
    ("GET", "/v1/admin/stats"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_CALLS)
async def test_admin_endpoints_are_403_for_non_admins(
    client: httpx.AsyncClient, db: asyncpg.Pool, method: str, path: str
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, bob, "group", alice)
    message = await send(client, bob, chat["id"])
    url = path.format(id=bob.id, message=message["id"])
    r = await client.request(method, url, headers={**alice.headers, "Content-Type": "application/json"})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "not_admin"


async def test_me_says_whether_you_are_a_server_admin(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin, user = await make_admin(db), await make_user(db)
    assert (await client.get("/v1/users/me", headers=admin.headers)).json()["user"]["is_admin"] is True
    assert (await client.get("/v1/users/me", headers=user.headers)).json()["user"]["is_admin"] is False


async def test_deactivation_closes_every_socket_with_1008(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    admin, target = await make_admin(db), await make_user(db)
    ws = await WsClient.open(server.ws_url, target.token)
    try:
        r = await client.post(f"/v1/admin/users/{target.id}/deactivate", json={"reason": "spam"}, headers=admin.headers)
        assert r.status_code == 204, r.text
        code, _ = await ws.closed()
        assert code == 1008
    finally:
        await ws.close()
    assert (await client.get("/v1/users/me", headers=target.headers)).status_code == 401


async def test_deactivated_login_is_403_account_deactivated(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin, target = await make_admin(db), await make_user(db)
    assert (await client.post(f"/v1/admin/users/{target.id}/deactivate", headers=admin.headers)).status_code == 204
    r = await client.post("/v1/auth/login", json={"login": target.username, "password": PASSWORD})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "account_deactivated"


async def test_reactivated_user_logs_in_again(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin, target = await make_admin(db), await make_user(db)
    await client.post(f"/v1/admin/users/{target.id}/deactivate", headers=admin.headers)
    assert (await client.post(f"/v1/admin/users/{target.id}/reactivate", headers=admin.headers)).status_code == 204
    r = await client.post("/v1/auth/login", json={"login": target.username, "password": PASSWORD})
    assert r.status_code == 200, r.text


async def test_deactivated_users_vanish_from_user_search(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin, target = await make_admin(db), await make_user(db, username="vanishing_vera")
    await client.post(f"/v1/admin/users/{target.id}/deactivate", headers=admin.headers)
    r = await client.get("/v1/users", params={"q": "vanishing"}, headers=admin.headers)
    assert r.json()["users"] == []


async def test_deactivating_an_unknown_user_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin = await make_admin(db)
    r = await client.post("/v1/admin/users/999999999/deactivate", headers=admin.headers)
    assert r.status_code == 404


async def test_user_list_is_newest_first_with_admin_fields_and_a_cursor(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    admin = await make_admin(db)
    older, newer = await make_user(db, username="listed_a"), await make_user(db, username="listed_b")
    first = (await client.get("/v1/admin/users", params={"q": "LISTED_", "limit": 1}, headers=admin.headers)).json()
    assert [u["id"] for u in first["users"]] == [newer.id]
    assert {"email", "is_admin", "deactivated_at", "last_seen_at", "created_at"} <= first["users"][0].keys()
    rest = (
        await client.get(
            "/v1/admin/users", params={"q": "listed_", "cursor": first["next_cursor"]}, headers=admin.headers
        )
    ).json()
    assert [u["id"] for u in rest["users"]] == [older.id]
    assert rest["next_cursor"] is None


async def test_user_list_matches_an_email_prefix(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin = await make_admin(db)
    found = await make_user(db, email="mallory.x@example.org")
    r = await client.get("/v1/admin/users", params={"q": "Mallory.X@"}, headers=admin.headers)
    assert [u["id"] for u in r.json()["users"]] == [found.id]


async def test_admin_deletes_a_message_in_a_direct_chat_they_are_not_in(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    admin, alice, bob = await make_admin(db), await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "direct", bob)
    message = await send(client, alice, chat["id"], "abuse")
    assert (await client.delete(f"/v1/admin/messages/{message['id']}", headers=admin.headers)).status_code == 204
    page = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=bob.headers)).json()
    shown = next(m for m in page["messages"] if m["id"] == message["id"])
    assert shown["deleted"] is True
    assert shown["text"] is None


async def test_admin_deleting_an_unknown_message_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin = await make_admin(db)
    assert (await client.delete("/v1/admin/messages/999999999", headers=admin.headers)).status_code == 404


async def test_stats_count_users_chats_and_messages(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    admin, alice = await make_admin(db), await make_user(db)
    chat = await new_chat(client, alice, "group", admin)
    await send(client, alice, chat["id"])
    stats = (await client.get("/v1/admin/stats", headers=admin.headers)).json()
    assert stats["users"] == 2
    assert stats["chats"] == 1
    assert stats["messages"] == 1
    assert stats["messages_24h"] == 1
    assert {"active_users_24h", "sockets"} <= stats.keys()
