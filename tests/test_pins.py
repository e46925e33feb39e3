"""Pins: who may pin, the per-chat limit, the pin list, events, and unpinning by deletion."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from .chat_factories import cast, cursor_now, new_chat, send, sync
from .factories import make_user


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("admin", 204), ("member", 403), ("outsider", 404)])
async def test_pin_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    message = await send(client, c.owner, c.id)
    r = await client.put(f"/v1/chats/{c.id}/pins/{message['id']}", headers=c.by_role(role).headers)
    assert r.status_code == status


async def test_either_member_of_a_direct_chat_pins(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    message = await send(client, a, chat["id"])
    assert (await client.put(f"/v1/chats/{chat['id']}/pins/{message['id']}", headers=b.headers)).status_code == 204
    assert (await client.delete(f"/v1/chats/{chat['id']}/pins/{message['id']}", headers=a.headers)).status_code == 204


async def test_pins_list_most_recent_first_and_message_pinned(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    one, two, three = [await send(client, a, chat["id"], t) for t in ("one", "two", "three")]
    for m in (two, one, three):
        assert (await client.put(f"/v1/chats/{chat['id']}/pins/{m['id']}", headers=a.headers)).status_code == 204
    await client.put(f"/v1/chats/{chat['id']}/pins/{one['id']}", headers=a.headers)  # idempotent
    await client.delete(f"/v1/chats/{chat['id']}/pins/{three['id']}", headers=a.headers)
    pins = (await client.get(f"/v1/chats/{chat['id']}/pins", headers=a.headers)).json()["messages"]
    assert [m["text"] for m in pins] == ["one", "two"]
    page = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=a.headers)).json()["messages"]
    assert [m["pinned"] for m in page] == [True, True, False]


async def test_fifty_first_pin_is_409_even_when_concurrent(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    ids = [(await send(client, a, chat["id"], str(n)))["id"] for n in range(55)]
    responses = await asyncio.gather(*(client.put(f"/v1/chats/{chat['id']}/pins/{i}", headers=a.headers) for i in ids))
    assert sorted(r.status_code for r in responses) == [204] * 50 + [409] * 5
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"too_many_pins"}
    assert len((await client.get(f"/v1/chats/{chat['id']}/pins", headers=a.headers)).json()["messages"]) == 50


async def test_deleting_a_pinned_message_unpins_it_with_an_event(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    message = await send(client, a, chat["id"])
    start = await cursor_now(client, b)
    await client.put(f"/v1/chats/{chat['id']}/pins/{message['id']}", headers=a.headers)
    await client.delete(f"/v1/chats/{chat['id']}/messages/{message['id']}", headers=a.headers)
    frames = (await sync(client, b, start))["events"]
    assert [(f["type"], f.get("pinned")) for f in frames] == [
        ("pins_changed", True),
        ("message_deleted", None),
        ("pins_changed", False),
    ]
    assert (frames[0]["chat_id"], frames[0]["message_id"], frames[0]["by_user_id"]) == (chat["id"], message["id"], a.id)
    assert (await client.get(f"/v1/chats/{chat['id']}/pins", headers=a.headers)).json()["messages"] == []
    r = await client.put(f"/v1/chats/{chat['id']}/pins/{message['id']}", headers=a.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "message_deleted")


async def test_pinning_a_message_of_another_chat_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    one, two = await new_chat(client, a, "group"), await new_chat(client, a, "group")
    message = await send(client, a, one["id"])
    assert (await client.put(f"/v1/chats/{two['id']}/pins/{message['id']}", headers=a.headers)).status_code == 404
