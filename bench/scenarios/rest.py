"""rest: login, list chats, page messages, send and sync over REST, wrk-style.

Each operation runs for `--duration` seconds on `--concurrency` keep-alive connections spread
over the client processes, each connection in a closed loop (one request in flight). Users
come seeded with chats and `--history` messages per chat so pages are full. `--conversation`
seeds every other chat's history with replies and reactions: the `conversation` operation pages
those chats, `messages` the plain ones, so the two compare pages with and without them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from .. import report
from ..client import LeanHttp, split_url
from ..hist import HistData, Histogram
from ..seed import PASSWORD, SeedUser
from .common import target_for, topology
from .ws import kinds

OPS = ("login", "chats", "messages", "conversation", "send", "sync")


class RestPlan(msgspec.Struct):
    index: int
    url: str
    users: list[SeedUser]
    concurrency: int
    duration: float
    history: int
    # chats seeded with replies and reactions: `conversation` pages those, `messages` the others
    conversation: list[int] = []


class RestResult(msgspec.Struct):
    requests: int
    statuses: dict[str, int]
    hist: HistData
    cpu_seconds: float
    wall_seconds: float
    errors: dict[str, int]


_encode = msgspec.json.Encoder().encode


def _request(plan: RestPlan, op: str, user: SeedUser, k: int) -> tuple[str, str, dict[str, str], bytes | None]:
    auth = {"Authorization": f"Bearer {user.token}"}
    chat = user.chats[0] if user.chats else 0
    if op == "login":
        return "POST", "/v1/auth/login", {}, _encode({"login": user.username, "password": PASSWORD})
    if op == "chats":
        return "GET", "/v1/chats?limit=20", auth, None
    if op in ("messages", "conversation"):
        if k % 2 or plan.history <= 50:
            return "GET", f"/v1/chats/{chat}/messages?limit=50", auth, None
        before = 51 + (k * 7919) % (plan.history - 50)
        return "GET", f"/v1/chats/{chat}/messages?before={before}&limit=50", auth, None
    if op == "send":
        cmid = f"{plan.index:08x}-{user.id & 0xFFFF:04x}-4000-8000-{k:012x}"
        return "POST", f"/v1/chats/{chat}/messages", auth, _encode({"client_msg_id": cmid, "text": "rest bench " * 8})
    if op == "sync":
        # A device catching up from the start of the stream: the events of the `send` phase
        # (run it first), 100 per page, as REST sync returns them.
        return "GET", "/v1/sync?since=0&limit=100", auth, None
    return "GET", "/http", {}, None  # baseline


async def _run(plan: RestPlan, pipe: Connection) -> None:
    """Connect, then run each operation the parent orders ((op, t0_ns) over the pipe; None ends)."""
    host, port = split_url(plan.url)
    conns = [await LeanHttp.connect(host, port) for _ in range(plan.concurrency)]
    loop = asyncio.get_running_loop()
    pipe.send("ready")
    while True:
        command: tuple[str, int] | None = await loop.run_in_executor(None, pipe.recv)
        if command is None:
            break
        op, t0_ns = command
        pipe.send(await _one_op(plan, op, t0_ns, conns, host, port))
    for c in conns:
        c.close()


async def _one_op(plan: RestPlan, op: str, t0_ns: int, conns: list[LeanHttp], host: str, port: int) -> RestResult:
    hist = Histogram()
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    t_end = t0_ns + int(plan.duration * 1e9)
    counter = [0]
    users = plan.users
    if plan.conversation and op in ("messages", "conversation"):
        decorated = set(plan.conversation)
        users = [u for u in users if bool(u.chats) and (u.chats[0] in decorated) == (op == "conversation")]

    async def closed_loop(i: int) -> None:
        conn = conns[i]
        user = users[i % len(users)] if users else SeedUser(0, "", "", [])
        while time.monotonic_ns() < t_end:
            counter[0] += 1
            method, path, headers, body = _request(plan, op, user, counter[0])
            start = time.monotonic_ns()
            try:
                response = await conn.request(method, path, headers=headers, body=body)
            except (ConnectionError, OSError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                conn = conns[i] = await LeanHttp.connect(host, port)
                continue
            hist.record((time.monotonic_ns() - start) // 1000)
            key = str(response.status)
            statuses[key] = statuses.get(key, 0) + 1

    await asyncio.sleep(max(0.0, (t0_ns - time.monotonic_ns()) / 1e9))
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    await asyncio.gather(*(closed_loop(i) for i in range(plan.concurrency)))
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    return RestResult(hist.total, statuses, hist.data(), cpu, time.monotonic() - wall0, errors)


def _entry(plan: RestPlan, pipe: Connection) -> None:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_run(plan, pipe))


class _Clients:
    """REST client processes, connected once and reused for every operation."""

    def __init__(
        self, url: str, users: list[SeedUser], args: argparse.Namespace, conversation: list[int] | None = None
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        procs = max(1, min(args.procs, args.concurrency))
        share = [args.concurrency // procs + (1 if i < args.concurrency % procs else 0) for i in range(procs)]
        self.pipes: list[Connection] = []
        self.children: list[multiprocessing.process.BaseProcess] = []
        for i in range(procs):
            mine = users[i::procs] or users
            plan = RestPlan(i, url, mine, share[i], args.duration, args.history, conversation or [])
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_entry, args=(plan, child), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.children.append(p)
        for pipe in self.pipes:
            if not pipe.poll(120) or pipe.recv() != "ready":
                raise RuntimeError("a REST client process did not start")

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for p in self.children:
            p.join(10)
            if p.is_alive():
                p.kill()


def _measure(clients: _Clients, op: str, args: argparse.Namespace, server: Any) -> dict[str, Any]:
    pipes = clients.pipes
    t0 = time.monotonic_ns() + 100_000_000
    for pipe in pipes:
        pipe.send((op, t0))
    time.sleep(max(0.0, (t0 - time.monotonic_ns()) / 1e9))
    profiler = None
    if args.profile and server.pid is not None:
        from ..profile import Profiler

        out_dir = Path(args.out) if args.out else report.RESULTS_DIR
        profiler = Profiler(server.pid, out_dir / f"profile-rest-{op}-{report.stamp()}.txt", args.duration)
    cpu0, wall0 = server.cpu_seconds(), time.monotonic()
    results: list[RestResult] = []
    for pipe in pipes:
        if not pipe.poll(args.duration + 120):
            raise RuntimeError("a REST client process did not answer")
        results.append(pipe.recv())
    cpu1, wall1 = server.cpu_seconds(), time.monotonic()
    hot = profiler.finish() if profiler is not None else []
    if profiler is not None:
        print(f"py-spy (rest {op}), self time: " + ", ".join(f"{n} {p}%" for n, p in hot[:8]))
    hist = Histogram.merged(r.hist for r in results)
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    requests = sum(r.requests for r in results)
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    out: dict[str, Any] = {
        "op": op,
        "concurrency": args.concurrency,
        "requests": requests,
        "requests_per_s": round(requests / args.duration, 1),
        "ok_per_s": round(ok / args.duration, 1),
        "statuses": statuses,
        "errors": errors,
        "latency_ms": hist.summary_ms(),
        "client_cpu_pct": [round(100 * r.cpu_seconds / r.wall_seconds, 1) if r.wall_seconds else 0 for r in results],
    }
    if profiler is not None:
        out["profile"] = {"raw": str(profiler.out), "self_pct": hot}
    if server.pid is not None and wall1 > wall0:
        out["server_cpu_pct"] = round(100 * (cpu1 - cpu0) / (wall1 - wall0), 1)
    return out


def rest(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    runs: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for kind in kinds(args):
        with target_for(args, kind) as target:
            if kind == "baseline":
                clients = _Clients(target.url, [], args)
                try:
                    runs["baseline GET"] = _measure(clients, "baseline", args, target)
                finally:
                    clients.close()
                continue
            topo = topology(
                target, args.users, args.room_size, messages_per_chat=args.history, conversation=args.conversation
            )
            clients = _Clients(target.url, topo.users, args, topo.conversation)
            try:
                results = {op: _measure(clients, op, args, target) for op in args.ops}
            finally:
                clients.close()
            for op, result in results.items():
                runs[op] = result
                bad = {k: v for k, v in result["statuses"].items() if not k.startswith("2")}
                if bad or result["errors"] or not result["requests"]:
                    problems.append(f"{op}: statuses {result['statuses']} errors {result['errors']}")
    ceiling = runs.get("baseline GET", {}).get("ok_per_s")
    headers = [
        "operation",
        "ok req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "non-2xx",
        "server CPU %",
        "of baseline",
    ]
    rows = []
    for name, r in runs.items():
        lat = r["latency_ms"]
        bad = sum(v for k, v in r["statuses"].items() if not k.startswith("2")) + sum(r["errors"].values())
        rows.append(
            [
                name,
                r["ok_per_s"],
                lat["p50"],
                lat["p90"],
                lat["p99"],
                lat["p99.9"],
                lat["max"],
                bad,
                r.get("server_cpu_pct"),
                report.ratio(r["ok_per_s"], ceiling) if ceiling else "",
            ]
        )
    print(report.table(f"rest: {args.concurrency} connections, {args.duration:g} s per operation", headers, rows))
    headline = [
        report.Headline(f"{name} ok req/s", r["ok_per_s"], ceiling if name != "baseline GET" else None)
        for name, r in runs.items()
        if name != "baseline GET" or len(runs) == 1
    ] + [report.Headline(f"{name} p99", r["latency_ms"]["p99"], None, "ms") for name, r in runs.items()]
    data = {"scenario": "rest", "runs": runs, "environment": report.environment(), "headline": headline}
    return data, problems
