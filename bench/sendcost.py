"""Database CPU of one send: `uv run --group bench python -m bench.sendcost [options]`.

What a one-message batch costs PostgreSQL, without sockets or a server: a private database
(on an embedded PostgreSQL of the same version the bench spawns, in a temporary directory, or
on the server of `--admin-dsn`), 1,000 seeded users in group chats of 10, and one connection
that sends one message at a time through `messenger.messages.send_batch`, exactly as the
group-commit writer does (its own connection, no reset on release). The figure is the
backend's CPU time (`/proc/<pg_backend_pid()>/schedstat`, nanoseconds on the CPU; user and
system split from `/proc/<pid>/stat`) over `--calls` sends, per send, with
`synchronous_commit` on (every send waits for its WAL flush, as in production) and off (the
flush is left to the WAL writer: what the commit itself costs the backend is the
difference). Also per send: WAL bytes (`pg_current_wal_insert_lsn()` before and after) and the CPU of
the notification job the send enqueued (run inline on a second connection, measured the same
way; none when nothing was enqueued).

Ablations: each `--variant NAME=SQL` (or `NAME=@file.sql`) runs the same loop in a fresh copy of
the seeded database with SQL applied first (drop an index or a foreign key, replace a
function...). `base` (nothing applied) always runs. Variants run in turn, `--rounds` times,
so drift on a shared machine spreads over all of them; the table shows the median per variant.
Run it with nothing else running on the machine, like every timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import msgspec

from messenger import db as dbmod
from messenger import messages, notifications
from messenger.events import Event

from .seed import Topology, seed

TEXT_SIZE = 100


class _Measure(msgspec.Struct):
    cpu_ns: int
    user_ticks: int
    sys_ticks: int


def _proc_cpu(pid: int) -> _Measure:
    with open(f"/proc/{pid}/schedstat") as f:
        on_cpu = int(f.read().split()[0])
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name (which may hold spaces) start at the state, field 3.
        fields = f.read().rsplit(")", 1)[1].split()
    return _Measure(on_cpu, int(fields[11]), int(fields[12]))


def _cluster_cpu_ns(postmaster: int | None) -> int:
    """CPU of every process of the PostgreSQL server (background ones included), or 0."""
    if postmaster is None:
        return 0
    import psutil

    total = 0.0
    try:
        root = psutil.Process(postmaster)
        for p in [root, *root.children(recursive=True)]:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    except psutil.Error:
        return 0
    return int(total * 1e9)


class Quiet:
    """Publisher and Jobs for a process nobody is connected to: enqueued jobs are kept to be
    run (and measured) separately."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, tuple[Any, ...]]] = []

    async def publish(self, events: Sequence[Event]) -> None:
        return None

    async def publish_read(self, chat_id: int, user_id: int, seq: int, *, origin: object = None) -> None:
        return None

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        return None

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        self.jobs.append((function, args))

    async def depth(self) -> int | None:
        return len(self.jobs)


class _NobodyOnline:
    async def online(self, user_ids: Sequence[int]) -> set[int]:
        return set()

    async def deliver(self, created: Sequence[notifications.Created]) -> None:
        return None


class Result(msgspec.Struct):
    variant: str
    sync: str
    calls: int
    cpu_us: float
    user_us: float
    sys_us: float
    cluster_us: float
    wal_bytes: float
    job_us: float
    jobs: int


