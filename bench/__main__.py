"""`python -m bench <scenario> [options]`: see bench/README.md."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import report

Scenario = Callable[[argparse.Namespace], tuple[dict[str, Any], list[str]]]


def _sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _ops(text: str) -> list[str]:
    from .scenarios.rest import OPS

    ops = [x.strip() for x in text.split(",") if x.strip()]
    for op in ops:
        if op not in OPS:
            raise argparse.ArgumentTypeError(f"unknown operation {op!r} (choose from {', '.join(OPS)})")
    return ops


# (duration, warmup) in seconds when not given.
DEFAULT_TIMING = {"mixed": (120.0, 10.0)}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    args = parser().parse_args(argv)
    duration, warmup = DEFAULT_TIMING.get(args.scenario, (10.0, 1.0))
    if args.duration is None:
        args.duration = duration
    if args.warmup is None:
        args.warmup = warmup
    return args


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="Load tests for messenger.")
    sub = p.add_subparsers(dest="scenario", required=True)

    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("server")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--url", help="drive a running server (also give --database-url and --secret-key)")
    where.add_argument("--spawn", action="store_true", help="start `messenger serve` (default when --url is absent)")
    g.add_argument("--workers", type=int, default=1, help="uvicorn workers of the spawned server (>1 needs REDIS_URL)")
    g.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), help="the --url server's database")
    g.add_argument("--secret-key", default=os.environ.get("SECRET_KEY"), help="the --url server's SECRET_KEY")
    g.add_argument("--server-pid", type=int, default=None, help="pid of the --url server (for RSS and CPU figures)")
    g.add_argument(
        "--redis",
        default=None,
        help="Redis for the spawned nodes: spawn (a private redis-server), cluster (a private 3-master "
        "Redis Cluster) or a URL (default: REDIS_URL if set, else spawn when --nodes > 1)",
    )
    g.add_argument(
        "--pg-stat-statements",
        action="store_true",
        help="load pg_stat_statements in the spawned server's embedded PostgreSQL and print its top statements "
        "over each measured window",
    )
    g.add_argument(
        "--wait-events",
        action="store_true",
        help="sample the database's wait events of the sends every 5 ms during each measured window "
        "(bench/dbwindow.py; adds about 200 small queries a second)",
    )
    g.add_argument("--baseline", action="store_true", help="also run against the bare ASGI baseline app")
    g.add_argument("--baseline-only", action="store_true", help="run only against the baseline app")
    g = common.add_argument_group("load")
    g.add_argument("--procs", type=int, default=2, help="client processes (default 2)")
    g.add_argument("--client", choices=("lean", "websockets"), default="lean", help="WebSocket client implementation")
    g.add_argument("--auth", choices=("frame", "header"), default="frame", help="WebSocket authentication")
    # Defaults per scenario (DEFAULT_TIMING): a subparser's set_defaults would change these
    # shared parent actions for every scenario.
    g.add_argument("--duration", type=float, default=None, help="seconds per measured phase (default 10; mixed 120)")
    g.add_argument(
        "--warmup", type=float, default=None, help="seconds at the start of a phase not measured (default 1; mixed 10)"
    )
    g.add_argument("--drain", type=float, default=10.0, help="seconds to wait for outstanding acks")
    g.add_argument("--settle", type=float, default=10.0, help="seconds to wait for acked deliveries to arrive")
    g.add_argument("--text-size", type=int, default=100, help="message text bytes")
    g.add_argument("--connect-concurrency", type=int, default=200, help="handshakes in flight per client process")
    g.add_argument("--profile", action="store_true", help="py-spy the spawned server during measured phases")
    g.add_argument("--out", default=None, help="directory for the JSON and PNG (default bench/results)")

    nodes = argparse.ArgumentParser(add_help=False)
    nodes.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="server processes on their own ports sharing the database and Redis; users spread over them. "
        "With N > 1 the same scenario also runs on one node (same Redis) for comparison",
    )
    nodes.add_argument(
        "--placement",
        choices=("spread", "room"),
        default="spread",
        help="which node each user connects to: spread (round-robin, most deliveries cross nodes) or room "
        "(a room's members on one node, rooms round-robin: on a Redis Cluster a node hears only its rooms)",
    )

    s = sub.add_parser("throughput", parents=[common, nodes], help="U users in rooms of R, S senders")
    s.add_argument("--users", type=int, default=1000)
    s.add_argument("--room-size", type=int, default=10)
    s.add_argument("--senders", type=int, default=100)
    s.add_argument("--window", type=int, default=1, help="frames in flight per sender (closed loop)")
    s.add_argument("--rate", type=float, default=None, help="open loop at this many messages/s in total")

    s = sub.add_parser("fanout", parents=[common, nodes], help="one sender into a room of R members")
    s.add_argument("--room-sizes", type=_sizes, default=[100, 1000], help="comma-separated (default 100,1000)")
    s.add_argument("--window", type=int, default=4, help="frames in flight (closed loop)")
    s.add_argument("--rate", type=float, default=None, help="open loop at this many messages/s")

    s = sub.add_parser("sweep", parents=[common], help="open-loop rate stepped up until ack p99 exceeds a bound")
    s.add_argument("--users", type=int, default=1000)
    s.add_argument("--room-size", type=int, default=10)
    s.add_argument("--senders", type=int, default=100)
    s.add_argument("--rate-start", type=float, default=1000.0)
    s.add_argument("--rate-step", type=float, default=1.4, help="multiply the rate by this each step (>1)")
    s.add_argument("--rate-increment", type=float, default=1000.0, help="add this each step when --rate-step is 1")
    s.add_argument("--rate-max", type=float, default=100_000.0)
    s.add_argument("--p99-ms", type=float, default=10.0, help="ack p99 bound in ms")
    s.add_argument("--patience", type=int, default=2, help="stop after this many steps in a row that did not hold")
    s.set_defaults(window=1)

    s = sub.add_parser("connections", parents=[common], help="N idle authenticated sockets")
    s.add_argument("--sockets", type=int, default=5000)
    s.add_argument("--hold", type=float, default=5.0, help="seconds to hold them idle")

    s = sub.add_parser("rest", parents=[common], help="REST operations, wrk-style")
    s.add_argument("--users", type=int, default=200)
    s.add_argument("--room-size", type=int, default=10)
    s.add_argument("--history", type=int, default=200, help="seeded messages per chat")
    s.add_argument(
        "--conversation", action="store_true", help="seed every other chat's history with replies and reactions"
    )
    s.add_argument("--concurrency", type=int, default=32, help="connections, one request in flight each")
    s.add_argument("--ops", type=_ops, default=["login", "chats", "messages", "send"], help="comma-separated")
    s = sub.add_parser("mixed", parents=[common, nodes], help="thousands of people: messages, typing, reads, churn")
    s.add_argument("--users", type=int, default=5000)
    s.add_argument("--directs", type=int, default=2, help="direct chats with the next N users (each in 2N)")
    s.add_argument("--groups10", type=int, default=2, help="groups of 10 per user")
    s.add_argument("--groups100", type=int, default=1, help="groups of 100 per user")
    s.add_argument("--msg-interval", type=float, default=60.0, help="mean seconds between a user's messages")
    s.add_argument("--reconnects", type=float, default=0.01, help="fraction of sockets reconnecting per minute")
    s.add_argument("--churn", type=float, default=0.005, help="fraction of users going offline per minute")
    s.add_argument("--offline", type=float, default=10.0, help="seconds a churned user stays offline")
    s.add_argument("--seed", type=int, default=1, help="random seed of the topology and the schedule")

    s = sub.add_parser("search", parents=[common], help="message search latency over a bulk-seeded history")
    s.add_argument("--messages", type=int, default=1_000_000)
    s.add_argument("--chats", type=int, default=10_000)
    s.add_argument("--users", type=int, default=2000, help="members to spread over the chats")
    s.add_argument("--user-chats", type=int, default=100, help="chats of the measured user")
    s.add_argument("--vocabulary", type=int, default=50_000, help="distinct words (Zipf frequencies)")
    s.add_argument("--queries", type=int, default=200, help="queries per kind")
    s.add_argument("--limit", type=int, default=20, help="results per page")
    s.add_argument(
        "--data-dir",
        default=None,
        help="keep the spawned server's data (embedded PostgreSQL) here; a later run with the same "
        "directory and sizes reuses the seeded history instead of seeding again",
    )
    return p


def _scenario(name: str) -> Scenario:
    if name == "connections":
        from .scenarios.connections import connections

        return connections
    if name == "rest":
        from .scenarios.rest import rest

        return rest
    if name == "mixed":
        from .scenarios.mixed import mixed

        return mixed
    if name == "search":
        from .scenarios.search import search

        return search
    from .scenarios import ws

    fn: Scenario = getattr(ws, name)
    return fn


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # Our own processes must be able to hold many sockets too.
    from .server import raise_nofile

    raise_nofile()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()
    data, problems = _scenario(args.scenario)(args)
    data["params"] = {k: v for k, v in vars(args).items() if k != "secret_key"}
    data["problems"] = problems
    data["ok"] = not problems
    history = report.history_rows(
        args.scenario,
        sys.argv[1:] if argv is None else argv,
        data.get("headline", []),
        started=started,
        load_start=load_start,
        load_end=os.getloadavg(),
    )
    data["history_rows"] = history
    path = report.write_json(args.scenario, data, Path(args.out) if args.out else None)
    if history:
        # Ready to append to the history table of bench/README.md.
        print("\nhistory rows (bench/README.md):\n" + "\n".join(history))
    print(f"\nresults: {path}")
    behind = [p for p in problems if "fell behind" in p]
    broken = [p for p in problems if p not in behind]
    if broken:
        print("\nBENCH FAILED: correctness checks did not hold:", file=sys.stderr)
        for problem in broken:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if behind:
        print(
            "\nBENCH INCOMPLETE: the server fell behind the offered load (lower --rate or raise --drain):",
            file=sys.stderr,
        )
        for problem in behind:
            print(f"  - {problem}", file=sys.stderr)
        return 3
    print(
        "correctness: every acknowledged message reached every member exactly once"
        if args.scenario in ("throughput", "fanout", "sweep", "mixed")
        else "correctness: no errors"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
