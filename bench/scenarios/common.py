"""What the WebSocket scenarios share: targets, plans, one measured phase, its summary."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ..dbwindow import DatabaseWindow, describe
from ..fleet import ConnectReport, Fleet, Phase, PhaseResult, WorkerPlan
from ..hist import Histogram
from ..seed import Topology, seed, synthetic
from ..server import Target, remote, spawn_baseline, spawn_messenger

# The server's /metrics samples a measured window reads at its start and end.
# The garbage collector's pauses (messenger/collector.py): each stops every socket of a node.
GC_METRICS = (
    'messenger_gc_pause_seconds_count{generation="2"}',
    'messenger_gc_pause_seconds_sum{generation="0"}',
    'messenger_gc_pause_seconds_sum{generation="1"}',
    'messenger_gc_pause_seconds_sum{generation="2"}',
    'messenger_gc_pause_max_seconds{generation="2"}',
    'messenger_gc_collected_objects_total{generation="0"}',
    'messenger_gc_collected_objects_total{generation="1"}',
    'messenger_gc_collected_objects_total{generation="2"}',
)
SERVER_METRICS = (
    "messenger_hub_caught_up_events_total",
    "messenger_group_commit_batch_size_sum",
    "messenger_group_commit_seconds_sum",
    "messenger_group_commit_seconds_count",
    *GC_METRICS,
)


def gc_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Full collections in a window, all collections' summed pause and the objects they freed
    in it; the longest full one since the server started (connecting included). Summed over
    the nodes.

    CPython collects when tracked objects allocated exceed those freed by 7,000 (the serving
    threshold), so a server whose objects are freed by reference counting hardly collects at
    all; what the collector frees is what keeps it coming back."""
    moved = {name: after[name] - before[name] for name in GC_METRICS}
    return {
        "full_gcs": round(moved['messenger_gc_pause_seconds_count{generation="2"}']),
        "gc_pause_ms_total": round(
            1e3 * sum(moved[f'messenger_gc_pause_seconds_sum{{generation="{g}"}}'] for g in "012"), 1
        ),
        "full_gc_longest_ms": round(1e3 * after['messenger_gc_pause_max_seconds{generation="2"}'], 1),
        # Objects only the collector could free (reference cycles): what makes collections come.
        "gc_freed_objects": round(
            sum(moved[f'messenger_gc_collected_objects_total{{generation="{g}"}}'] for g in "012")
        ),
    }


def database_window(target: Target) -> DatabaseWindow | None:
    """Opened during warm-up, so the window's edges cost a query each, not a connection: the
    WAL of the bench's own embedded database, and with `--wait-events` where the sends wait."""
    if target.dsn is None or (target.db_pid is None and not target.wait_events):
        return None
    return DatabaseWindow(target.dsn, wal=target.db_pid is not None, waits=target.wait_events)


def database_figures(seen: dict[str, Any], messages: float, kind: str) -> dict[str, Any]:
    """A DatabaseWindow's figures for a summary (per message of `messages`); prints a failed
    probe and the wait events."""
    out: dict[str, Any] = {}
    if "wal_bytes" in seen and messages:
        out["wal_bytes_per_msg"] = round(seen["wal_bytes"] / messages)
    # The commit's flush as the database timed it, with everything else running on the
    # machine; what the disk does alone is pg_test_fsync's figure (bench/README.md).
    out["wal_flush_ms_mean"] = seen.get("wal_flush_ms_mean")
    if "error" in seen:
        print(f"{kind}: the database probe failed: {seen['error']}")
    if "wait_events" in seen:
        out["wait_events"] = seen["wait_events"]
    return out


def run_delay_figures(before: dict[str, float], after: dict[str, float], measured: float) -> dict[str, float]:
    """Milliseconds per second of the window that work which could run waited for a core (the
    same figure as a mean number of threads waiting, times 1,000), per part (Target.run_delays)."""
    return {
        f"{part}_run_delay_ms_per_s": round(1e3 * (after[part] - before[part]) / measured, 1)
        for part in after
        if part in before
    }


class BenchFailure(Exception):
    """A correctness check failed: the bench exits non-zero."""


def nodes_of(args: argparse.Namespace, kind: str) -> int:
    """How many server processes a run named `kind` has: "1 node", "3 nodes", or `--nodes`."""
    head = kind.split()[0]
    return int(head) if head.isdigit() else getattr(args, "nodes", 1)


