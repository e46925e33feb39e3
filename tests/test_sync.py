"""GET /v1/sync: the persisted events a user may see, in order, as WebSocket frames."""

from __future__ import annotations

import asyncpg
import httpx

from messenger import events
from messenger.db import Database

from .chat_factories import add, cursor_now, new_chat, send, sync
from .factories import make_user


async def test_without_since_returns_no_events_and_current_cursor(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    await new_chat(client, a, "group")
    r = await client.get("/v1/sync", headers=a.headers)
    assert r.status_code == 200
    body = r.json()
    assert body == {"events": [], "cursor": body["cursor"], "has_more": False}
    assert (await sync(client, a, body["cursor"]))["events"] == []


async def test_events_come_in_order_as_frames(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    start = await cursor_now(client, b)
    chat = await new_chat(client, a, "group", b, title="T")
    cid = chat["id"]
    msg = await send(client, a, cid, "hello")
    edited = (
        await client.patch(f"/v1/chats/{cid}/messages/{msg['id']}", json={"text": "hello!"}, headers=a.headers)
    ).json()["message"]
    await client.delete(f"/v1/chats/{cid}/messages/{msg['id']}", headers=a.headers)
    renamed = (await client.patch(f"/v1/chats/{cid}", json={"title": "U"}, headers=a.headers)).json()["chat"]
    body = await sync(client, b, start)
    frames = body["events"]
    assert [f["type"] for f in frames] == [
        "chat_updated",
        "member_added",
        "member_added",
        "receive_message",
        "message_edited",
        "message_deleted",
        "chat_updated",
    ]
    cursors = [int(f["cursor"]) for f in frames]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert body["cursor"] == frames[-1]["cursor"]
    assert body["has_more"] is False
    assert frames[0]["chat"] == {**chat, "role": None, "unread_count": 0}
    assert {(f["chat_id"], f["user_id"]) for f in frames[1:3]} == {(cid, a.id), (cid, b.id)}
    # Deletion is final: the earlier events of the message come back in its redacted form.
    tombstone = {**edited, "text": None, "deleted": True, "mentions": [], "attachments": []}
    assert (msg["text"], edited["text"]) == ("hello", "hello!")
    assert frames[3]["message"] == tombstone
    assert frames[4]["message"] == tombstone
    assert frames[5] == {
        "type": "message_deleted",
        "cursor": frames[5]["cursor"],
        "chat_id": cid,
        "message_id": msg["id"],
        "seq": 1,
    }
    assert frames[6]["chat"]["title"] == renamed["title"]
    assert (frames[6]["chat"]["role"], frames[6]["chat"]["unread_count"]) == (None, 0)


async def test_limit_pages_with_has_more(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    start = await cursor_now(client, a)
    chat = await new_chat(client, a, "group")
    for _ in range(3):
        await send(client, a, chat["id"])
    first = await sync(client, a, start, limit=3)
    assert (len(first["events"]), first["has_more"]) == (3, True)
    rest = await sync(client, a, first["cursor"], limit=3)
    assert ([f["type"] for f in rest["events"]], rest["has_more"]) == (["receive_message"] * 2, False)
    assert [f["message"]["seq"] for f in first["events"][2:] + rest["events"]] == [1, 2, 3]


async def test_other_users_chats_are_invisible(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    start = await cursor_now(client, b)
    chat = await new_chat(client, a, "group")
    await send(client, a, chat["id"])
    body = await sync(client, b, start)
    assert body["events"] == []
    assert int(body["cursor"]) >= int(start)


async def test_removed_member_sees_removal_and_nothing_after(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    start = await cursor_now(client, b)
    await send(client, a, chat["id"], "before")
    await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=a.headers)
    await send(client, a, chat["id"], "after")
    await client.patch(f"/v1/chats/{chat['id']}", json={"title": "secret"}, headers=a.headers)
    frames = (await sync(client, b, start))["events"]
    assert [f["type"] for f in frames] == ["receive_message", "member_removed"]
    assert frames[1]["user_id"] == b.id


async def test_added_member_sees_addition_and_later_events_only(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    start = await cursor_now(client, b)
    chat = await new_chat(client, a, "group")
    await send(client, a, chat["id"], "history")
    assert (await add(client, a, chat["id"], b)).status_code == 201
    later = await send(client, a, chat["id"], "later")
    frames = (await sync(client, b, start))["events"]
    assert [f["type"] for f in frames] == ["member_added", "receive_message"]
    assert (frames[0]["user_id"], frames[1]["message"]["id"]) == (b.id, later["id"])


async def test_readded_member_misses_what_happened_while_away(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    start = await cursor_now(client, b)
    await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=a.headers)
    await send(client, a, chat["id"], "while away")
    await add(client, a, chat["id"], b)
    await send(client, a, chat["id"], "back")
    frames = (await sync(client, b, start))["events"]
    assert [f["type"] for f in frames] == ["member_removed", "member_added", "receive_message"]
    assert frames[2]["message"]["text"] == "back"


async def test_deleted_chat_tells_every_member(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    start = await cursor_now(client, b)
    assert (await client.delete(f"/v1/chats/{chat['id']}", headers=a.headers)).status_code == 204
    frames = (await sync(client, b, start))["events"]
    assert sorted((f["type"], f["user_id"]) for f in frames) == sorted(
        [("member_removed", a.id), ("member_removed", b.id)]
    )


async def test_cursor_older_than_retention_is_410(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    start = await cursor_now(client, a)
    chat = await new_chat(client, a, "group")
    await send(client, a, chat["id"])
    await db.execute("UPDATE events SET created_at = now() - interval '31 days'")
    assert await events.trim(Database(db), 30) > int(start)
    r = await client.get("/v1/sync", params={"since": start}, headers=a.headers)
    assert r.status_code == 410
    assert r.json()["error"]["code"] == "cursor_expired"
    assert (await client.get("/v1/sync", headers=a.headers)).status_code == 200


async def test_bad_cursor_and_limit_are_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    now = int(await cursor_now(client, a))
    for params in ({"since": "abc"}, {"since": "-1"}, {"since": str(now + 10)}, {"since": "0", "limit": 501}):
        r = await client.get("/v1/sync", params=params, headers=a.headers)
        assert r.status_code == 422, params


async def test_sync_requires_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/sync")).status_code == 401


async def test_openapi_describes_sync_frames(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    schema = doc["paths"]["/v1/sync"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    items = doc["components"]["schemas"][name]["properties"]["events"]["items"]
    assert len(items["anyOf"]) == 8
    assert "410" in doc["paths"]["/v1/sync"]["get"]["responses"]


async def test_leaving_owner_sees_own_removal_but_not_the_handover(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    start_a, start_b = await cursor_now(client, a), await cursor_now(client, b)
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{a.id}", headers=a.headers)).status_code == 204
    seen_by_a = (await sync(client, a, start_a))["events"]
    seen_by_b = (await sync(client, b, start_b))["events"]
    assert [(f["type"], f.get("user_id")) for f in seen_by_a] == [("member_removed", a.id)]
    assert [f["type"] for f in seen_by_b] == ["member_removed", "chat_updated"]
    assert seen_by_b[1]["chat"]["member_count"] == 1


async def test_returning_direct_peer_sees_member_added(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=b.headers)
    start = await cursor_now(client, b)
    await send(client, a, chat["id"], "while away")
    r = await client.post("/v1/chats", json={"kind": "direct", "member_ids": [b.id]}, headers=a.headers)
    assert r.status_code == 200
    frames = (await sync(client, b, start))["events"]
    assert [(f["type"], f.get("user_id")) for f in frames] == [("member_added", b.id)]
