"""A page of 50 messages with replies and reactions against a plain one, without HTTP.

    python -m bench.pages [--admin-dsn postgresql://postgres@127.0.0.1:5432/postgres]
                          [--rounds 500] [--explain]

Creates a scratch database (dropped afterwards), migrates it and seeds what `bench rest
--conversation --history 200` seeds: 200 users in chats of 10, 200 messages per chat, every
other chat "lived-in" (every other message replies to the one three before it, about two thirds
of the members reacted to every message with one of three emoji). Then, on one connection,
alternates `messenger.messages.page` (membership check, the page query with reply previews,
reactions with `me`, pins and forwarded origins, the attachments query, decoding into Structs)
on a lived-in chat and on a plain one, the newest page and `before=` pages of 50 as the REST
bench does, and prints the median and p90 of each and their ratio. `--explain`: EXPLAIN
(ANALYZE, BUFFERS) of the newest page of each kind first.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg

from messenger import db as dbmod
from messenger import messages
from messenger.db import Q

from .seed import seed

LIMIT = 50
HISTORY = 200


async def _explain(database: dbmod.Database, chat_id: int, reader: int) -> str:
    sql = "EXPLAIN (ANALYZE, BUFFERS) " + Q.messages_before
    rows = await database.fetch(sql, chat_id, 2**63 - 1, 0, LIMIT + 1, reader)
    return "\n".join(r[0] for r in rows)


async def main(admin_dsn: str, rounds: int, explain: bool) -> None:
    name = f"bench_pages_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rpartition("/")[0] + "/" + name
    try:
        await dbmod.migrate(dsn)
        topo = await seed(dsn, "bench-pages", 200, 10, messages_per_chat=HISTORY, conversation=True)
        database = await dbmod.Database.connect(dsn, min_size=1, max_size=1)
        try:
            await database.execute("VACUUM ANALYZE")
            lived = set(topo.conversation)
            kinds = {
                "conversation": [(c, m[0]) for c, m in topo.rooms.items() if c in lived],
                "plain": [(c, m[0]) for c, m in topo.rooms.items() if c not in lived],
            }
            if explain:
                for kind, chats in kinds.items():
                    print(f"-- {kind}\n{await _explain(database, *chats[0])}\n")
            times: dict[str, list[float]] = {k: [] for k in kinds}
            for k in range(rounds + 20):
                before = None if k % 2 else LIMIT + 1 + (k * 7919) % (HISTORY - LIMIT)
                for kind, chats in kinds.items():
                    chat_id, reader = chats[k % len(chats)]
                    start = time.perf_counter()
                    page = await messages.page(database, reader, chat_id, before=before, after=None, limit=LIMIT)
                    if k >= 20:  # the first rounds warm caches and plans
                        times[kind].append((time.perf_counter() - start) * 1000)
                    assert len(page.messages) == LIMIT
        finally:
            await database.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    medians = {}
    for kind, ts in times.items():
        ts.sort()
        medians[kind] = statistics.median(ts)
        print(f"{kind}: median {medians[kind]:.3f} ms, p90 {ts[int(len(ts) * 0.9) - 1]:.3f} ms ({len(ts)} pages)")
    print(f"conversation / plain (medians): {medians['conversation'] / medians['plain']:.2f}x")


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    p.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--explain", action="store_true")
    args = p.parse_args()
    asyncio.run(main(args.admin_dsn, args.rounds, args.explain))
