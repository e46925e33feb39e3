"""The database during a measured window: its WAL, and where the sends wait.

A thread of its own holds one connection, opened before the window (during warm-up), so the
window's edges cost one query each, not a connection: opening one is a few milliseconds of CPU
on each side, on a machine whose two cores the server and its database are sharing.

- **WAL** (the bench's own embedded PostgreSQL): bytes written, from the WAL position, exact;
  and the mean time of a flush (fdatasync, Linux's default `wal_sync_method`) as the database
  timed it (pg_stat_io, PostgreSQL 18; `track_wal_io_timing` on). pg_stat_io's counts reach
  the view up to a second late, so only their ratio, the mean, is read from them.
- **Wait events** (`--wait-events`): pg_stat_activity every 5 ms, counting for the connections
  running a send (`send_messages` / `send_message`, sql/messages.sql) what each was doing: on
  a CPU (no wait event: running, or runnable and waiting for a core), flushing WAL
  (`IO:WalSync`), waiting for another transaction (`Lock:transactionid`: the event-stream row
  that orders positions by commit, sql/schema/0002_events.sql), and so on. Against the
  writer's "commits in flight" it says how much of a batch's time the database was working on
  it at all; the rest is the server and the round trip. A sample is one small query: about 200
  a second, hence opt-in.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from typing import Any

SAMPLE = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what
FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
  AND query LIKE '%send\\_message%'
"""

# PostgreSQL 18 counts WAL I/O in pg_stat_io (object 'wal'); older servers give no flush time.
WAL = """
SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS position,
       (SELECT sum(fsyncs)::float8 FROM pg_stat_io WHERE object = 'wal' AND context = 'normal') AS flushes,
       (SELECT sum(fsync_time)::float8 FROM pg_stat_io WHERE object = 'wal' AND context = 'normal') AS flush_ms
"""
WAL_BEFORE_18 = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS position, NULL AS flushes, NULL AS flush_ms"


async def track_wal_timing(dsn: str) -> None:
    """Time the WAL's flushes: two clock reads per I/O, a few thousand a second."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("ALTER SYSTEM SET track_wal_io_timing = on")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


class DatabaseWindow:
    """Connects now; `begin()` at the window's start, `end()` at its end returns the figures."""

    def __init__(self, dsn: str, *, wal: bool, waits: bool, interval: float = 0.005) -> None:
        self.dsn = dsn
        self.wal = wal
        self.waits = waits
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self.before: dict[str, Any] | None = None
        self.after: dict[str, Any] | None = None
        self.error: str | None = None
        self._begin = threading.Event()
        self._end = threading.Event()
        self._thread = threading.Thread(target=self._run, name="database-window", daemon=True)
        self._thread.start()

    def begin(self) -> None:
        self._begin.set()

    def end(self) -> dict[str, Any]:
        self._begin.set()
        self._end.set()
        self._thread.join(timeout=10)
        out: dict[str, Any] = {}
        if self.error is not None:
            out["error"] = self.error
        if self.wal and self.before is not None and self.after is not None:
            out["wal_bytes"] = int(self.after["position"] - self.before["position"])
            if self.after["flushes"] is not None and self.before["flushes"] is not None:
                flushes = self.after["flushes"] - self.before["flushes"]
                if flushes:
                    out["wal_flush_ms_mean"] = round(
                        float(self.after["flush_ms"] - self.before["flush_ms"]) / flushes, 3
                    )
        if self.waits:
            active = sum(self.counts.values())
            out["wait_events"] = {
                "samples": self.samples,
                "busy_mean": round(active / self.samples, 3) if self.samples else None,
                "shares": {k: round(v / active, 3) for k, v in self.counts.most_common()} if active else {},
            }
        return out

    def _run(self) -> None:
        try:
            asyncio.run(self._watch())
        except Exception as exc:  # a probe that fails must not fail the run it measures
            self.error = f"{type(exc).__name__}: {exc}"

    async def _watch(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            new = int(await conn.fetchval("SHOW server_version_num")) >= 180000
            wal = await conn.prepare(WAL if new else WAL_BEFORE_18)
            sample = await conn.prepare(SAMPLE)
            await asyncio.to_thread(self._begin.wait)
            if self.wal:
                self.before = dict(await wal.fetchrow())
            while self.waits and not self._end.is_set():
                started = time.monotonic()
                rows = await sample.fetch()
                self.samples += 1
                self.counts.update(r["what"] for r in rows)
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
            await asyncio.to_thread(self._end.wait)
            if self.wal:
                self.after = dict(await wal.fetchrow())
        finally:
            await conn.close()


def describe(waits: dict[str, Any], in_flight: float | None) -> str:
    """One line for the report: the shares, and how busy the database was per batch in flight."""
    shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in waits["shares"].items() if v >= 0.005)
    line = f"wait events of the sends ({waits['samples']} samples): {shares or 'none active'}"
    if waits["busy_mean"] is not None:
        line += f"; {waits['busy_mean']:.2f} sends active in the database on average"
        if in_flight:
            share = 100 * waits["busy_mean"] / in_flight
            line += f", against {in_flight:.2f} batches in flight ({share:.0f} %)"
    return line
