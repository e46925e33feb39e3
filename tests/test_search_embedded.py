"""Search on the embedded default database (the pinned PostgreSQL 18 wheel), not only on the
system PostgreSQL the rest of the suite uses: the migration's extension (unaccent), the stored
tsvector literals and the search and chat-filter statements all work there."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from messenger import db as dbmod
from messenger import embedded
from messenger.db import Q
from messenger.searchtext import index_vector, parse, prefix_query

TEXTS = [
    "Schöne Grüße aus Köln",
    "Встречаемся завтра у метро",
    "مرحبا بكم في الاجتماع",
    "明日は東京で会議があります",
    "我们明天在北京开会",
]


async def test_search_statements_work_on_the_embedded_postgresql() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="messenger-search-embedded-"))
    pg = await asyncio.to_thread(embedded.start, data_dir)
    try:
        await dbmod.migrate(pg.dsn)
        conn = await asyncpg.connect(pg.dsn)
        try:
            assert (await conn.fetchval("SHOW server_version_num")).startswith("18")
            user = await conn.fetchval(
                "INSERT INTO users (email, username, display_name, password_hash) "
                "VALUES ('e@example.com', 'embedded_user', 'Émile', '\\x00') RETURNING id"
            )
            chat = await conn.fetchval("INSERT INTO chats (kind, title) VALUES ('group', 'Équipe Köln') RETURNING id")
            await conn.execute("INSERT INTO chat_members (chat_id, user_id, role) VALUES ($1, $2, 'owner')", chat, user)
            await conn.execute("INSERT INTO member_spans (chat_id, user_id, from_pos) VALUES ($1, $2, 0)", chat, user)
            for seq, text in enumerate(TEXTS, start=1):
                await conn.execute(
                    "INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text, search) "
                    "VALUES ($1, $2, $3, $4, $5, $6::tsvector)",
                    chat,
                    seq,
                    user,
                    f"c{seq}",
                    text,
                    index_vector(text),
                )
            far = (datetime(9999, 12, 30, tzinfo=UTC), datetime(1, 1, 2, tzinfo=UTC))
            for q, expected in [("grusse", 0), ("завт", 1), ("مرح", 2), ("東京", 3), ("北京", 4)]:
                rows = await conn.fetch(Q.search_messages, user, parse(q).tsquery, None, None, *far, 2**63 - 1, 10)
                assert [r["text"] for r in rows] == [TEXTS[expected]], q
            chats = await conn.fetch(Q.chats_for_user, user, *far[:1], 2**62, 10, prefix_query("EQUI kol"))
            assert [r["title"] for r in chats] == ["Équipe Köln"]
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(data_dir, ignore_errors=True)
