"""Message pages: newest page, before/after keysets, has_more, edges."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from .chat_factories import new_chat, send
from .factories import User, make_user


async def _chat_with(client: httpx.AsyncClient, db: asyncpg.Pool, n: int) -> tuple[User, int]:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    for i in range(n):
        await send(client, a, chat["id"], f"m{i + 1}")
    return a, chat["id"]


async def _page(client: httpx.AsyncClient, user: User, chat_id: int, **params: Any) -> tuple[list[int], bool]:
    r = await client.get(f"/v1/chats/{chat_id}/messages", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    return [m["seq"] for m in body["messages"]], body["has_more"]


async def test_empty_chat_has_empty_page(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 0)
    assert await _page(client, a, cid) == ([], False)
    assert await _page(client, a, cid, before=1) == ([], False)
    assert await _page(client, a, cid, after=0) == ([], False)


async def test_newest_page_is_ascending_with_has_more(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 5)
    assert await _page(client, a, cid, limit=2) == ([4, 5], True)
    assert await _page(client, a, cid) == ([1, 2, 3, 4, 5], False)


async def test_exact_page_size_has_no_more(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 3)
    assert await _page(client, a, cid, limit=3) == ([1, 2, 3], False)
    assert await _page(client, a, cid, before=4, limit=3) == ([1, 2, 3], False)
    assert await _page(client, a, cid, after=0, limit=3) == ([1, 2, 3], False)


async def test_before_walks_back_to_the_start(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 5)
    assert await _page(client, a, cid, before=4, limit=2) == ([2, 3], True)
    assert await _page(client, a, cid, before=2, limit=2) == ([1], False)
    assert await _page(client, a, cid, before=1) == ([], False)


async def test_after_walks_forward_to_the_end(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 5)
    assert await _page(client, a, cid, after=1, limit=2) == ([2, 3], True)
    assert await _page(client, a, cid, after=3, limit=2) == ([4, 5], False)
    assert await _page(client, a, cid, after=5) == ([], False)


async def test_before_and_after_bound_a_window(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 6)
    assert await _page(client, a, cid, after=1, before=6, limit=2) == ([2, 3], True)
    assert await _page(client, a, cid, after=3, before=6, limit=2) == ([4, 5], False)


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"before": -1}, {"after": "x"}])
async def test_bad_page_parameters_are_422(client: httpx.AsyncClient, db: asyncpg.Pool, params: Any) -> None:
    a, cid = await _chat_with(client, db, 0)
    r = await client.get(f"/v1/chats/{cid}/messages", params=params, headers=a.headers)
    assert r.status_code == 422


async def test_default_limit_is_50(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, cid = await _chat_with(client, db, 51)
    seqs, more = await _page(client, a, cid)
    assert (seqs[0], seqs[-1], len(seqs), more) == (2, 51, 50, True)