async def _loop(dsn: str, rooms: dict[int, list[int]], calls: int, warmup: int, sync: str, postmaster: int | None,
                variant: str, pin: bool) -> Result:  # fmt: skip
    database = await dbmod.Database.connect(dsn, min_size=1, max_size=1, reset_session=False)
    jobs_db = await dbmod.Database.connect(dsn, min_size=1, max_size=1, reset_session=False)
    quiet = Quiet()
    try:
        await database.execute(f"SET synchronous_commit = {sync}")
        pid = await database.fetchval("SELECT pg_backend_pid()")
        job_pid = await jobs_db.fetchval("SELECT pg_backend_pid()")
        if pin and len(os.sched_getaffinity(0)) > 1:
            # The backend on one core, this client (and the job's backend) on another: no
            # migrations between the two ends of every round trip, which made runs disagree.
            first, second = sorted(os.sched_getaffinity(0))[:2]
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {second})
                os.sched_setaffinity(job_pid, {first})
                os.sched_setaffinity(0, {first})
        chats = sorted(rooms)
        tag = uuid.uuid4().hex[:6]

        async def send(i: int) -> None:
            [result] = await messages.send_batch(database, quiet, quiet, [request(chats, rooms, tag, i)])
            assert isinstance(result, messages.Sent), result

        async def run_jobs() -> int:
            n = len(quiet.jobs)
            for function, args in quiet.jobs:
                assert function == "notify_messages"
                await notifications.create_for_messages(jobs_db, _NobodyOnline(), *args)
            quiet.jobs.clear()
            return n

        for i in range(warmup):
            await send(i)
            await run_jobs()
        wal0 = await database.fetchval("SELECT pg_current_wal_insert_lsn()::text")
        b0, j0, c0 = _proc_cpu(pid), _proc_cpu(job_pid), _cluster_cpu_ns(postmaster)
        jobs = 0
        for i in range(warmup, warmup + calls):
            await send(i)
            jobs += await run_jobs()
        b1, j1, c1 = _proc_cpu(pid), _proc_cpu(job_pid), _cluster_cpu_ns(postmaster)
        wal = await database.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::text::pg_lsn)", wal0)
    finally:
        await database.close()
        await jobs_db.close()
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    return Result(
        variant,
        sync,
        calls,
        cpu_us=(b1.cpu_ns - b0.cpu_ns) / 1e3 / calls,
        user_us=(b1.user_ticks - b0.user_ticks) * tick_us / calls,
        sys_us=(b1.sys_ticks - b0.sys_ticks) * tick_us / calls,
        cluster_us=(c1 - c0) / 1e3 / calls if postmaster else 0.0,
        wal_bytes=float(wal) / calls,
        job_us=(j1.cpu_ns - j0.cpu_ns) / 1e3 / calls,
        jobs=jobs,
    )


