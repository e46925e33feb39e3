"""Database cost of a read marker: one statement each against batches of `mark_read_batch()`.

    python -m bench.readmarks [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
                              [--markers 3000] [--rounds 2]

Creates a scratch database (dropped afterwards), migrates it and seeds 20,000 users in 20,000
groups (about 200,000 `chat_members` rows, every chat at seq 100). Then, per round and per way,
moves the markers of the same `--markers` random (chat, user) pairs from 0 to 50 on one
connection and prints that backend's CPU (from /proc, so PostgreSQL must run on this machine)
and the wall time, per marker. The ways: `mark_read` once per marker (the one-row statement: a
marker's whole cost before batching, and a batch of one now), and `mark_read_batch()` in
batches of 1, 10 and 50. Each call is its own commit, as in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from messenger import db as dbmod
from messenger.db import Q

USERS = 20_000
CHATS = 20_000
SEQ = 50


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _seed(conn: asyncpg.Connection) -> None:
    await conn.execute(
        """INSERT INTO users (email, username, password_hash)
           SELECT 'r' || g || '@example.com', 'r' || g, '\\x00'::bytea FROM generate_series(1, $1) g""",
        USERS,
    )
    await conn.execute(
        "INSERT INTO chats (kind, member_count, last_seq) SELECT 'group', 10, 100 FROM generate_series(1, $1)", CHATS
    )
    # Each chat with ten users, each user in ten chats.
    await conn.execute(
        """INSERT INTO chat_members (chat_id, user_id, role)
           SELECT c.id, u.id, 'member'
           FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM chats) c
           CROSS JOIN generate_series(0, 9) k
           JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM users) u
             ON u.n = (c.n + k * ($1 / 10)) % $1""",
        USERS,
    )
    await conn.execute("ANALYZE")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--markers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    name = f"bench_rm_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = args.dsn.rsplit("/", 1)[0] + "/" + name
    try:
        await dbmod.migrate(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            await _seed(conn)
            print("chat_members rows:", await conn.fetchval("SELECT count(*) FROM chat_members"))
            await _measure(conn, args.markers, args.rounds)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(conn: asyncpg.Connection, markers: int, rounds: int) -> None:
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    pairs = await conn.fetch("SELECT chat_id, user_id FROM chat_members ORDER BY random() LIMIT $1", markers)
    chats, users = [p["chat_id"] for p in pairs], [p["user_id"] for p in pairs]
    one, batch = await conn.prepare(Q.mark_read), await conn.prepare(Q.mark_read_batch)

    async def singly() -> None:
        for chat, user in zip(chats, users, strict=True):
            await one.fetchrow(chat, user, SEQ)

    def batches_of(size: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            for i in range(0, len(chats), size):
                part = slice(i, i + size)
                await batch.fetch(chats[part], users[part], [SEQ] * len(chats[part]))

        return run

    ways = [("mark_read, one per marker", singly)] + [
        (f"mark_read_batch(), batches of {n}", batches_of(n)) for n in (1, 10, 50)
    ]
    moved_sql = """SELECT count(*) FROM chat_members
                   WHERE (chat_id, user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))
                     AND last_read_seq = $3"""
    for _ in range(rounds):
        for label, way in ways:
            await conn.execute(
                """UPDATE chat_members SET last_read_seq = 0
                   WHERE (chat_id, user_id) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[]))""",
                chats,
                users,
            )
            await conn.execute("CHECKPOINT")
            cpu0, wall0 = _backend_cpu(pid), time.perf_counter()
            await way()
            cpu1, wall1 = _backend_cpu(pid), time.perf_counter()
            moved = await conn.fetchval(moved_sql, chats, users, SEQ)
            print(
                f"{label:36s} backend CPU {1e6 * (cpu1 - cpu0) / markers:7.1f} us/marker, "
                f"wall {1e6 * (wall1 - wall0) / markers:7.1f} us/marker, moved {moved}/{markers}"
            )


if __name__ == "__main__":
    asyncio.run(main())