def redis_choice(args: argparse.Namespace, nodes: int) -> str | None:
    """`--redis`, else REDIS_URL from the environment (passed through), else for several
    nodes (or a node compared with several) a private redis-server."""
    choice: str | None = getattr(args, "redis", None)
    if choice is None and getattr(args, "nodes", 1) > 1 and not os.environ.get("REDIS_URL"):
        return "spawn"
    return choice


@contextmanager
def target_for(args: argparse.Namespace, kind: str) -> Iterator[Target]:
    if kind == "baseline":
        target = spawn_baseline()
    elif args.url:
        target = remote(args.url, args.database_url, args.secret_key, args.server_pid)
    else:
        n = nodes_of(args, kind)
        data_dir = getattr(args, "data_dir", None)
        target = spawn_messenger(
            args.workers,
            nodes=n,
            redis=redis_choice(args, n),
            data_dir=Path(data_dir) if data_dir else None,
            pg_stat_statements=getattr(args, "pg_stat_statements", False),
        )
    target.wait_events = getattr(args, "wait_events", False) and target.dsn is not None
    try:
        yield target
    finally:
        target.stop()


def topology(
    target: Target, n_users: int, room_size: int, *, messages_per_chat: int = 0, conversation: bool = False
) -> Topology:
    if target.kind == "baseline":
        return synthetic(n_users, room_size)
    assert target.dsn is not None and target.secret_key is not None
    return asyncio.run(
        seed(
            target.dsn,
            target.secret_key,
            n_users,
            room_size,
            messages_per_chat=messages_per_chat,
            conversation=conversation,
        )
    )


def plans(
    args: argparse.Namespace, target: Target, topo: Topology, senders: list[tuple[int, int]], procs: int
) -> list[WorkerPlan]:
    """Users round-robin over the client processes; each sender goes with its user."""
    procs = max(1, min(procs, len(topo.users)))
    out = [
        WorkerPlan(
            i,
            target.url,
            target.kind,
            args.client,
            args.auth,
            [],
            [],
            text_size=args.text_size,
            connect_concurrency=args.connect_concurrency,
            urls=target.node_urls(),
        )
        for i in range(procs)
    ]
    n_nodes = len(target.node_urls())
    # `--placement room`: every member of a room on the node of the room's rank, so a node hears
    # only its own rooms' chat buckets (on a Redis Cluster) and no delivery crosses nodes.
    home: dict[int, int] = {}
    if getattr(args, "placement", "spread") == "room":
        index = {u.id: i for i, u in enumerate(topo.users)}
        for rank, (_, members) in enumerate(sorted(topo.rooms.items())):
            for member in members:
                home.setdefault(index[member], rank % n_nodes)
    where: dict[int, tuple[int, int]] = {}
    for i, user in enumerate(topo.users):
        plan = out[i % procs]
        where[i] = (i % procs, len(plan.users))
        plan.users.append(user)
        # Users round-robin over the nodes too, so a room's members sit on different nodes and
        # most deliveries cross one (all but 1/N of them).
        plan.nodes.append(home.get(i, i % n_nodes))
    for user_index, chat in senders:
        w, local = where[user_index]
        out[w].senders.append((local, chat))
    return out


