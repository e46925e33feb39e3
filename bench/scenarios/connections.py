"""connections: N idle authenticated sockets; server memory per socket and connect rate."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import report
from .common import Session, plans, target_for, topology
from .ws import kinds


def connections(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    runs: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for kind in kinds(args):
        with target_for(args, kind) as target:
            # Users in no chat: the sockets are authenticated and idle, nothing is delivered.
            topo = topology(target, args.sockets, 0)
            time.sleep(0.5)
            rss_before = target.rss()
            profiler = None
            if args.profile and target.pid is not None:
                from ..profile import Profiler

                out_dir = Path(args.out) if args.out else report.RESULTS_DIR
                # The handshakes are what costs here: sample the first seconds of connecting.
                profiler = Profiler(target.pid, out_dir / f"profile-connect-{kind}-{report.stamp()}.txt", 10)
            session = Session.open(target, plans(args, target, topo, [], args.procs))
            if profiler is not None:
                hot = profiler.finish()
                print(f"py-spy ({kind}, connecting), self time: " + ", ".join(f"{n} {p}%" for n, p in hot[:10]))
            try:
                summary = session.phase("idle", args.hold, drain_timeout=1, expect_timeout=1)
                rss_after = target.rss()
            finally:
                session.close()
            connect = session.connect
            connected = connect["connected"]
            summary["connect"] = connect
            summary["sockets"] = args.sockets
            summary["still_open"] = summary.get("closed_sockets", 0) == 0
            if rss_before and rss_after and connected:
                summary["server_rss_before_mb"] = round(rss_before / 2**20, 1)
                summary["server_rss_after_mb"] = round(rss_after / 2**20, 1)
                summary["server_rss_per_socket_kb"] = round((rss_after - rss_before) / 1024 / connected, 2)
            summary["server"] = {"kind": target.kind, "url": target.url, "flags": target.flags}
            runs[kind] = summary
            if connect["failed"]:
                problems.append(f"{kind}: {connect['failed']} of {args.sockets} sockets failed: {connect['errors']}")
            problems += [f"{kind}: {p}" for p in summary["problems"]]
    names = list(runs)
    headers = ["figure", *names] + (["messenger/baseline"] if len(names) == 2 else [])
    spec: list[tuple[str, Callable[[dict[str, Any]], Any], bool]] = [
        ("sockets connected", lambda r: r["connect"]["connected"], False),
        ("sockets failed", lambda r: r["connect"]["failed"], False),
        ("connect rate /s (auth'd)", lambda r: r["connect"]["connect_rate_per_s"], True),
        ("closed by server while idle", lambda r: r["closed_sockets"], False),
        ("server RSS before MB", lambda r: r.get("server_rss_before_mb"), False),
        ("server RSS after MB", lambda r: r.get("server_rss_after_mb"), False),
        ("server RSS per socket KB", lambda r: r.get("server_rss_per_socket_kb"), True),
        ("full garbage collections while idle", lambda r: r.get("full_gcs"), False),
        ("longest full collection ms (since start)", lambda r: r.get("full_gc_longest_ms"), False),
        ("objects freed by the collector while idle", lambda r: r.get("gc_freed_objects"), False),
        ("client CPU % (busiest proc)", lambda r: max(r["client_cpu_pct"], default=0), False),
    ]
    rows = []
    for label, get, with_ratio in spec:
        values = [get(runs[n]) for n in names]
        row = [label, *values]
        if len(names) == 2:
            row.append(report.ratio(values[0], values[1]) if with_ratio else "")
        rows.append(row)
    print(report.table(f"connections: {args.sockets} idle authenticated sockets, held {args.hold:g} s", headers, rows))
    first = runs[names[0]]
    base = runs.get("baseline") if names[0] != "baseline" else None
    headline = [
        report.Headline(
            "server RSS per idle socket",
            first.get("server_rss_per_socket_kb"),
            base.get("server_rss_per_socket_kb") if base else None,
            "KB",
        ),
        report.Headline(
            "connect + auth rate /s",
            first["connect"]["connect_rate_per_s"],
            base["connect"]["connect_rate_per_s"] if base else None,
        ),
    ]
    data = {"scenario": "connections", "runs": runs, "environment": report.environment(), "headline": headline}
    return data, problems
