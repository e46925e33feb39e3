"""Notifications on a single node without Redis (jobs and digest scans run in-process), and the
validation of the notification endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from .chat_factories import new_chat, send
from .factories import User, make_user
from .rig import Mailbox, Server, running_server
from .wsclient import WsClient, clients


async def wait_for_notifications(client: httpx.AsyncClient, user: User, count: int = 1) -> list[dict[str, Any]]:
    """In-process jobs run right after the send returns; poll until they are done."""
    deadline = time.monotonic() + 10
    while True:
        r = await client.get("/v1/notifications", headers=user.headers)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["notifications"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_without_redis_an_offline_direct_message_notifies_in_process(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "direct", bob)
    message = await send(client, alice, chat["id"], "hello")
    (n,) = await wait_for_notifications(client, bob)
    assert (n["kind"], n["chat_id"], n["message_id"], n["read"]) == ("message", chat["id"], message["id"], False)
    me = (await client.get("/v1/users/me", headers=bob.headers)).json()["user"]
    assert me["unread_notifications"] == 1


async def test_without_redis_an_online_user_gets_the_mention_frame(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    ws = await WsClient.open(server.ws_url, bob.token)
    async with clients(ws):
        message = await send(client, alice, chat["id"], f"hey @{bob.username}")
        frame = await ws.expect("notification")
    assert frame["notification"]["kind"] == "mention"
    assert frame["notification"]["message_id"] == message["id"]


async def test_an_edit_that_adds_a_mention_notifies_once(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    message = await send(client, alice, chat["id"], "hello")
    path = f"/v1/chats/{chat['id']}/messages/{message['id']}"
    r = await client.patch(path, json={"text": f"hello @{bob.username}"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    (n,) = await wait_for_notifications(client, bob)
    assert (n["kind"], n["message_id"]) == ("mention", message["id"])

    r = await client.patch(path, json={"text": f"hello again @{bob.username}"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    marker = await send(client, alice, chat["id"], f"@{bob.username} later")
    listed = await wait_for_notifications(client, bob, 2)
    assert [x["message_id"] for x in listed] == [marker["id"], message["id"]]


@pytest.fixture
async def quick_digest_server(server_env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server({**server_env, "NOTIFICATION_EMAIL_WINDOW": "1"}) as srv:
        yield srv


async def test_without_redis_the_server_sends_digests_itself(
    quick_digest_server: Server, db: asyncpg.Pool, mailbox: Mailbox
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    async with httpx.AsyncClient(base_url=quick_digest_server.url, timeout=30) as http:
        chat = await new_chat(http, alice, "direct", bob)
        await send(http, alice, chat["id"], "are you around?")
        (mail,) = await mailbox.wait_for(bob.email, timeout=15)
    assert mail["Subject"] == "1 unread notification on messenger"


async def test_user_settings_default_to_email_for_mentions_and_direct_messages(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    bob = await make_user(db)
    r = await client.get("/v1/users/me/settings", headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "settings": {
            "email_mentions": True,
            "email_direct_messages": True,
            "email_group_messages": False,
            "show_last_seen": True,
        }
    }


async def test_patching_user_settings_changes_only_the_given_fields(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    bob = await make_user(db)
    r = await client.patch("/v1/users/me/settings", json={"email_mentions": False}, headers=bob.headers)
    assert r.status_code == 200, r.text
    r = await client.patch("/v1/users/me/settings", json={"email_group_messages": True}, headers=bob.headers)
    assert r.json()["settings"] == {
        "email_mentions": False,
        "email_direct_messages": True,
        "email_group_messages": True,
        "show_last_seen": True,
    }
    assert (await client.get("/v1/users/me/settings", headers=bob.headers)).json() == r.json()


async def test_chat_settings_of_a_chat_you_are_not_in_are_not_found(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob, eve = [await make_user(db) for _ in range(3)]
    chat = await new_chat(client, alice, "group", bob)
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"muted": True}})):
        r = await client.request(method, f"/v1/chats/{chat['id']}/settings", headers=eve.headers, **kwargs)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
    r = await client.get(f"/v1/chats/{chat['id']}/settings", headers=bob.headers)
    assert r.json() == {"settings": {"muted": False, "notify_all": False}}


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"all": False}, {"ids": ["x"]}, {"ids": [0]}, {"ids": list(range(1, 1002))}, {"every": True}],
)
async def test_mark_read_rejects_bodies_without_ids_or_all(
    client: httpx.AsyncClient, db: asyncpg.Pool, body: dict[str, Any]
) -> None:
    bob = await make_user(db)
    r = await client.post("/v1/notifications/read", json=body, headers=bob.headers)
    assert r.status_code == 422, r.text
    assert set(r.json()["error"]) == {"code", "message"}


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "abc"}, {"unread": "maybe"}])
async def test_list_rejects_bad_query_parameters(
    client: httpx.AsyncClient, db: asyncpg.Pool, params: dict[str, Any]
) -> None:
    bob = await make_user(db)
    r = await client.get("/v1/notifications", params=params, headers=bob.headers)
    assert r.status_code == 422, r.text


async def test_notification_endpoints_need_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/notifications"),
        ("POST", "/v1/notifications/read"),
        ("GET", "/v1/users/me/settings"),
    ):
        r = await client.request(method, path, json={"all": True} if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.text)


async def test_openapi_documents_the_notification_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"get"} <= set(paths["/v1/notifications"])
    assert {"post"} <= set(paths["/v1/notifications/read"])
    assert {"get", "patch"} <= set(paths["/v1/users/me/settings"])
    assert {"get", "patch"} <= set(paths["/v1/chats/{chat_id}/settings"])
