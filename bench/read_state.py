"""Read state and presence at scale: the chat-list plan and the `ready` snapshot's cost for a user
in 1,000 chats.

    python -m bench.read_state [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
                               [--redis redis://127.0.0.1:6379/0] [--runs 200]

Creates a scratch database (dropped afterwards), migrates it and seeds one user in 600 direct
chats and 400 groups of 20 members (7,600 other users in all, 30 messages per chat), half of the
contacts online. Prints EXPLAIN (ANALYZE, BUFFERS) of the chat list's first page and of the
snapshot's candidate query, then the snapshot's median and p95 time: on a single node (no Redis,
in-process lookup) and in a cluster with 3 other live nodes (one pipelined Redis round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from messenger import db as dbmod
from messenger.db import Database, Q
from messenger.realtime.presence import SNAPSHOT_CANDIDATES, SNAPSHOT_GROUP_MAX, PresenceTracker

DIRECT = 600
GROUPS = 400
GROUP_SIZE = 20
MESSAGES = 30


async def _seed(conn: asyncpg.Connection) -> tuple[int, list[int]]:
    n_others = DIRECT + GROUPS * (GROUP_SIZE - 1)
    ids = await conn.fetch(
        """INSERT INTO users (email, username, password_hash)
           SELECT 'b' || g || '@example.com', 'b' || g, '\\x00'::bytea FROM generate_series(0, $1) g
           RETURNING id""",
        n_others,
    )
    user_ids = [r["id"] for r in ids]
    me, others = user_ids[0], user_ids[1:]
    chat_ids = [
        r["id"]
        for r in await conn.fetch(
            """INSERT INTO chats (kind, direct_key, member_count, last_seq, last_activity)
               SELECT CASE WHEN g < $1 THEN 'direct' ELSE 'group' END,
                      CASE WHEN g < $1 THEN 'k' || g END,
                      CASE WHEN g < $1 THEN 2 ELSE $2 END, $3, now() - g * interval '1 second'
               FROM generate_series(0, $4 - 1) g ORDER BY g RETURNING id""",
            DIRECT,
            GROUP_SIZE,
            MESSAGES,
            DIRECT + GROUPS,
        )
    ]
    chats, users, roles, reads = [], [], [], []
    cursor = 0
    for i, chat in enumerate(chat_ids):
        peers = [others[cursor]] if i < DIRECT else others[cursor : cursor + GROUP_SIZE - 1]
        cursor += len(peers)
        for n, u in enumerate([me, *peers]):
            chats.append(chat)
            users.append(u)
            roles.append("owner" if n == 0 else "member")
            reads.append(MESSAGES if n == 0 else (n * 7) % MESSAGES)
    await conn.execute(
        """INSERT INTO chat_members (chat_id, user_id, role, last_read_seq)
           SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[])""",
        chats,
        users,
        roles,
        reads,
    )
    await conn.execute(
        """INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text)
           SELECT c, s, $2, 'm' || s, 'message ' || s
           FROM unnest($1::bigint[]) c, generate_series(1, $3) s""",
        chat_ids,
        me,
        MESSAGES,
    )
    await conn.execute("ANALYZE")
    return me, others


def _median_p95(samples: list[float]) -> str:
    samples.sort()
    return f"median {statistics.median(samples) * 1000:.2f} ms, p95 {samples[int(len(samples) * 0.95)] * 1000:.2f} ms"


async def _snapshot_timing(database: Database, me: int, online: set[int], runs: int, redis_url: str | None) -> str:
    local = {u: object() for u in online}
    redis = None
    prefix = f"benchrs:{uuid.uuid4().hex[:8]}:"
    if redis_url is not None:
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_url)
        local = {}
    tracker = PresenceTracker(
        database, lambda *_: None, redis=redis, prefix=prefix, node_id="me", local_users=local, grace=0
    )
    try:
        if redis is not None:
            # Three other live nodes share the online users.
            nodes = ["n1", "n2", "n3"]
            ordered = sorted(online)
            for i, node in enumerate(nodes):
                part = [str(u) for u in ordered[i::3]]
                await redis.sadd(f"{prefix}presence:node:{node}", *part)
            tracker._alive = ["me", *nodes]
        found = await tracker.snapshot(me)
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            await tracker.snapshot(me)
            samples.append(time.perf_counter() - start)
        return f"{len(found)} online ids; {_median_p95(samples)}"
    finally:
        if redis is not None:
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    name = f"bench_rs_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = args.dsn.rsplit("/", 1)[0] + "/" + name
    try:
        await dbmod.migrate(dsn)
        database = await Database.connect(dsn)
        try:
            async with database.pool.acquire() as conn:
                me, others = await _seed(conn)
                far = datetime(9999, 12, 30, tzinfo=UTC)
                plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + Q.chats_for_user, me, far, 2**62, 51)
                print("== chat list, first page (limit 50 + 1), user in 1,000 chats")
                print("\n".join(r[0] for r in plan))
                plan = await conn.fetch(
                    "EXPLAIN (ANALYZE, BUFFERS) " + Q.realtime_presence_candidates,
                    me,
                    SNAPSHOT_GROUP_MAX,
                    SNAPSHOT_CANDIDATES,
                )
                print("== ready snapshot candidates")
                print("\n".join(r[0] for r in plan))
            online = set(others[::2])
            print("== ready snapshot, single node:", await _snapshot_timing(database, me, online, args.runs, None))
            print(
                "== ready snapshot, 3 other nodes:", await _snapshot_timing(database, me, online, args.runs, args.redis)
            )
        finally:
            await database.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
