"""The database CPU floor of a durable commit: `uv run --group bench python -m bench.dbfloor [options]`.

What PostgreSQL itself costs per commit on this machine, next to what messenger's one-message
send costs in the same run, so a target for database CPU per message can be read against the
floor under it. An open-loop client (asyncpg, the production driver) starts transactions at
`--rate` per second (Poisson arrivals, or evenly spaced with `--even`), at most two in flight
on two connections, as the group-commit writer keeps them (`MAX_INFLIGHT`); each transaction
is one statement in autocommit, on the embedded PostgreSQL of the bench in a temporary
directory (or the server of `--admin-dsn`), `synchronous_commit` as the server has it (on:
every commit waits for its WAL flush). Variants:

- `round_trip`: `SELECT 1`: no WAL, no flush; a round trip and a backend wake-up;
- `insert`: one row (identity key, chat id, the send's 100-character text) into a bare table, committed
  durably: the floor of any message that is persisted before it is acknowledged;
- `send`: `messages.send_batch` with one request, as the writer calls it (its pool, no reset on
  release, the after-ack work awaited after), into a database seeded as `bench.sendcost` seeds it.

Each runs `--duration` seconds after `--warmup` seconds (CHECKPOINT before each, so no run
starts with another's dirty pages), variants in turn, `--rounds` times, so drift on a shared
machine spreads over all. Per transaction: the CPU of every process of the server (the
postmaster, its connections, its background processes, and children that exited in the window,
as `bench/server.py` counts it), user and system apart (system: the WAL flush's kernel work and
the sockets; `/proc` counts in clock ticks, so a window wants thousands of transactions); WAL
bytes (`pg_current_wal_insert_lsn()`); the commit's latency as the client sees it, from sending
the statement to its result. The table shows the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import psutil

from messenger import db as dbmod
from messenger import messages
from messenger.realtime.writer import MAX_INFLIGHT

from .hist import Histogram
from .sendcost import Quiet, postgres, postmaster_of, request, seeded

VARIANTS = ("round_trip", "insert", "send")
Transaction = Callable[[int], Awaitable[None]]


@dataclass
class Run:
    variant: str
    transactions: int
    seconds: float
    user_us: float
    sys_us: float
    wal_bytes: float
    latency: Histogram

    @property
    def cpu_us(self) -> float:
        return self.user_us + self.sys_us


def server_cpu(postmaster: int) -> tuple[float, float]:
    """User and system CPU seconds so far of the postmaster and every process under it, with
    the children it reaped (a process that exits inside a window keeps its CPU in the total)."""
    root = psutil.Process(postmaster)
    t = root.cpu_times()
    user, system = t.user + t.children_user, t.system + t.children_system
    for p in root.children(recursive=True):
        try:
            c = p.cpu_times()
        except psutil.Error:
            continue
        user += c.user
        system += c.system
    return user, system


async def _open_loop(transaction: Transaction, rate: float, seconds: float, even: bool, first: int) -> Histogram:
    """Start transaction `first`, `first + 1`, ... on schedule for `seconds`, at most MAX_INFLIGHT
    at once (a transaction whose time has come waits for a free slot); their latencies in us."""
    loop = asyncio.get_running_loop()
    rng = random.Random(first)
    due: list[float] = []
    at = 0.0
    while True:
        at += 1 / rate if even else rng.expovariate(rate)
        if at >= seconds:
            break
        due.append(at)
    start = loop.time()
    latency = Histogram()
    taken = 0

    async def slot() -> None:
        nonlocal taken
        while taken < len(due):
            i = taken
            taken += 1
            wait = start + due[i] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = loop.time()
            await transaction(first + i)
            latency.record(round((loop.time() - sent) * 1e6))

    await asyncio.gather(*(slot() for _ in range(MAX_INFLIGHT)))
    return latency


def _transaction(variant: str, database: dbmod.Database, rooms: dict[int, list[int]]) -> Transaction:
    chats = sorted(rooms)
    tag = uuid.uuid4().hex[:6]
    quiet = Quiet()

    async def round_trip(i: int) -> None:
        await database.execute("SELECT 1")

    async def insert(i: int) -> None:
        req = request(chats, rooms, tag, i)
        await database.execute("INSERT INTO dbfloor_messages (chat_id, body) VALUES ($1, $2)", req.chat_id, req.text)

    async def send(i: int) -> None:
        after_acks: list[Awaitable[None]] = []
        reqs = [request(chats, rooms, tag, i)]
        [result] = await messages.send_batch(database, quiet, quiet, reqs, after_acks=after_acks)
        assert isinstance(result, messages.Sent), result
        for work in after_acks:
            await work
        quiet.jobs.clear()

    return {"round_trip": round_trip, "insert": insert, "send": send}[variant]


async def _run(variant: str, dsn: str, admin: asyncpg.Connection, postmaster: int, rooms: dict[int, list[int]],
               args: argparse.Namespace) -> Run:  # fmt: skip
    # The writer's pool: MAX_INFLIGHT connections, released without asyncpg's reset query.
    database = await dbmod.Database.connect(dsn, min_size=MAX_INFLIGHT, max_size=MAX_INFLIGHT, reset_session=False)
    try:
        transaction = _transaction(variant, database, rooms)
        await admin.execute("CHECKPOINT")
        await _open_loop(transaction, args.rate, args.warmup, args.even, 0)
        wal0 = await admin.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        user0, sys0 = server_cpu(postmaster)
        latency = await _open_loop(transaction, args.rate, args.duration, args.even, 10_000_000)
        user1, sys1 = server_cpu(postmaster)
        wal = await admin.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::text::pg_lsn)", wal0)
    finally:
        await database.close()
    n = latency.total
    return Run(variant, n, args.duration, (user1 - user0) * 1e6 / n, (sys1 - sys0) * 1e6 / n, float(wal) / n, latency)


async def main(args: argparse.Namespace) -> list[Run]:
    async with postgres(args.admin_dsn, "dbfloor-") as admin_dsn:
        admin = await asyncpg.connect(admin_dsn)
        name = f"dbfloor_{uuid.uuid4().hex[:8]}"
        runs: list[Run] = []
        try:
            postmaster = await postmaster_of(admin)
            if postmaster is None:
                raise SystemExit("the server's processes are not on this machine: its CPU cannot be read")
            settings = await admin.fetch(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method') ORDER BY name"
            )
            dsn, topology = await seeded(admin, admin_dsn, name, args.users, args.room_size)
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(
                    "CREATE TABLE dbfloor_messages (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                    " chat_id bigint NOT NULL, body text NOT NULL)"
                )
            finally:
                await conn.close()
            print(", ".join(f"{r['name']} {r['setting']}" for r in settings))
            print(f"{args.rate:g} transactions/s {'evenly spaced' if args.even else 'Poisson'}, "
                  f"at most {MAX_INFLIGHT} in flight, {args.duration:g} s per run")  # fmt: skip
            for r in range(args.rounds):
                for variant in args.variants.split(","):
                    run = await _run(variant, dsn, admin, postmaster, topology.rooms, args)
                    runs.append(run)
                    print(
                        f"round {r + 1} {variant:>10}: {run.transactions / run.seconds:6.0f} tx/s, "
                        f"database CPU {run.cpu_us:6.1f} us/tx (user {run.user_us:5.1f}, sys {run.sys_us:5.1f}), "
                        f"WAL {run.wal_bytes:6.0f} B/tx, commit p50 {run.latency.percentile(50) / 1e3:.2f} ms "
                        f"p99 {run.latency.percentile(99) / 1e3:.2f} ms",
                        flush=True,
                    )
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    _table(runs)
    return runs


def _table(runs: list[Run]) -> None:
    print()
    print("| variant | tx/s | database CPU us/tx [runs] | user | system | WAL B/tx | commit p50 ms | commit p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    median: dict[str, float] = {}
    for variant in dict.fromkeys(r.variant for r in runs):
        mine = [r for r in runs if r.variant == variant]
        cpu = [r.cpu_us for r in mine]
        median[variant] = statistics.median(cpu)
        runs_cpu = ", ".join(f"{c:.0f}" for c in cpu)
        print(
            f"| {variant} | {statistics.median(r.transactions / r.seconds for r in mine):.0f} "
            f"| {median[variant]:.0f} [{runs_cpu}] | {statistics.median(r.user_us for r in mine):.0f} "
            f"| {statistics.median(r.sys_us for r in mine):.0f} | {statistics.median(r.wal_bytes for r in mine):.0f} "
            f"| {statistics.median(r.latency.percentile(50) for r in mine) / 1e3:.2f} "
            f"| {statistics.median(r.latency.percentile(99) for r in mine) / 1e3:.2f} |"
        )
    if "send" in median and "insert" in median:
        print(f"\nsend / insert: {median['send'] / median['insert']:.2f}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.dbfloor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--admin-dsn", help="a PostgreSQL to use (default: an embedded one in a temporary directory)")
    p.add_argument("--rate", type=float, default=1000.0, help="transactions started per second")
    p.add_argument("--duration", type=float, default=15.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds at the rate before each measured window")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--even", action="store_true", help="evenly spaced starts instead of Poisson arrivals")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--room-size", type=int, default=10)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
