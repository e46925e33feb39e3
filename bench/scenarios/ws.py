"""The WebSocket message scenarios: throughput, fanout and sweep."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import report
from ..seed import Topology
from .common import Session, plans, target_for, topology


def profile_dir(args: argparse.Namespace) -> Path | None:
    if not args.profile:
        return None
    return Path(args.out) if args.out else report.RESULTS_DIR


def kinds(args: argparse.Namespace) -> list[str]:
    """The runs of a comparison, the measured one first. With `--nodes N` (N > 1) the same
    scenario runs on N nodes and on one node with the same kind of Redis."""
    if args.baseline_only:
        return ["baseline"]
    nodes = getattr(args, "nodes", 1)
    first = [f"{nodes} nodes", "1 node"] if nodes > 1 else ["messenger"]
    return [*first, "baseline"] if args.baseline else first


def pick_senders(topo: Topology, n_senders: int) -> list[tuple[int, int]]:
    """Spread senders over rooms: sender k is member k // rooms of room k % rooms."""
    index = {u.id: i for i, u in enumerate(topo.users)}
    rooms = sorted(topo.rooms.items())
    out: list[tuple[int, int]] = []
    for k in range(n_senders):
        chat, members = rooms[k % len(rooms)]
        position = (k // len(rooms)) % len(members)
        out.append((index[members[position]], chat))
    return out


def _env(args: argparse.Namespace, runs: dict[str, Any]) -> dict[str, Any]:
    return report.environment({"server": {k: v.get("server") for k, v in runs.items()}})


def _server_info(target: Any, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "kind": target.kind,
        "url": target.url,
        "urls": target.node_urls(),
        "flags": target.flags,
        "workers": args.workers,
        "redis": target.redis_url,
    }


def saturation_note(runs: dict[str, dict[str, Any]]) -> None:
    for name, run in runs.items():
        if run.get("client_saturated"):
            print(
                f"NOTE: a client process of the {name} run used > 90 % of a core: that figure is a client "
                "limit; add --procs."
            )


def ws_rows(runs: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    names = list(runs)
    headers = ["figure", *names] + [f"{names[0]}/{other}" for other in names[1:]]
    spec: list[tuple[str, Any]] = [
        ("messages acked/s", lambda r: r["acked_per_s"]),
        ("frames delivered/s", lambda r: r["delivered_per_s"]),
    ]
    for key, label in (("ack_latency_ms", "ack"), ("delivery_latency_ms", "delivery")):
        for p in ("p50", "p90", "p99", "p99.9", "max"):
            spec.append((f"{label} {p} ms", lambda r, key=key, p=p: r[key][p]))
    if any(r.get("cross_node_delivery_ms") for r in runs.values()):
        for key, label in (("same_node_delivery_ms", "same-node"), ("cross_node_delivery_ms", "cross-node")):
            for p in ("p50", "p99", "p99.9"):
                spec.append((f"{label} delivery {p} ms", lambda r, key=key, p=p: (r.get(key) or {}).get(p)))
        spec.append(("deliveries crossing a node", lambda r: r.get("cross_node_share")))
    spec += [
        ("client CPU % (busiest proc)", lambda r: max(r["client_cpu_pct"], default=0)),
        ("server CPU %", lambda r: r.get("server_cpu_pct")),
        ("server CPU us/message", lambda r: r.get("server_cpu_us_per_msg")),
        ("database CPU % (embedded only)", lambda r: r.get("db_cpu_pct")),
        ("database CPU us/message", lambda r: r.get("db_cpu_us_per_msg")),
        ("  of which connections", lambda r: r.get("db_cpu_backends_us_per_msg")),
        ("  of which background processes", lambda r: r.get("db_cpu_background_us_per_msg")),
        ("  of which processes that exited", lambda r: r.get("db_cpu_exited_us_per_msg")),
        ("Redis CPU %", lambda r: r.get("redis_cpu_pct")),
        ("Redis CPU us/message", lambda r: r.get("redis_cpu_us_per_msg")),
        ("Redis CPU us/frame", lambda r: r.get("redis_cpu_us_per_frame")),
        ("server waiting for a core, ms/s", lambda r: r.get("server_run_delay_ms_per_s")),
        ("database waiting for a core, ms/s", lambda r: r.get("database_run_delay_ms_per_s")),
        ("WAL bytes/message (embedded only)", lambda r: r.get("wal_bytes_per_msg")),
        ("WAL flush ms, mean", lambda r: r.get("wal_flush_ms_mean")),
        ("events caught up from PostgreSQL", lambda r: r.get("caught_up_events")),
        ("sends per commit (group commit)", lambda r: r.get("sends_per_commit")),
        ("commit ms, mean (start to acks)", lambda r: r.get("commit_ms_mean")),
        ("commits in flight, mean", lambda r: r.get("commits_in_flight_mean")),
        ("shard channels per node", lambda r: r.get("shard_channels_per_node")),
        ("full garbage collections", lambda r: r.get("full_gcs")),
        ("garbage collection pauses, ms in all", lambda r: r.get("gc_pause_ms_total")),
        ("longest full collection ms (since start)", lambda r: r.get("full_gc_longest_ms")),
        ("objects freed by the collector", lambda r: r.get("gc_freed_objects")),
        ("msgs acked per server CPU-second", lambda r: r.get("acked_per_server_cpu_s")),
        ("frames per server CPU-second", lambda r: r.get("delivered_per_server_cpu_s")),
        ("machine CPU % (of 100 x cores)", lambda r: r.get("machine_cpu_pct")),
        ("unacked / missing / dupes", lambda r: f"{r['unacked']}/{r['missing']}/{r['duplicates']}"),
        ("errors", lambda r: sum(r["errors"].values())),
    ]
    rows = []
    for label, get in spec:
        values = [get(runs[n]) for n in names]
        row = [label, *values]
        for other in values[1:]:
            ok = isinstance(values[0], int | float) and isinstance(other, int | float)
            ok = ok and label.startswith(("messages", "frames", "msgs", "server CPU us", "Redis CPU us", "delivery p"))
            row.append(report.ratio(values[0], other) if ok else "")
        rows.append(row)
    return headers, rows


def ws_headlines(runs: dict[str, dict[str, Any]], where: str = "", *, per: str = "msgs") -> list[dict[str, Any]]:
    """The history-table figures of one comparison: messenger (or the first run) against the
    baseline (or the second run) when there is one."""
    names = list(runs)
    first = runs[names[0]]
    other = runs[names[1]] if len(names) > 1 else None
    label = f"{names[0]} vs {names[1]}" if other is not None and names[1] != "baseline" else ""
    suffix = "".join(f", {x}" for x in (where, label) if x)
    # Messages for throughput, frames for fan-out: the figure each scenario is about.
    spec: list[tuple[str, Any, str]] = (
        [
            ("msgs acked/s", lambda r: r["acked_per_s"], ""),
            ("msgs per server CPU-s", lambda r: r.get("acked_per_server_cpu_s"), ""),
        ]
        if per == "msgs"
        else [
            ("frames delivered/s", lambda r: r["delivered_per_s"], ""),
            ("frames per server CPU-s", lambda r: r.get("delivered_per_server_cpu_s"), ""),
        ]
    ) + [
        ("ack p99", lambda r: r["ack_latency_ms"]["p99"], "ms"),
        ("delivery p99", lambda r: r["delivery_latency_ms"]["p99"], "ms"),
    ]
    out = [
        report.Headline(f"{figure}{suffix}", get(first), get(other) if other is not None else None, unit)
        for figure, get, unit in spec
    ]
    if first.get("db_cpu_us_per_msg") is not None:
        # The embedded database's, all of its processes (the table splits it by kind).
        theirs = other.get("db_cpu_us_per_msg") if other is not None else None
        out.append(report.Headline(f"database CPU per message{suffix}", first["db_cpu_us_per_msg"], theirs, "us"))
    if first.get("cross_node_delivery_ms") and other is not None:
        # What crossing nodes costs: the N-node figures against the single node's.
        cross = first["cross_node_delivery_ms"]
        one = other["delivery_latency_ms"]
        out += [report.Headline(f"cross-node delivery {p}{suffix}", cross[p], one[p], "ms") for p in ("p50", "p99")]
        out += [
            report.Headline(f"{label}{suffix}", first.get(key), other.get(key), "us")
            for label, key in (
                ("server CPU per message", "server_cpu_us_per_msg"),
                ("Redis CPU per message", "redis_cpu_us_per_msg"),
                ("Redis CPU per frame", "redis_cpu_us_per_frame"),
            )
        ]
    return out


def _one_run(
    args: argparse.Namespace, kind: str, n_users: int, room_size: int, n_senders: int, *, mode: str, rate: float
) -> dict[str, Any]:
    with target_for(args, kind) as target:
        topo = topology(target, n_users, room_size)
        senders = pick_senders(topo, n_senders)
        session = Session.open(target, plans(args, target, topo, senders, args.procs), profile_dir(args))
        try:
            summary = session.phase(
                mode,
                args.duration,
                warmup=args.warmup,
                rate=rate,
                window=args.window,
                drain_timeout=args.drain,
                expect_timeout=args.settle,
            )
        finally:
            session.close()
        summary["connect"] = session.connect
        summary["server"] = _server_info(target, args)
        summary["users"], summary["room_size"], summary["senders"] = n_users, room_size, n_senders
        return summary


def throughput(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    mode = "open" if args.rate else "closed"
    runs = {
        k: _one_run(args, k, args.users, args.room_size, args.senders, mode=mode, rate=args.rate or 0.0)
        for k in kinds(args)
    }
    headers, rows = ws_rows(runs)
    what = f"rate {args.rate:g}/s open loop" if args.rate else f"closed loop, {args.window} in flight per sender"
    title = f"throughput: {args.users} users, rooms of {args.room_size}, {args.senders} senders, {what}"
    print(report.table(title, headers, rows))
    saturation_note(runs)
    problems = [f"{k}: {p}" for k, r in runs.items() for p in r["problems"] + r["behind"]]
    data = {"scenario": "throughput", "runs": runs, "environment": _env(args, runs), "headline": ws_headlines(runs)}
    return data, problems


def fanout(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    mode = "open" if args.rate else "closed"
    out: dict[str, Any] = {}
    problems: list[str] = []
    headline: list[dict[str, Any]] = []
    for size in args.room_sizes:
        runs = {k: _one_run(args, k, size, size, 1, mode=mode, rate=args.rate or 0.0) for k in kinds(args)}
        headers, rows = ws_rows(runs)
        what = f"rate {args.rate:g}/s" if args.rate else f"{args.window} in flight"
        print(report.table(f"fanout: one sender into a room of {size} ({what})", headers, rows))
        saturation_note(runs)
        print()
        out[str(size)] = runs
        headline += ws_headlines(runs, f"room of {size}", per="frames")
        problems += [f"room {size} {k}: {p}" for k, r in runs.items() for p in r["problems"] + r["behind"]]
    env = _env(args, next(iter(out.values())))
    return {"scenario": "fanout", "room_sizes": out, "environment": env, "headline": headline}, problems


def sweep(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    curves: dict[str, list[dict[str, Any]]] = {}
    best: dict[str, float | None] = {}
    problems: list[str] = []
    infos: dict[str, Any] = {}
    for kind in kinds(args):
        steps: list[dict[str, Any]] = []
        held: float | None = None
        with target_for(args, kind) as target:
            topo = topology(target, args.users, args.room_size)
            senders = pick_senders(topo, args.senders)
            session = Session.open(target, plans(args, target, topo, senders, args.procs), profile_dir(args))
            infos[kind] = {"server": _server_info(target, args), "connect": session.connect}
            try:
                rate = args.rate_start
                misses = 0
                while rate <= args.rate_max:
                    s = session.phase(
                        "open",
                        args.duration,
                        warmup=args.warmup,
                        rate=rate,
                        drain_timeout=args.drain,
                        expect_timeout=args.settle,
                    )
                    ok_rate = s["acked_per_s"] >= 0.95 * rate
                    s["held"] = bool(
                        s["ack_latency_ms"]["p99"] <= args.p99_ms and not s["unacked"] and ok_rate and s["ok"]
                    )
                    steps.append(s)
                    lat = s["ack_latency_ms"]
                    print(
                        f"{kind:>9} offered {rate:>9,.0f}/s  acked {s['acked_per_s']:>9,.0f}/s  "
                        f"ack p50 {lat['p50']:7.2f}  p99 {lat['p99']:8.2f}  p99.9 {lat['p99.9']:8.2f} ms  "
                        f"{'held' if s['held'] else 'NOT held'}",
                        flush=True,
                    )
                    if s["missing"] or s["duplicates"]:
                        problems += [f"{kind} at {rate:g}/s: {p}" for p in s["problems"]]
                    if s["held"]:
                        held, misses = rate, 0
                    else:
                        # One noisy step should not end the sweep: stop after --patience misses.
                        misses += 1
                        if misses >= args.patience:
                            break
                    rate = rate * args.rate_step if args.rate_step > 1 else rate + args.rate_increment
            finally:
                session.close()
        curves[kind] = steps
        best[kind] = held
    rows = [[f"highest offered rate with ack p99 <= {args.p99_ms:g} ms", *(best[k] for k in curves)]]
    print(report.table("sweep", ["figure", *curves], rows))
    png = plot(curves, args)
    print(f"plot: {png}")
    data = {
        "scenario": "sweep",
        "p99_bound_ms": args.p99_ms,
        "highest_held_rate": best,
        "steps": curves,
        "plot": str(png),
        "servers": infos,
        "environment": report.environment(),
        "headline": [
            report.Headline(
                f"highest offered msgs/s with ack p99 <= {args.p99_ms:g} ms",
                best.get("messenger", best.get("baseline")),
                best.get("baseline") if "messenger" in best else None,
            )
        ],
    }
    return data, problems


def plot(curves: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    styles = {"messenger": "-", "baseline": "--"}
    for kind, steps in curves.items():
        if not steps:
            continue
        rates = [s["offered_rate"] for s in steps]
        for pct, color in (("p50", "tab:green"), ("p90", "tab:blue"), ("p99", "tab:orange"), ("p99.9", "tab:red")):
            ax.plot(
                rates,
                [max(s["ack_latency_ms"][pct], 0.001) for s in steps],
                styles.get(kind, "-"),
                color=color,
                marker="o",
                label=f"{kind} ack {pct}",
            )
    ax.axhline(args.p99_ms, color="grey", linestyle=":", label=f"p99 bound {args.p99_ms:g} ms")
    ax.set_xlabel("offered rate (messages/s, open loop)")
    ax.set_ylabel("ack latency (ms, from intended send time)")
    ax.set_yscale("log")
    ax.set_title(f"ack latency vs offered rate: rooms of {args.room_size}, {args.senders} senders")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    out_dir = Path(args.out) if args.out else report.RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"sweep-{report.stamp()}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