@dataclass
class Session:
    """A fleet connected to a target, ready to run phases."""

    target: Target
    fleet: Fleet
    plans: list[WorkerPlan]
    connect: dict[str, Any] = field(default_factory=dict)
    # When set, py-spy samples the server during each measured window into this directory.
    profile_dir: Path | None = None

    @classmethod
    def open(cls, target: Target, plans: list[WorkerPlan], profile_dir: Path | None = None) -> Session:
        rss0 = target.rss()
        fleet = Fleet(plans)
        try:
            reports = fleet.connect()
        except BaseException:
            fleet.close()
            raise
        session = cls(target, fleet, plans, profile_dir=profile_dir)
        session.connect = connect_summary(reports, rss0, target.rss())
        return session

    def close(self) -> None:
        self.fleet.close()

    def phase(
        self,
        mode: str,
        duration: float,
        *,
        warmup: float = 0.0,
        rate: float = 0.0,
        window: int = 1,
        drain_timeout: float = 10.0,
        expect_timeout: float = 10.0,
    ) -> dict[str, Any]:
        n_senders = sum(len(p.senders) for p in self.plans) or 1
        t0 = time.monotonic_ns() + 300_000_000
        phases = [
            Phase(
                mode,
                t0,
                duration,
                warmup=warmup,
                rate=rate * len(p.senders) / n_senders,
                window=window,
                drain_timeout=drain_timeout,
                offset=i / len(self.plans),
            )
            for i, p in enumerate(self.plans)
        ]
        self.fleet.start(phases)
        database = database_window(self.target)
        # Server and machine CPU over the measured window only (after warm-up, before drain).
        time.sleep(max(0.0, (t0 + int(warmup * 1e9) - time.monotonic_ns()) / 1e9))
        profiler = None
        if self.profile_dir is not None and self.target.pid is not None:
            from ..profile import Profiler
            from ..report import stamp

            out = self.profile_dir / f"profile-{self.target.kind}-{stamp()}.txt"
            profiler = Profiler(self.target.pid, out, duration - warmup)
        self.target.reset_statements()
        if database is not None:
            database.begin()
        db0, redis0 = self.target.db_cpu_split(), self.target.redis_cpu_seconds()
        waited0 = self.target.run_delays()
        metrics0 = self.target.metric_totals(SERVER_METRICS)
        server0, machine0, wall0 = self.target.cpu_seconds(), psutil.cpu_times(), time.monotonic()
        time.sleep(max(0.0, (t0 + int(duration * 1e9) - time.monotonic_ns()) / 1e9))
        server1, machine1, wall1 = self.target.cpu_seconds(), psutil.cpu_times(), time.monotonic()
        db1, redis1 = self.target.db_cpu_split(), self.target.redis_cpu_seconds()
        waited1 = self.target.run_delays()
        seen = database.end() if database is not None else {}
        metrics1 = self.target.metric_totals(SERVER_METRICS)
        statements = self.target.top_statements()
        subscriptions = self.target.shard_subscriptions()
        results = self.fleet.finish(phases, expect_timeout)
        summary = summarize(results, mode=mode, duration=duration, warmup=warmup, rate=rate, window=window)
        if profiler is not None:
            hot = profiler.finish()
            summary["profile"] = {"raw": str(profiler.out), "self_pct": hot}
            print(f"py-spy ({self.target.kind}), self time: " + ", ".join(f"{n} {p}%" for n, p in hot[:10]))
        measured = wall1 - wall0
        if statements:
            acked_n = summary["acked_per_s"] * measured
            summary["statements"] = statement_rows(statements, acked_n)
            print(statements_table(summary["statements"], measured, acked_n))
        busy0 = sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0.0)
        busy1 = sum(machine1) - machine1.idle - getattr(machine1, "iowait", 0.0)
        total = sum(machine1) - sum(machine0)
        cores = psutil.cpu_count() or 1
        summary["machine_cpu_pct"] = round(100.0 * (busy1 - busy0) / total * cores, 1) if total else 0.0
        if self.target.pid is not None and measured > 0:
            server_cpu = server1 - server0
            summary["server_cpu_pct"] = round(100.0 * server_cpu / measured, 1)
            acked = summary["acked_per_s"] * measured
            summary["server_cpu_us_per_msg"] = round(1e6 * server_cpu / acked, 1) if acked else None
            delivered = summary["delivered_per_s"] * measured
            summary["server_cpu_us_per_frame"] = round(1e6 * server_cpu / delivered, 2) if delivered else None
            # What one fully busy server core would do at this cost: comparable across runs even
            # when other work on the machine left the server only part of a core.
            if db0 is not None and db1 is not None:
                db_cpu = sum(db1.values()) - sum(db0.values())
                summary["db_cpu_pct"] = round(100.0 * db_cpu / measured, 1)
                summary["db_cpu_us_per_msg"] = round(1e6 * db_cpu / acked, 1) if acked else None
                # Which processes: the connections' work per message is steady; the background
                # processes' (checkpoints, autovacuum) comes in bursts that a short window may
                # or may not catch, which is most of the run-to-run spread of the total.
                for kind in db1:
                    used = db1[kind] - db0.get(kind, 0.0)
                    summary[f"db_cpu_{kind}_us_per_msg"] = round(1e6 * used / acked, 1) if acked else None
            summary.update(database_figures(seen, acked, self.target.kind))
            summary.update(run_delay_figures(waited0, waited1, measured))
            if redis0 is not None and redis1 is not None:
                summary["redis_cpu_pct"] = round(100.0 * (redis1 - redis0) / measured, 1)
                summary["redis_cpu_us_per_msg"] = round(1e6 * (redis1 - redis0) / acked, 1) if acked else None
                summary["redis_cpu_us_per_frame"] = round(1e6 * (redis1 - redis0) / delivered, 2) if delivered else None
            summary["nodes"] = len(self.target.node_urls())
            if metrics0 is not None and metrics1 is not None:
                moved = {name: metrics1[name] - metrics0[name] for name in SERVER_METRICS}
                # All nodes, during the measured window: events the broker did not bring (in time).
                summary["caught_up_events"] = round(moved["messenger_hub_caught_up_events_total"])
                # The group-commit writer: how many sends a commit carried, how long a batch took
                # from its start to its acks, and how many batches were committing at once on
                # average (their summed time over the window). Small batches mean the database
                # pays a commit for few messages; a mean near MAX_INFLIGHT means sends queue.
                batches = moved["messenger_group_commit_seconds_count"]
                if batches:
                    summary["sends_per_commit"] = round(moved["messenger_group_commit_batch_size_sum"] / batches, 2)
                    summary["commit_ms_mean"] = round(1e3 * moved["messenger_group_commit_seconds_sum"] / batches, 2)
                    summary["commits_in_flight_mean"] = round(moved["messenger_group_commit_seconds_sum"] / measured, 2)
                summary.update(gc_figures(metrics0, metrics1))
            if subscriptions is not None:
                summary["shard_channels_per_node"] = subscriptions
            if "wait_events" in summary:
                print(f"{self.target.kind}: " + describe(summary["wait_events"], summary.get("commits_in_flight_mean")))
            summary["acked_per_server_cpu_s"] = round(acked / server_cpu, 1) if server_cpu > 0 else None
            summary["delivered_per_server_cpu_s"] = round(delivered / server_cpu, 1) if server_cpu > 0 else None
        return summary


