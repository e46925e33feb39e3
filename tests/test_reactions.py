"""Reactions: emoji validation, limits, exact counts under concurrency, events, pages, deletion."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import asyncpg
import emoji as emoji_data
import httpx
import pytest

from messenger import reactions
from messenger.errors import Unprocessable

from .chat_factories import cast, cursor_now, new_chat, send, sync
from .factories import User, make_user


def url(message: dict[str, Any], emoji: str) -> str:
    return f"/v1/chats/{message['chat_id']}/messages/{message['id']}/reactions/{quote(emoji, safe='')}"


async def react(client: httpx.AsyncClient, user: User, message: dict[str, Any], emoji: str) -> httpx.Response:
    return await client.put(url(message, emoji), headers=user.headers)


async def newest(client: httpx.AsyncClient, user: User, chat_id: int) -> dict[str, Any]:
    r = await client.get(f"/v1/chats/{chat_id}/messages", headers=user.headers)
    assert r.status_code == 200, r.text
    message: dict[str, Any] = r.json()["messages"][-1]
    return message


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "❤️", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "1️⃣", "🧑🏿‍🚀"])
def test_fully_qualified_emoji_pass(emoji: str) -> None:
    assert reactions.check_emoji(emoji) == emoji


@pytest.mark.parametrize("text", ["", "a", "❤", "👍👍", "👍 ", "🏽", ":+1:", "\u200d", "👍\x00"])
def test_anything_but_one_fully_qualified_emoji_is_invalid(text: str) -> None:
    with pytest.raises(Unprocessable):
        reactions.check_emoji(text)


async def test_invalid_emoji_in_path_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    message = await send(client, a, (await new_chat(client, a, "group"))["id"])
    r = await react(client, a, message, "ab")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_emoji")


async def test_page_shows_counts_in_first_use_order_with_me(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    message = await send(client, a, chat["id"])
    for user, emoji in [(b, "🎉"), (a, "👍"), (b, "👍")]:
        assert (await react(client, user, message, emoji)).status_code == 204
    assert (await react(client, b, message, "👍")).status_code == 204  # idempotent
    seen_by_a = (await newest(client, a, chat["id"]))["reactions"]
    seen_by_b = (await newest(client, b, chat["id"]))["reactions"]
    assert seen_by_a == [{"emoji": "🎉", "count": 1, "me": False}, {"emoji": "👍", "count": 2, "me": True}]
    assert seen_by_b == [{"emoji": "🎉", "count": 1, "me": True}, {"emoji": "👍", "count": 2, "me": True}]


async def test_removing_the_last_reaction_drops_the_emoji(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    message = await send(client, a, chat["id"])
    await react(client, a, message, "👍")
    assert (await client.delete(url(message, "👍"), headers=a.headers)).status_code == 204
    assert (await client.delete(url(message, "👍"), headers=a.headers)).status_code == 204  # idempotent
    assert (await newest(client, a, chat["id"]))["reactions"] == []
    assert await db.fetchval("SELECT count(*) FROM reaction_counts") == 0


async def test_fifty_users_reacting_at_once_give_exact_counts(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    people = [await make_user(db) for _ in range(50)]
    chat = await new_chat(client, owner, "group", *people)
    message = await send(client, owner, chat["id"])
    emoji = ["👍", "❤️", "😂"]
    responses = await asyncio.gather(*(react(client, p, message, emoji[n % 3]) for n, p in enumerate(people)))
    assert {r.status_code for r in responses} == {204}
    counts = {r["emoji"]: r["count"] for r in (await newest(client, owner, chat["id"]))["reactions"]}
    assert counts == {"👍": 17, "❤️": 17, "😂": 16}
    removals = await asyncio.gather(
        *(client.delete(url(message, emoji[n % 3]), headers=p.headers) for n, p in enumerate(people[:25]))
    )
    assert {r.status_code for r in removals} == {204}
    counts = {r["emoji"]: r["count"] for r in (await newest(client, owner, chat["id"]))["reactions"]}
    assert counts == {"👍": 8, "❤️": 9, "😂": 8}
    stored = await db.fetch("SELECT emoji, count(*) AS n FROM reactions GROUP BY emoji")
    assert {r["emoji"]: r["n"] for r in stored} == counts


async def test_events_carry_counts_in_commit_order(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    people = [await make_user(db) for _ in range(10)]
    chat = await new_chat(client, owner, "group", *people)
    message = await send(client, owner, chat["id"])
    start = await cursor_now(client, owner)
    await asyncio.gather(*(react(client, p, message, "👍") for p in people))
    frames = (await sync(client, owner, start))["events"]
    assert [f["type"] for f in frames] == ["reactions_changed"] * 10
    assert [f["reactions"] for f in frames] == [[{"emoji": "👍", "count": n}] for n in range(1, 11)]
    assert {f["user_id"] for f in frames} == {p.id for p in people}
    first = frames[0]
    assert (first["chat_id"], first["message_id"], first["seq"], first["emoji"], first["added"]) == (
        chat["id"], message["id"], 1, "👍", True,
    )  # fmt: skip


async def test_twenty_one_distinct_from_one_user_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    message = await send(client, a, (await new_chat(client, a, "group"))["id"])
    palette = sorted(e for e, d in emoji_data.EMOJI_DATA.items() if d["status"] == 2 and len(e) == 1)
    for emoji in palette[:20]:
        assert (await react(client, a, message, emoji)).status_code == 204
    r = await react(client, a, message, palette[20])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "too_many_reactions")
    assert (await react(client, a, message, palette[0])).status_code == 204  # one already there


async def test_fifty_one_distinct_on_one_message_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    people = [await make_user(db) for _ in range(3)]
    chat = await new_chat(client, owner, "group", *people)
    message = await send(client, owner, chat["id"])
    palette = sorted(e for e, d in emoji_data.EMOJI_DATA.items() if d["status"] == 2 and len(e) == 1)
    for n, emoji in enumerate(palette[:50]):
        assert (await react(client, people[n // 20], message, emoji)).status_code == 204
    r = await react(client, people[2], message, palette[50])
    assert (r.status_code, r.json()["error"]["code"]) == (409, "too_many_reactions")
    assert (await react(client, people[2], message, palette[0])).status_code == 204  # an existing emoji


async def test_non_member_gets_404_and_channel_member_may_react(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db, "channel")
    message = await send(client, c.owner, c.id)
    assert (await react(client, c.outsider, message, "👍")).status_code == 404
    assert (await client.get(url(message, "👍"), headers=c.outsider.headers)).status_code == 404
    assert (await react(client, c.member, message, "👍")).status_code == 204


async def test_reacting_to_a_deleted_message_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    message = await send(client, a, (await new_chat(client, a, "group"))["id"])
    await client.delete(f"/v1/chats/{message['chat_id']}/messages/{message['id']}", headers=a.headers)
    r = await react(client, a, message, "👍")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "message_deleted")


async def test_deleting_a_message_removes_its_reactions(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    message = await send(client, a, chat["id"])
    await react(client, a, message, "👍")
    await client.delete(f"/v1/chats/{chat['id']}/messages/{message['id']}", headers=a.headers)
    assert (await newest(client, a, chat["id"]))["reactions"] == []
    assert await db.fetchval("SELECT count(*) FROM reactions") == 0


async def test_sync_after_a_delete_returns_its_reactions_changed_events_empty(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    message = await send(client, a, chat["id"])
    start = await cursor_now(client, b)
    await react(client, a, message, "👍")
    await react(client, b, message, "🎉")
    await client.delete(f"/v1/chats/{chat['id']}/messages/{message['id']}", headers=a.headers)
    frames = [f for f in (await sync(client, b, start))["events"] if f["type"] == "reactions_changed"]
    assert [(f["user_id"], f["emoji"], f["reactions"]) for f in frames] == [(a.id, "👍", []), (b.id, "🎉", [])]


async def test_an_edit_keeps_the_counts_of_earlier_reactions_changed_events(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    message = await send(client, a, chat["id"])
    start = await cursor_now(client, a)
    await react(client, a, message, "👍")
    r = await client.patch(
        f"/v1/chats/{chat['id']}/messages/{message['id']}", json={"text": "edited"}, headers=a.headers
    )
    assert r.status_code == 200
    frames = [f for f in (await sync(client, a, start))["events"] if f["type"] == "reactions_changed"]
    assert [f["reactions"] for f in frames] == [[{"emoji": "👍", "count": 1}]]


async def test_users_of_one_emoji_are_paginated(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    people = [await make_user(db) for _ in range(5)]
    chat = await new_chat(client, owner, "group", *people)
    message = await send(client, owner, chat["id"])
    for p in people:
        await react(client, p, message, "👍")
    await react(client, owner, message, "🎉")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get(url(message, "👍"), params=params, headers=owner.headers)
        assert r.status_code == 200, r.text
        seen += [u["id"] for u in r.json()["users"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [p.id for p in people]
    bad = await client.get(url(message, "👍"), params={"cursor": "%%%"}, headers=owner.headers)
    assert bad.status_code == 422
