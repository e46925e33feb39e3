"""search: message search latency over a large, bulk-seeded history.

Seeds `--messages` messages over `--chats` group chats (COPY, with the same tsvector the send
path stores), a measured user in `--user-chats` of them, then runs `GET /v1/search/messages`
in a closed loop (one request in flight) for each kind of query: common words, rare words,
prefixes of 2-3 characters and two-word phrases. Reports p50/p95/p99 per kind and the
`EXPLAIN (ANALYZE, BUFFERS)` plan of one query of each kind.

Text is made of words drawn from a synthetic vocabulary with Zipf frequencies (rank r has
weight 1/r), so "common" and "rare" mean something: the top words appear in a large share of
all messages, the tail in a handful.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from messenger.db import Q
from messenger.searchtext import index_vector, parse

from .. import report
from ..hist import Histogram
from ..seed import SeedUser, seed
from ..server import Target
from .common import target_for

KINDS = ("common", "rare", "prefix", "phrase")
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"] + ["sch", "tr", "qu", "ch", "st"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Distinct pronounceable words of 2-4 syllables; index = frequency rank."""
    words: dict[str, None] = {}
    while len(words) < size:
        words.setdefault("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))), None)
    return list(words)


class Corpus:
    def __init__(self, vocab_size: int, seed_value: int = 7) -> None:
        self.rng = random.Random(seed_value)
        self.vocab = vocabulary(vocab_size, self.rng)
        # Cumulative Zipf weights, for random.choices(cum_weights=...).
        total = 0.0
        self.cum: list[float] = []
        for rank in range(1, vocab_size + 1):
            total += 1.0 / rank
            self.cum.append(total)

    def text(self) -> str:
        return " ".join(self.rng.choices(self.vocab, cum_weights=self.cum, k=self.rng.randint(5, 15)))


async def _copy_messages(
    conn: asyncpg.Connection,
    corpus: Corpus,
    chat_ids: list[int],
    members: dict[int, list[int]],
    total: int,
) -> None:
    """COPY `total` messages spread evenly over the chats."""
    per_chat = total // len(chat_ids)
    extra = total - per_chat * len(chat_ids)

    async def rows() -> AsyncIterator[bytes]:
        batch: list[str] = []
        for n, chat_id in enumerate(chat_ids):
            senders = members[chat_id]
            for seq in range(1, per_chat + (1 if n < extra else 0) + 1):
                text = corpus.text()
                vector = index_vector(text)
                batch.append(f"{chat_id}\t{seq}\t{senders[seq % len(senders)]}\ts{chat_id}-{seq}\t{text}\t{vector}\n")
                if len(batch) >= 5000:
                    yield "".join(batch).encode()
                    batch = []
        if batch:
            yield "".join(batch).encode()

    await conn.copy_to_table(
        "messages",
        source=rows(),
        columns=["chat_id", "seq", "sender_id", "client_msg_id", "text", "search"],
        format="text",
    )


_TITLE = "search bench "


async def phrase_sample(conn: asyncpg.Connection, user_id: int) -> list[str]:
    """Texts from the measured user's chats that phrases are cut from: every 20th message by
    id, so a reused database gives the same queries as the run that seeded it."""
    rows = await conn.fetch(
        """SELECT m.text FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id
           WHERE cm.user_id = $1 AND m.id % 20 = 0 ORDER BY m.id LIMIT 2000""",
        user_id,
    )
    return [r["text"] for r in rows]


async def reuse_history(target: Target, args: argparse.Namespace) -> tuple[SeedUser, list[str]] | None:
    """The measured user and phrase sample of a history an earlier run seeded into this
    database (`--data-dir`), or None when there is none."""
    assert target.dsn is not None and target.secret_key is not None
    from messenger.tokens import TokenSigner

    conn = await asyncpg.connect(target.dsn)
    try:
        chats = await conn.fetchval("SELECT count(*) FROM chats WHERE title LIKE $1", _TITLE + "%")
        if not chats:
            return None
        messages = await conn.fetchval("SELECT count(*) FROM messages")
        if chats != args.chats or messages < args.messages:
            raise SystemExit(
                f"bench: the database holds a search history of {messages:,} messages in {chats:,} chats, "
                f"not {args.messages:,} in {args.chats:,}: use another --data-dir"
            )
        # The measured user is the one member of many of them (the others are in a few each).
        row = await conn.fetchrow(
            """SELECT u.id, u.username, array_agg(cm.chat_id ORDER BY cm.chat_id) AS chats
               FROM chat_members cm JOIN chats c ON c.id = cm.chat_id JOIN users u ON u.id = cm.user_id
               WHERE c.title LIKE $1 GROUP BY u.id ORDER BY count(*) DESC LIMIT 1""",
            _TITLE + "%",
        )
        session_id = await conn.fetchval(
            "UPDATE sessions SET last_used_at = now() WHERE id = "
            "(SELECT min(id) FROM sessions WHERE user_id = $1 AND ended_at IS NULL) RETURNING id",
            row["id"],
        )
        token = TokenSigner(target.secret_key, ttl=3600).issue_access(row["id"], session_id)
        print(f"reusing the seeded history: {messages:,} messages in {chats:,} chats")
        return SeedUser(row["id"], row["username"], token, list(row["chats"])), await phrase_sample(conn, row["id"])
    finally:
        await conn.close()


async def seed_history(target: Target, args: argparse.Namespace, corpus: Corpus) -> tuple[SeedUser, list[str]]:
    assert target.dsn is not None and target.secret_key is not None
    # Only on request: a shared database may hold another run's history.
    reused = await reuse_history(target, args) if args.data_dir else None
    if reused is not None:
        return reused
    # Users with live sessions (no rooms): the first one is the measured user.
    topo = await seed(target.dsn, target.secret_key, args.users, 0)
    users = topo.users
    me = users[0]
    rng = random.Random(11)
    conn = await asyncpg.connect(target.dsn)
    try:
        started = time.monotonic()
        async with conn.transaction():
            rows = await conn.fetch(
                """INSERT INTO chats (kind, title, member_count)
                   SELECT 'group', $2 || i, 3 FROM generate_series(1, $1) AS i RETURNING id""",
                args.chats,
                _TITLE,
            )
            chat_ids = sorted(r["id"] for r in rows)
            mine = set(rng.sample(chat_ids, min(args.user_chats, len(chat_ids))))
            others = [u.id for u in users[1:]]
            members: dict[int, list[int]] = {}
            for chat_id in chat_ids:
                picked = rng.sample(others, 2)
                members[chat_id] = [me.id, picked[0]] if chat_id in mine else picked
                members[chat_id].append(picked[1] if chat_id in mine else rng.choice(others))
                members[chat_id] = list(dict.fromkeys(members[chat_id]))
            pairs = [(c, u) for c, us in members.items() for u in us]
            await conn.copy_records_to_table(
                "chat_members", records=[(c, u, "member") for c, u in pairs], columns=["chat_id", "user_id", "role"]
            )
            pos = await conn.fetchval("SELECT pos FROM event_stream WHERE id = 1")
            # Spans opened before any message: the members may read the whole history.
            await conn.copy_records_to_table(
                "member_spans", records=[(c, u, pos) for c, u in pairs], columns=["chat_id", "user_id", "from_pos"]
            )
            await _copy_messages(conn, corpus, chat_ids, members, args.messages)
            await conn.execute(
                """UPDATE chats SET last_seq = x.n FROM (
                       SELECT chat_id, max(seq) AS n FROM messages WHERE chat_id = ANY($1::bigint[]) GROUP BY chat_id
                   ) x WHERE chats.id = x.chat_id""",
                chat_ids,
            )
        await conn.execute("ANALYZE messages")
        await conn.execute("ANALYZE member_spans")
        await conn.execute("ANALYZE chat_members")
        print(f"seeded {args.messages:,} messages in {args.chats:,} chats in {time.monotonic() - started:.0f} s")
        sample = await phrase_sample(conn, me.id)
    finally:
        await conn.close()
    return me, sample


def queries(corpus: Corpus, sample: list[str], n: int) -> dict[str, list[str]]:
    rng = random.Random(5)
    vocab = corpus.vocab
    phrases = []
    for text in sample:
        words = text.split()
        if len(words) >= 2:
            i = rng.randrange(len(words) - 1)
            phrases.append(f'"{words[i]} {words[i + 1]}"')
    return {
        "common": [vocab[rng.randrange(10)] for _ in range(n)],
        "rare": [vocab[rng.randrange(len(vocab) // 2, len(vocab))] for _ in range(n)],
        "prefix": [vocab[rng.randrange(len(vocab))][: rng.choice((2, 3))] for _ in range(n)],
        "phrase": [rng.choice(phrases) for _ in range(n)] if phrases else [],
    }


async def _explain(dsn: str, user_id: int, q: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET TIME ZONE 'UTC'")
        args = (
            user_id,
            parse(q).tsquery,
            None,
            None,
            datetime(9999, 12, 30, tzinfo=UTC),
            datetime(1, 1, 2, tzinfo=UTC),
            2**63 - 1,
            21,
        )
        rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + Q.search_messages, *args)
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


async def measure(url: str, user: SeedUser, qs: list[str], limit: int) -> tuple[Histogram, dict[str, int], int]:
    hist = Histogram()
    statuses: dict[str, int] = {}
    found = 0
    headers = {"Authorization": f"Bearer {user.token}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for q in qs:
            start = time.monotonic_ns()
            r = await client.get(f"/v1/search/messages?limit={limit}&q={quote(q)}", headers=headers)
            hist.record((time.monotonic_ns() - start) // 1000)
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
            if r.status_code == 200:
                found += len(r.json()["results"])
    return hist, statuses, found


def search(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    problems: list[str] = []
    runs: dict[str, Any] = {}
    corpus = Corpus(args.vocabulary)
    with target_for(args, "messenger") as target:
        me, sample = asyncio.run(seed_history(target, args, corpus))
        assert target.dsn is not None
        plan_queries = queries(corpus, sample, args.queries)
        # Warm the caches the way a running server's would be.
        asyncio.run(measure(target.url, me, [q for qs in plan_queries.values() for q in qs[:5]], args.limit))
        for kind in KINDS:
            qs = plan_queries[kind]
            if not qs:
                continue
            hist, statuses, found = asyncio.run(measure(target.url, me, qs, args.limit))
            plan = asyncio.run(_explain(target.dsn, me.id, qs[0]))
            runs[kind] = {
                "queries": len(qs),
                "example": qs[0],
                "statuses": statuses,
                "results_per_query": round(found / len(qs), 1),
                "latency_ms": {**hist.summary_ms(), "p95": hist.percentile(95) / 1000.0},
                "explain": plan,
            }
            if set(statuses) != {"200"}:
                problems.append(f"{kind}: statuses {statuses}")
    headers = ["query kind", "example", "results/query", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    rows = [
        [k, r["example"], r["results_per_query"], *(r["latency_ms"].get(p) for p in ("p50", "p95", "p99", "max"))]
        for k, r in runs.items()
    ]
    print(
        report.table(
            f"search: {args.messages:,} messages, {args.chats:,} chats, user in {args.user_chats}, limit {args.limit}",
            headers,
            rows,
        )
    )
    for kind, r in runs.items():
        print(f"\n-- {kind}: {r['example']}\n{r['explain']}")
    # No baseline: a bare app has no search to compare with.
    headline = [report.Headline(f"{k} p95", r["latency_ms"]["p95"], None, "ms") for k, r in runs.items()]
    data = {"scenario": "search", "runs": runs, "environment": report.environment(), "headline": headline}
    return data, problems