def _statement_key(text: str) -> str:
    """A statement's text as pg_stat_statements shows it, whitespace collapsed: without the
    comment lines before its first token (its record starts at the statement itself)."""
    lines = text.strip().splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    return " ".join(" ".join(lines).split()).rstrip(";")


def statement_rows(found: list[dict[str, Any]], acked: float) -> list[dict[str, Any]]:
    """pg_stat_statements rows of a measured window, named after sql/*.sql where they match."""
    from messenger import statements

    names = {_statement_key(text): name for file in statements.load().values() for name, text in file.items()}
    out = []
    for r in found:
        text = _statement_key(r["query"])
        calls = r["calls"]
        out.append(
            {
                "statement": names.get(text, text[:70]),
                "nested": not r["toplevel"],
                "calls": calls,
                "calls_per_msg": round(calls / acked, 3) if acked else None,
                "mean_us": round(1000 * r["total_exec_time"] / calls, 1),
                "total_ms": round(r["total_exec_time"], 1),
                "us_per_msg": round(1000 * r["total_exec_time"] / acked, 1) if acked else None,
                "wal_records_per_call": round(r["wal_records"] / calls, 1),
                "rows_per_call": round(r["rows"] / calls, 2),
            }
        )
    return out


def statements_table(rows: list[dict[str, Any]], measured: float, acked: float) -> str:
    from ..report import table

    headers = ["statement", "nested", "calls", "calls/msg", "mean us", "total ms", "us/msg", "WAL rec/call"]
    body = [
        [
            r["statement"],
            "yes" if r["nested"] else "",
            r["calls"],
            r["calls_per_msg"],
            r["mean_us"],
            r["total_ms"],
            r["us_per_msg"],
            r["wal_records_per_call"],
        ]
        for r in rows
    ]
    title = (
        f"pg_stat_statements over the measured {measured:.1f} s ({acked:,.0f} messages acked), "
        "most execution time first (wall time inside the statement: a nested statement's is in its caller's too; "
        "commits and their WAL flush are not in any row)"
    )
    return table(title, headers, body)


