"""mixed: a day in the life of a server with thousands of people on it (see bench/mixed.py)."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any

import psutil

from .. import report
from ..dbwindow import describe
from ..fleet import Fleet, Ranges, merge_ranges
from ..hist import Histogram
from ..mixed import Causes, MixedExpect, MixedPhase, MixedPlan, MixedResult, mixed_entry
from ..seed import SeedUser, Topology, seed
from ..server import Target
from .common import (
    GC_METRICS,
    connect_summary,
    database_figures,
    database_window,
    gc_figures,
    run_delay_figures,
    target_for,
)
from .ws import kinds

EVENT_TYPES = (
    "message direct",
    "message group10",
    "message group100",
    "message replayed",
    "typing",
    "read",
    "presence online",
    "presence offline",
    "reconnect",
)


def mixed_chats(args: argparse.Namespace) -> list[tuple[str, list[int]]]:
    """Direct chats with the next `--directs` users (each user in 2 x that many), then
    `--groups10` and `--groups100` layers: each layer a shuffle of all users cut into groups."""
    n = args.users
    rng = random.Random(args.seed)
    chats: list[tuple[str, list[int]]] = []
    for k in range(1, args.directs + 1):
        if n > 2 * k:
            chats += [("direct", [i, (i + k) % n]) for i in range(n)]
    for layers, size, kind in ((args.groups10, 10, "group10"), (args.groups100, 100, "group100")):
        for _ in range(layers):
            order = list(range(n))
            rng.shuffle(order)
            chats += [(kind, order[i : i + size]) for i in range(0, n - size + 1, size)]
    return chats


def _topology(target: Target, args: argparse.Namespace) -> tuple[Topology, dict[int, str]]:
    chats = mixed_chats(args)
    if target.kind == "baseline":
        users = [SeedUser(i + 1, f"u{i + 1}", "", []) for i in range(args.users)]
        rooms: dict[int, list[int]] = {}
        for chat_id, (_, members) in enumerate(chats, start=1):
            rooms[chat_id] = [users[m].id for m in members]
            for m in members:
                users[m].chats.append(chat_id)
        topo = Topology(users, rooms)
    else:
        assert target.dsn is not None and target.secret_key is not None
        stored = [("direct" if kind == "direct" else "group", members) for kind, members in chats]
        topo = asyncio.run(seed(target.dsn, target.secret_key, args.users, 0, chats=stored))
    chat_ids = sorted(topo.rooms)
    return topo, {chat_id: kind for chat_id, (kind, _) in zip(chat_ids, chats, strict=True)}


def _one_run(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    with target_for(args, kind) as target:
        topo, chat_kinds = _topology(target, args)
        urls = target.node_urls()
        procs = max(1, min(args.procs, len(topo.users)))
        plans = [
            MixedPlan(
                i,
                urls,
                target.kind,
                [],
                [],
                {},
                args.seed * 1000 + i,
                text_size=args.text_size,
                connect_concurrency=args.connect_concurrency,
                msg_interval=args.msg_interval,
            )
            for i in range(procs)
        ]
        for i, user in enumerate(topo.users):
            plan = plans[i % procs]
            plan.users.append(user)
            plan.nodes.append(i % len(urls))
            for chat in user.chats:
                plan.chat_kinds[chat] = chat_kinds[chat]
        rss0 = target.rss()
        fleet = Fleet(plans, entry=mixed_entry)
        try:
            connect = connect_summary(fleet.connect(), rss0, target.rss())
            t0 = time.monotonic_ns() + 500_000_000
            phase = MixedPhase(
                t0,
                args.duration,
                args.warmup,
                args.reconnects,
                args.churn,
                args.offline,
                drain_timeout=args.drain,
            )
            for pipe in fleet.pipes:
                pipe.send(phase)
            database = database_window(target)
            time.sleep(max(0.0, (t0 + int(args.warmup * 1e9) - time.monotonic_ns()) / 1e9))
            if database is not None:
                database.begin()
            commits0, gc0 = target.db_commits(), target.metric_totals(GC_METRICS)
            server0, db0, redis0 = target.cpu_seconds(), target.db_cpu_seconds(), target.redis_cpu_seconds()
            waited0 = target.run_delays()
            machine0, wall0 = psutil.cpu_times(), time.monotonic()
            time.sleep(max(0.0, (t0 + int(args.duration * 1e9) - time.monotonic_ns()) / 1e9))
            server1, db1, redis1 = target.cpu_seconds(), target.db_cpu_seconds(), target.redis_cpu_seconds()
            waited1 = target.run_delays()
            commits1, gc1 = target.db_commits(), target.metric_totals(GC_METRICS)
            seen = database.end() if database is not None else {}
            machine1, wall1 = psutil.cpu_times(), time.monotonic()
            rss_end = target.rss()
            budget = args.duration + args.offline + args.drain + 120
            causes: list[Causes] = [fleet.recv(p, budget) for p in fleet.pipes]
            merged = _merge(causes)
            for pipe in fleet.pipes:
                pipe.send(MixedExpect(merged, args.settle))
            results: list[MixedResult] = [fleet.recv(p, args.settle + 120) for p in fleet.pipes]
        finally:
            fleet.close()
    measured = max(1e-9, wall1 - wall0)
    window = max(1e-9, args.duration - args.warmup)
    out = _summarize(results, window)
    out["connect"] = connect
    out["users"] = args.users
    out["chats"] = {k: sum(1 for v in chat_kinds.values() if v == k) for k in ("direct", "group10", "group100")}
    out["server"] = {"kind": target.kind, "urls": urls, "flags": target.flags, "redis": target.redis_url}
    out["server_cpu_pct"] = round(100.0 * (server1 - server0) / measured, 1) if target.pid else None
    sent = max(1, out["sent"])
    out["server_cpu_us_per_msg"] = round(1e6 * (server1 - server0) / sent * window / measured, 1)
    if db0 is not None and db1 is not None:
        out["db_cpu_pct"] = round(100.0 * (db1 - db0) / measured, 1)
        out["db_cpu_us_per_msg"] = round(1e6 * (db1 - db0) / sent * window / measured, 1)
    if gc0 is not None and gc1 is not None:
        out.update(gc_figures(gc0, gc1))
    if commits0 is not None and commits1 is not None:
        # Every transaction of the database (the bench's own two reads included): sends, read
        # markers, presence, jobs.
        out["db_commits_per_msg"] = round((commits1 - commits0) / sent * window / measured, 2)
    out.update(database_figures(seen, sent * measured / window, target.kind))
    out.update(run_delay_figures(waited0, waited1, measured))
    if "wait_events" in out:
        print(f"{target.kind}: " + describe(out["wait_events"], None))
    if redis0 is not None and redis1 is not None:
        out["redis_cpu_pct"] = round(100.0 * (redis1 - redis0) / measured, 1)
    busy0 = sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0.0)
    busy1 = sum(machine1) - machine1.idle - getattr(machine1, "iowait", 0.0)
    total = sum(machine1) - sum(machine0)
    out["machine_cpu_pct"] = round(100.0 * (busy1 - busy0) / total * (psutil.cpu_count() or 1), 1) if total else 0.0
    if rss_end:
        out["server_rss_end_mb"] = round(rss_end / 2**20, 1)
    return out


def _merge(parts: list[Causes]) -> Causes:
    chats: dict[int, list[Ranges]] = {}
    for part in parts:
        for chat, ranges in part.acked.items():
            chats.setdefault(chat, []).append(ranges)
    return Causes(
        {chat: merge_ranges(r) for chat, r in chats.items()},
        [x for p in parts for x in p.typing],
        [x for p in parts for x in p.reads],
        [x for p in parts for x in p.presence],
    )


def _summarize(results: list[MixedResult], window: float) -> dict[str, Any]:
    def total(name: str) -> int:
        return sum(int(getattr(r, name)) for r in results)

    errors: dict[str, int] = {}
    codes: dict[str, int] = {}
    unmatched: dict[str, int] = {}
    for r in results:
        for src, dst in ((r.errors, errors), (r.close_codes, codes), (r.unmatched, unmatched)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
    latency = {
        name: Histogram.merged(r.hists[name] for r in results if name in r.hists).summary_ms() for name in EVENT_TYPES
    }
    out: dict[str, Any] = {
        "sent": total("sent"),
        "acked": total("acked"),
        "sent_per_s": round(total("sent") / window, 1),
        "delivered": total("delivered"),
        "delivered_per_s": round(total("delivered") / window, 1),
        "replayed": total("replayed"),
        "resent": total("resent"),
        "skipped_offline": total("skipped_offline"),
        "reconnects": total("reconnects"),
        "churned": total("churned"),
        "unacked": total("unacked"),
        "missing": total("missing"),
        "duplicates": total("duplicates"),
        "missing_sample": [s for r in results for s in r.missing_sample][:5],
        "undecodable_sample": [s for r in results for s in r.undecodable_sample][:5],
        "errors": errors,
        "unmatched": unmatched,
        "closed_by_server": total("closed_by_server"),
        "close_codes": codes,
        "ack_latency_ms": Histogram.merged(r.ack_hist for r in results).summary_ms(),
        "latency_ms": latency,
        "client_cpu_pct": [round(100.0 * r.cpu_seconds / r.wall_seconds, 1) if r.wall_seconds else 0 for r in results],
    }
    problems = []
    if out["missing"]:
        problems.append(f"{out['missing']} acknowledged deliveries never arrived (sample: {out['missing_sample']})")
    if out["duplicates"]:
        problems.append(f"{out['duplicates']} frames delivered more than once")
    if errors:
        problems.append(f"errors: {errors}")
    problems += [f"undecodable frame: {s}" for s in out["undecodable_sample"]]
    if out["closed_by_server"]:
        problems.append(f"{out['closed_by_server']} sockets closed by the server: {codes}")
    out["problems"] = problems
    out["behind"] = [f"{out['unacked']} sends were not acknowledged (server fell behind)"] if out["unacked"] else []
    return out


def mixed(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    runs = {k: _one_run(args, k) for k in kinds(args)}
    names = list(runs)
    headers = ["figure", *names] + [f"{names[0]}/{o}" for o in names[1:]]
    rows: list[list[Any]] = []

    def add(label: str, get: Any, ratio: bool = False) -> None:
        values = [get(runs[n]) for n in names]
        extra = [
            report.ratio(values[0], v) if ratio and isinstance(values[0], int | float) and v else "" for v in values[1:]
        ]
        rows.append([label, *values, *extra])

    add("messages sent/s", lambda r: r["sent_per_s"])
    add("frames delivered/s (messages)", lambda r: r["delivered_per_s"])
    add("ack p99 ms", lambda r: r["ack_latency_ms"]["p99"], True)
    for name in EVENT_TYPES:
        add(f"{name}: count", lambda r, n=name: int(r["latency_ms"][n]["count"]))
        for p in ("p50", "p99", "p99.9"):
            add(f"{name}: {p} ms", lambda r, n=name, p=p: r["latency_ms"][n][p] or None, p == "p99")
    add("reconnects / went offline", lambda r: f"{r['reconnects']} / {r['churned']}")
    add("resent after reconnect / skipped offline", lambda r: f"{r['resent']} / {r['skipped_offline']}")
    add("server CPU %", lambda r: r.get("server_cpu_pct"), True)
    add("server CPU us/message", lambda r: r.get("server_cpu_us_per_msg"), True)
    add("database CPU % (embedded only)", lambda r: r.get("db_cpu_pct"))
    add("database CPU us/message (embedded only)", lambda r: r.get("db_cpu_us_per_msg"))
    add("database commits/message", lambda r: r.get("db_commits_per_msg"))
    add("server waiting for a core, ms/s", lambda r: r.get("server_run_delay_ms_per_s"))
    add("database waiting for a core, ms/s", lambda r: r.get("database_run_delay_ms_per_s"))
    add("WAL bytes/message (embedded only)", lambda r: r.get("wal_bytes_per_msg"))
    add("WAL flush ms, mean", lambda r: r.get("wal_flush_ms_mean"))
    add("Redis CPU %", lambda r: r.get("redis_cpu_pct"))
    add("machine CPU % (of 100 x cores)", lambda r: r.get("machine_cpu_pct"))
    add("full garbage collections", lambda r: r.get("full_gcs"))
    add("garbage collection pauses, ms in all", lambda r: r.get("gc_pause_ms_total"))
    add("longest full collection ms (since start)", lambda r: r.get("full_gc_longest_ms"))
    add("objects freed by the collector", lambda r: r.get("gc_freed_objects"))
    add("server RSS MB (end)", lambda r: r.get("server_rss_end_mb"), True)
    add("server RSS per socket KB (connect)", lambda r: r["connect"].get("server_rss_per_socket_kb"), True)
    add("client CPU % (busiest proc)", lambda r: max(r["client_cpu_pct"], default=0))
    add("unacked / missing / dupes", lambda r: f"{r['unacked']}/{r['missing']}/{r['duplicates']}")
    add("errors / closed by server", lambda r: f"{sum(r['errors'].values())} / {r['closed_by_server']}")
    first = runs[names[0]]
    title = (
        f"mixed: {args.users} users, {first['chats']['direct']} direct chats, {first['chats']['group10']} groups of "
        f"10, {first['chats']['group100']} of 100; a message per user every {args.msg_interval:g} s; "
        f"{100 * args.reconnects:g} %/min reconnect, {100 * args.churn:g} %/min offline for {args.offline:g} s"
    )
    print(report.table(title, headers, rows))
    other = runs[names[1]] if len(names) > 1 else None
    headline = [
        report.Headline(
            f"{name} delivery p99",
            first["latency_ms"][name]["p99"] or None,
            (other["latency_ms"][name]["p99"] or None) if other else None,
            "ms",
        )
        for name in ("message direct", "message group10", "message group100", "typing", "read", "presence online")
    ] + [
        report.Headline("server CPU", first.get("server_cpu_pct"), other.get("server_cpu_pct") if other else None, "%"),
        report.Headline("database commits per message", first.get("db_commits_per_msg")),
        report.Headline("database CPU per message", first.get("db_cpu_us_per_msg"), None, "us"),
        report.Headline(
            "server RSS (end)", first.get("server_rss_end_mb"), other.get("server_rss_end_mb") if other else None, "MB"
        ),
    ]
    problems = [f"{k}: {p}" for k, r in runs.items() for p in r["problems"] + r["behind"]]
    data = {"scenario": "mixed", "runs": runs, "environment": report.environment(), "headline": headline}
    return data, problems
