"""`messenger search reindex`: messages indexed by PostgreSQL's parser before migration 0007 are
re-indexed the way the send path does, in batches that resume where a run stopped."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx

from messenger import search
from messenger.db import Database

from .chat_factories import new_chat, send
from .factories import make_user

TEXT = "我们明天在北京开会"


@asynccontextmanager
async def _legacy(db: asyncpg.Pool, chat_id: int) -> AsyncIterator[None]:
    """The chat's messages indexed as migration 0007 did, and the reindex due from them on;
    afterwards the index is what the send path writes again and the reindex is finished."""
    await db.execute(
        "UPDATE messages SET search = to_tsvector('simple', unaccent(text)) WHERE chat_id = $1 AND text IS NOT NULL",
        chat_id,
    )
    await db.execute(
        """INSERT INTO search_reindex (upto_id, next_id)
           SELECT max(id), min(id) FILTER (WHERE chat_id = $1) - 1 FROM messages
           ON CONFLICT (id) DO UPDATE SET upto_id = excluded.upto_id, next_id = excluded.next_id, finished_at = NULL""",
        chat_id,
    )
    try:
        yield
    finally:
        database = Database(db)
        while not (await search.reindex_batch(database, 10_000)).done:
            pass


async def _found(client: httpx.AsyncClient, headers: dict[str, str], q: str) -> list[str]:
    r = await client.get("/v1/search/messages", params={"q": q}, headers=headers)
    assert r.status_code == 200, r.text
    return [x["message"]["text"] for x in r.json()["results"]]


async def _sent(client: httpx.AsyncClient, db: asyncpg.Pool) -> tuple[dict[str, str], int]:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    await send(client, a, chat["id"], TEXT)
    await send(client, a, chat["id"], "Schöne Grüße aus Köln")
    return a.headers, chat["id"]


async def test_reindex_makes_chinese_words_of_old_messages_findable(
    client: httpx.AsyncClient, db: asyncpg.Pool, server_env: dict[str, str]
) -> None:
    headers, chat_id = await _sent(client, db)
    async with _legacy(db, chat_id):
        assert await _found(client, headers, "北京") == []  # the parser saw one word
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "messenger", "search", "reindex", "--batch", "1",
            env=server_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert "re-indexed" in out.decode()
        assert await _found(client, headers, "北京") == [TEXT]
        assert await _found(client, headers, "grusse") == ["Schöne Grüße aus Köln"]
        assert await db.fetchval("SELECT finished_at IS NOT NULL FROM search_reindex")


async def test_reindex_goes_on_after_the_last_finished_batch(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, chat_id = await _sent(client, db)
    async with _legacy(db, chat_id):
        database = Database(db)
        first = await search.reindex_batch(database, 1)
        oldest = await db.fetchval("SELECT min(id) FROM messages WHERE chat_id = $1", chat_id)
        assert (first.next_id, first.done) == (oldest, False)
        assert await db.fetchval("SELECT next_id FROM search_reindex") == oldest
        # A new run (a new process would read the same row) starts after it.
        second = await search.reindex_batch(Database(db), 1)
        assert second.next_id > first.next_id
        rest = await search.reindex_batch(Database(db), 1_000_000)
        assert rest.done and rest.next_id == rest.upto_id
        assert (await search.reindex_batch(Database(db), 1)).rewritten == 0