def connect_summary(reports: list[ConnectReport], rss_before: int, rss_after: int) -> dict[str, Any]:
    connected = sum(r.connected for r in reports)
    errors: dict[str, int] = {}
    for r in reports:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    first = min(r.first_ns for r in reports)
    last = max(r.last_ns for r in reports)
    span = (last - first) / 1e9
    seconds = max(r.seconds for r in reports)
    out: dict[str, Any] = {
        "connected": connected,
        "failed": sum(r.failed for r in reports),
        "errors": errors,
        "seconds": round(seconds, 3),
        "connect_rate_per_s": round(connected / span, 1) if span > 0 else None,
        "client_nofile": min(r.nofile for r in reports),
    }
    if rss_before and rss_after:
        out["server_rss_before_mb"] = round(rss_before / 2**20, 1)
        out["server_rss_after_mb"] = round(rss_after / 2**20, 1)
        out["server_rss_per_socket_kb"] = round((rss_after - rss_before) / 1024 / connected, 2) if connected else None
    return out


def summarize(
    results: list[PhaseResult], *, mode: str, duration: float, warmup: float, rate: float, window: int
) -> dict[str, Any]:
    measured = max(1e-9, duration - warmup)
    ack = Histogram.merged(r.ack_hist for r in results)
    delivery = Histogram.merged(r.delivery_hist for r in results)
    same_node = Histogram.merged(r.same_node_hist for r in results)
    cross_node = Histogram.merged(r.cross_node_hist for r in results)
    errors: dict[str, int] = {}
    codes: dict[str, int] = {}
    for r in results:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
        for k, v in r.close_codes.items():
            codes[k] = codes.get(k, 0) + v
    acked_window = sum(r.acked_window for r in results)
    summary: dict[str, Any] = {
        "mode": mode,
        "offered_rate": rate if mode == "open" else None,
        "window": window if mode == "closed" else None,
        "duration_s": duration,
        "warmup_s": warmup,
        "sent": sum(r.sent for r in results),
        "acked": sum(r.acked for r in results),
        "acked_per_s": round(acked_window / measured, 1),
        "delivered": sum(r.delivered for r in results),
        "delivered_per_s": round(sum(r.delivered_window for r in results) / measured, 1),
        "ack_latency_ms": ack.summary_ms(),
        "delivery_latency_ms": delivery.summary_ms(),
        # Only with several nodes: deliveries from a sender on the receiver's node vs another.
        "same_node_delivery_ms": same_node.summary_ms() if cross_node.total else None,
        "cross_node_delivery_ms": cross_node.summary_ms() if cross_node.total else None,
        "cross_node_share": round(cross_node.total / delivery.total, 3) if cross_node.total else None,
        "unacked": sum(r.unacked for r in results),
        "missing": sum(r.missing for r in results),
        "duplicates": sum(r.duplicates for r in results),
        "missing_sample": [s for r in results for s in r.missing_sample][:5],
        "undecodable_sample": [s for r in results for s in r.undecodable_sample][:5],
        "errors": errors,
        "closed_sockets": sum(r.closed_sockets for r in results),
        "close_codes": codes,
        "client_cpu_pct": [round(100.0 * r.cpu_seconds / r.wall_seconds, 1) if r.wall_seconds else 0 for r in results],
        "ack_histogram": ack.data().counts,
    }
    problems = []
    if summary["missing"]:
        problems.append(
            f"{summary['missing']} acknowledged deliveries never arrived (sample user,chat,seq: "
            f"{summary['missing_sample']})"
        )
    if summary["duplicates"]:
        problems.append(f"{summary['duplicates']} frames delivered more than once")
    if errors:
        problems.append(f"errors: {errors}")
    problems += [f"undecodable frame: {s}" for s in summary["undecodable_sample"]]
    if summary["closed_sockets"]:
        problems.append(f"{summary['closed_sockets']} sockets closed by the server: {codes}")
    summary["problems"] = problems
    # A client process near a full core means the figure measures the client, not the server.
    summary["client_saturated"] = max(summary["client_cpu_pct"], default=0) > 90.0
    # Not a correctness failure but not a result either: the server fell behind the offered load.
    summary["behind"] = (
        [f"{summary['unacked']} sends were not acknowledged within the drain time (server fell behind)"]
        if summary["unacked"]
        else []
    )
    summary["ok"] = not problems and not summary["unacked"]
    return summary


def latency_rows(prefix: str, lat: dict[str, float]) -> list[tuple[str, Any, Any]]:
    return [(f"{prefix} {k} ms", lat[k], "") for k in ("p50", "p90", "p99", "p99.9", "max")]