def request(chats: Sequence[int], rooms: dict[int, list[int]], tag: str, i: int) -> messages.SendRequest:
    """The `i`th one-message send: chats in turn, each chat's members in turn, TEXT_SIZE characters."""
    chat = chats[i % len(chats)]
    members = rooms[chat]
    sender = members[(i // len(chats)) % len(members)]
    text = f"sendcost {i} {time.monotonic_ns()} "
    text += "lorem ipsum dolor sit amet " * ((TEXT_SIZE - len(text)) // 27 + 1)
    return messages.SendRequest(sender, chat, f"{tag}-{i}", text[:TEXT_SIZE])


async def postmaster_of(admin: asyncpg.Connection) -> int | None:
    """The postmaster's pid when the server runs on this machine: from its data directory's
    pid file, or (that file unreadable to another user) the parent of this connection's backend."""
    data_dir = await admin.fetchval("SHOW data_directory")
    pid_file = Path(data_dir) / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError):
        pass
    import psutil

    try:
        backend = psutil.Process(await admin.fetchval("SELECT pg_backend_pid()"))
        parent = backend.parent()
        # A remote server's backend pid may be any local process: only a postgres child counts.
        if parent is not None and "postgres" in backend.name() and "postgres" in parent.name():
            return parent.pid
    except psutil.Error:
        pass
    return None


@contextlib.asynccontextmanager
async def postgres(admin_dsn: str | None, prefix: str) -> AsyncIterator[str]:
    """An admin DSN: `admin_dsn`, or an embedded PostgreSQL of the bench in a temporary
    directory, stopped and removed afterwards."""
    if admin_dsn is not None:
        yield admin_dsn
        return
    from messenger import embedded

    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        pg = embedded.start(Path(tmp))
        try:
            yield _with_db(pg.dsn, "postgres")
        finally:
            pg.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def seeded(
    admin: asyncpg.Connection, admin_dsn: str, name: str, users: int, room_size: int
) -> tuple[str, Topology]:
    """A new database `name`, migrated, with `users` users in group chats of `room_size`."""
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_db(admin_dsn, name)
    await dbmod.migrate(dsn)
    return dsn, await seed(dsn, "sendcost-secret-key-0123456789abcdef", users, room_size)


def _with_db(dsn: str, name: str) -> str:
    """The same server, another database (the embedded DSN keeps its socket in the query)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def _variant_sql(spec: str) -> tuple[str, str]:
    name, _, sql = spec.partition("=")
    if sql.startswith("@"):
        sql = Path(sql[1:]).read_text()
    return name, sql


async def main(args: argparse.Namespace) -> None:
    async with postgres(args.admin_dsn, "sendcost-") as admin_dsn:
        await _runs(args, admin_dsn)


async def _runs(args: argparse.Namespace, admin_dsn: str) -> None:
    variants = [("base", ""), *(_variant_sql(v) for v in args.variant)]
    template = f"sendcost_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    results: list[Result] = []
    try:
        postmaster = await postmaster_of(admin)
        version = await admin.fetchval("SHOW server_version")
        _, topology = await seeded(admin, admin_dsn, template, args.users, args.room_size)
        print(f"PostgreSQL {version}; {len(topology.rooms)} chats of {args.room_size}; {args.calls} sends per run")
        for r in range(args.rounds):
            for name, sql in variants:
                for sync in args.sync.split(","):
                    copy = f"{template}_{r}_{len(results)}"
                    await admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
                    dsn = _with_db(admin_dsn, copy)
                    try:
                        if sql:
                            conn = await asyncpg.connect(dsn)
                            try:
                                await conn.execute(sql)
                            finally:
                                await conn.close()
                        res = await _loop(
                            dsn, topology.rooms, args.calls, args.warmup, sync, postmaster, name, args.pin
                        )
                        results.append(res)
                        print(
                            f"round {r + 1} {name:>14} sync={sync:<3}: backend {res.cpu_us:6.1f} us/send "
                            f"(user {res.user_us:5.0f}, sys {res.sys_us:4.0f}), whole server {res.cluster_us:6.1f}, "
                            f"WAL {res.wal_bytes:6.0f} B, notification job {res.job_us:5.1f} us ({res.jobs} jobs)",
                            flush=True,
                        )
                    finally:
                        await admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        await admin.close()
    _table(results, [n for n, _ in variants], args.sync.split(","))


def _table(results: list[Result], names: list[str], syncs: list[str]) -> None:
    print()
    head = "| variant | " + " | ".join(f"backend us/send, sync {s}" for s in syncs)
    print(head + " | whole server us/send (sync on) | WAL B/send | notification job us/send |")
    print("|---" * (len(syncs) + 4) + "|")
    base = {s: statistics.median(r.cpu_us for r in results if r.variant == "base" and r.sync == s) for s in syncs}
    for name in names:
        cells = []
        for s in syncs:
            mine = [r.cpu_us for r in results if r.variant == name and r.sync == s]
            med = statistics.median(mine)
            delta = "" if name == "base" else f" ({med - base[s]:+.0f})"
            cells.append(f"{med:.0f}{delta} [{min(mine):.0f}-{max(mine):.0f}]")
        on = [r for r in results if r.variant == name and r.sync == syncs[0]]
        cluster = statistics.median(r.cluster_us for r in on)
        wal = statistics.median(r.wal_bytes for r in on)
        job = statistics.median(r.job_us for r in on)
        print(f"| {name} | " + " | ".join(cells) + f" | {cluster:.0f} | {wal:.0f} | {job:.0f} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m bench.sendcost", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--admin-dsn", help="a PostgreSQL to use (default: an embedded one in a temporary directory)")
    p.add_argument("--calls", type=int, default=2000, help="measured sends per run")
    p.add_argument("--warmup", type=int, default=300, help="sends before measuring (plans, caches)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--users", type=int, default=1000)
    p.add_argument("--room-size", type=int, default=10)
    p.add_argument("--sync", default="on,off", help="synchronous_commit values to run, comma-separated")
    p.add_argument("--no-pin", dest="pin", action="store_false", help="leave the client and backend unpinned")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=SQL|NAME=@FILE")
    asyncio.run(main(p.parse_args()))
