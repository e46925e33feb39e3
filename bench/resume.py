"""Resume of 1,000 events, in-process: `uv run python -m bench.resume [--rounds N]`.

What a WebSocket `resume` (and REST sync) costs per event, without sockets: a private database
on the PostgreSQL of `--admin-dsn` (created, migrated, dropped), one chat of two members with
1,000 `receive_message` events in the reader's span, of which every 10th message is then
edited and every 10th deleted through the real domain functions (so the stored events are
what the server would hold). Each round reads the whole span the way the hub replays it
(`events.read` pages of `REPLAY_PAGE`) and builds the JSON and MessagePack frames of every
event. Prints the min, median and p90 of a round in milliseconds (on a shared machine the
min is the steadiest figure).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg

from messenger import db as dbmod
from messenger import events, messages
from messenger.messages import MessageBody, message_from
from messenger.realtime.frames import event_msgpack
from messenger.realtime.hub import REPLAY_PAGE

EVENTS = 1000


async def _seed(pool: dbmod.Database) -> int:
    """Two users, one group chat, 1,000 sent messages; every 10th edited, every 10th deleted."""
    reader, sender = [
        await pool.fetchval(
            "INSERT INTO users (email, username, display_name, password_hash) VALUES ($1, $1, $1, 'x') RETURNING id",
            name,
        )
        for name in (f"r{uuid.uuid4().hex[:8]}", f"s{uuid.uuid4().hex[:8]}")
    ]
    async with pool.transaction() as conn:
        chat_id = await conn.fetchval(
            "INSERT INTO chats (kind, title, member_count) VALUES ('group', 'b', 2) RETURNING id"
        )
        await conn.execute(
            "INSERT INTO chat_members (chat_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member')",
            chat_id,
            reader,
            sender,
        )
        await conn.execute(
            "INSERT INTO member_spans (chat_id, user_id, from_pos) VALUES ($1, $2, 0), ($1, $3, 0)",
            chat_id,
            reader,
            sender,
        )
        records = await conn.fetch(
            """INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text)
               SELECT $1, g, $2, 'c' || g, 'bench message ' || g || ' ' || repeat('x', 60)
               FROM generate_series(1, $3) AS g
               RETURNING id, chat_id, seq, sender_id, client_msg_id, text, reply_to_id, mentions,
                         created_at, edited_at, deleted_at IS NOT NULL AS deleted""",
            chat_id,
            sender,
            EVENTS,
        )
        drafts = [events.Draft(chat_id, events.RECEIVE_MESSAGE, MessageBody(message_from(r))) for r in records]
        await events.append(conn, drafts)
    return reader


class _NoSubscribers:
    """A process nobody is connected to: publishing reaches no one, no job is queued."""

    async def publish(self, events: object) -> None:
        return None

    async def publish_read(self, chat_id: int, user_id: int, seq: int, *, origin: object = None) -> None:
        return None

    async def enqueue(self, function: str, *args: object, job_id: str | None = None) -> None:
        return None


async def _edit_and_delete(dsn: str) -> None:
    """Every 10th message edited, every 10th (others) deleted, through messenger.messages."""
    database = await dbmod.Database.connect(dsn, min_size=1, max_size=2)
    nobody = _NoSubscribers()
    try:
        rows = await database.fetch("SELECT id, chat_id, sender_id, seq FROM messages ORDER BY seq")
        for r in rows:
            if r["seq"] % 10 == 3:
                await messages.edit(
                    database, nobody, nobody, r["sender_id"], r["chat_id"], r["id"], f"edited {r['seq']}"
                )
            elif r["seq"] % 10 == 7:
                await messages.delete(database, nobody, r["sender_id"], r["chat_id"], r["id"])
    finally:
        await database.close()


async def _round(database: dbmod.Database, reader: int) -> float:
    start = time.perf_counter()
    since = 0
    while True:
        page = await events.read(database, reader, since, limit=REPLAY_PAGE)
        for event in page.events:
            event.json_frame()
            event_msgpack(event)
        if not page.has_more:
            break
        since = int(page.cursor)
    return (time.perf_counter() - start) * 1000


async def main(admin_dsn: str, rounds: int) -> None:
    name = f"bench_resume_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rpartition("/")[0] + "/" + name
    try:
        await dbmod.migrate(dsn)
        database = await dbmod.Database.connect(dsn, min_size=1, max_size=2)
        try:
            reader = await _seed(database)
            await _edit_and_delete(dsn)
            # What autovacuum does on a live server: edits leave dead versions of the rows.
            await database.execute("VACUUM ANALYZE events")
            await database.execute("VACUUM ANALYZE member_spans")
            for _ in range(5):
                await _round(database, reader)  # warm caches and the plan
            times = sorted([await _round(database, reader) for _ in range(rounds)])
        finally:
            await database.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    p90 = times[int(len(times) * 0.9) - 1]
    print(
        f"resume of {EVENTS} events ({rounds} rounds): min {times[0]:.2f} ms, "
        f"median {statistics.median(times):.2f} ms, p90 {p90:.2f} ms"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.resume", description=__doc__)
    p.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--rounds", type=int, default=200)
    args = p.parse_args()
    asyncio.run(main(args.admin_dsn, args.rounds))
