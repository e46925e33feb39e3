"""Servers under test: a spawned `messenger serve`, the baseline app, or one given by `--url`.

A spawned server gets SECRET_KEY from the bench (so tokens can be minted), per-socket frame
and login rate limits lifted out of the way (the bench measures capacity, not the limiter),
a raised open-file limit, and the database from DATABASE_URL (or an embedded PostgreSQL the
bench starts itself, so it can seed it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from .dbwindow import track_wal_timing

UVICORN_FLAGS = ("--ws", "websockets-sansio", "--http", "httptools", "--loop", "uvloop")
NOFILE = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_nofile(want: int = NOFILE) -> int:
    """Raise this process's open-file limit as far as allowed; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (want, hard):
        try:
            new_hard = max(hard, target) if hard != resource.RLIM_INFINITY else hard
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, new_hard))
            return target
        except (ValueError, OSError):
            continue
    return soft


@dataclass
class Target:
    """What the scenarios talk to."""

    kind: str  # "messenger" | "baseline"
    url: str
    pid: int | None = None
    dsn: str | None = None
    secret_key: str | None = None
    flags: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # The embedded PostgreSQL the bench started (its postmaster), for the database's CPU.
    db_pid: int | None = None
    _stops: list[Callable[[], None]] = field(default_factory=list)
    # `--nodes N`: every node's URL (the first is `url`), and the other nodes' processes.
    urls: list[str] = field(default_factory=list)
    more: list[Target] = field(default_factory=list)
    # The Redis (or Redis Cluster masters) the nodes share, for its CPU per message.
    redis_url: str | None = None
    redis_nodes: list[str] = field(default_factory=list)
    # `--pg-stat-statements`: the database records its statements (the extension is created).
    statements: bool = False
    # `--wait-events`: sample the sends' wait events in the database during measured windows.
    wait_events: bool = False

    def node_urls(self) -> list[str]:
        return self.urls or [self.url]

    def processes(self) -> list[psutil.Process]:
        """The server's Python processes (uvicorn parent and workers, of every node; no database)."""
        out = []
        for node in self.more:
            out.extend(node.processes())
        if self.pid is None:
            return out
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return out
        for p in procs:
            with contextlib.suppress(psutil.Error):
                if "python" in p.name().lower() or "python" in " ".join(p.cmdline()[:1]).lower():
                    out.append(p)
        return out

    def rss(self) -> int:
        total = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def db_cpu_seconds(self) -> float | None:
        """CPU of the bench's own embedded PostgreSQL (None for a shared or remote database)."""
        split = self.db_cpu_split()
        return None if split is None else sum(split.values())

    def run_delays(self) -> dict[str, float]:
        """Seconds the server's threads (`server`) and the embedded PostgreSQL's processes
        (`database`) have spent runnable but waiting for a core, so far: the scheduler's own
        count (/proc/<pid>/task/<tid>/schedstat, nanoseconds). On two cores shared with the
        client processes this is how long work that could run did not. Processes that exited
        take theirs with them; empty when the kernel keeps no schedstat."""
        if not os.path.exists("/proc/self/schedstat"):
            return {}
        out: dict[str, float] = {}
        server = [p.pid for p in self.processes()]
        if server:
            out["server"] = _run_delay(server)
        if self.db_pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                root = psutil.Process(self.db_pid)
                out["database"] = _run_delay([root.pid, *(c.pid for c in root.children(recursive=True))])
        return out

    def db_cpu_split(self) -> dict[str, float] | None:
        """The embedded PostgreSQL's CPU seconds so far by kind of process: `backends` (the
        server's connections: the sends, the notification jobs, every query), `background`
        (checkpointer, background writer, WAL writer, I/O workers, autovacuum: work the
        writes cause but pay later, in bursts) and `exited`: processes the postmaster reaped
        (autovacuum workers that came and went, closed connections), from its children's times.
        Without `exited` a process that ended inside a measured window took its CPU with it
        (and its CPU before the window was subtracted from the total)."""
        if self.db_pid is None:
            return None
        try:
            root = psutil.Process(self.db_pid)
            times = root.cpu_times()
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        split = {
            "backends": 0.0,
            "background": times.user + times.system,
            "exited": times.children_user + times.children_system,
        }
        for p in children:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                # A client connection's title is "postgres: USER DATABASE ADDRESS ...": four words
                # at least; background processes name themselves in one or two.
                title = " ".join(p.cmdline())
                kind = "backends" if len(title.split()) >= 4 and "autovacuum" not in title else "background"
                split[kind] += t.user + t.system
        return split

    def db_commits(self) -> int | None:
        """Transactions committed in the server's database so far (pg_stat_database.xact_commit;
        the statistics lag by up to a second, so read it over windows of many seconds). None
        for the baseline (no database)."""
        if self.dsn is None:
            return None
        dsn = self.dsn

        async def read() -> int:
            import asyncpg

            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("SELECT pg_stat_clear_snapshot()")
                value: int = await conn.fetchval(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                )
                return value
            finally:
                await conn.close()

        return asyncio.run(read())

    def reset_statements(self) -> None:
        """Start pg_stat_statements' counts afresh (at the start of a measured window)."""
        if self.statements and self.dsn is not None:
            asyncio.run(_statements_call(self.dsn, "SELECT pg_stat_statements_reset()"))

    def top_statements(self, limit: int = 20) -> list[dict[str, Any]]:
        """The statements of the server's database since the last reset, most total execution
        time first. Statements run inside functions (send_messages' own) are there too, marked
        nested (pg_stat_statements.track = all): their time is also in their caller's."""
        if not self.statements or self.dsn is None:
            return []
        rows = asyncio.run(_statements_call(self.dsn, TOP_STATEMENTS, limit))
        return [dict(r) for r in rows]

    def redis_cpu_seconds(self) -> float | None:
        """used_cpu_sys + used_cpu_user of the shared Redis (summed over a cluster's masters),
        from INFO cpu: the same figure whether the bench started Redis or was given one."""
        if not self.redis_nodes:
            return None
        import redis

        total = 0.0
        for url in self.redis_nodes:
            client = redis.Redis.from_url(url, socket_timeout=5)
            try:
                info = client.info("cpu")
            except redis.RedisError:
                return None
            finally:
                client.close()
            total += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        return total

    def shard_subscriptions(self) -> list[int] | None:
        """Per node, how many shard channels its subscription connections hold (Redis Cluster:
        CLIENT LIST's ssub of the connections named messenger-node-<id>, over every master)."""
        if len(self.redis_nodes) < 2:
            return None
        import redis

        per_node: dict[str, int] = {}
        for url in self.redis_nodes:
            client = redis.Redis.from_url(url, socket_timeout=5)
            try:
                for c in client.client_list(_type="pubsub"):
                    if c.get("name", "").startswith("messenger-node-"):
                        per_node[c["name"]] = per_node.get(c["name"], 0) + int(c.get("ssub", 0))
            except redis.RedisError:
                return None
            finally:
                client.close()
        return sorted(per_node.values())

    def metric_totals(self, names: Sequence[str]) -> dict[str, float] | None:
        """These /metrics samples (name with its suffix, no labels) summed over the nodes;
        None for the baseline or when a node does not answer."""
        if self.kind == "baseline":
            return None
        wanted = set(names)
        totals = dict.fromkeys(names, 0.0)
        for url in self.node_urls():
            # urllib, not httpx.get: this runs at the very start and end of a measured window,
            # and httpx.get builds a client with an SSL context each call, 38 ms of CPU on one of
            # the machine's two cores (0.6 ms with urllib), which stalled the server's batches
            # at the window's start (bench/README.md, "The tail at 1,000 msgs/s").
            try:
                with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
                    text = response.read().decode()
            except OSError:
                return None
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name in wanted:
                    totals[name] += float(value)
        return totals

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None:
            return ""
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        for node in self.more:
            node.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()
        # The server logs warnings and errors only: an empty log has nothing to keep in /tmp.
        if self.log_path is not None and self.log_path.exists() and self.log_path.stat().st_size == 0:
            self.log_path.unlink()


TOP_STATEMENTS = """
SELECT toplevel, calls, total_exec_time, rows, wal_records, query
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls > 0
ORDER BY total_exec_time DESC
LIMIT $1
"""


async def _statements_call(dsn: str, sql: str, *args: object) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows: list[Any] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


def _preload_statements(dsn: str) -> bool | None:
    """Ask the embedded PostgreSQL to load pg_stat_statements at its next start: True when a
    restart is needed, False when it is loaded already, None (with a message) when its binaries
    do not ship the module."""

    async def ask() -> bool | None:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            available = "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
            if not await conn.fetchval(available):
                return None
            loaded = "pg_stat_statements" in (await conn.fetchval("SHOW shared_preload_libraries")).split(", ")
            if not loaded:
                await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
            # Statements inside functions too (send_messages' own), not only what clients send.
            await conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
            await conn.execute("SELECT pg_reload_conf()")
            return not loaded
        finally:
            await conn.close()

    return asyncio.run(ask())


def _create_statements(dsn: str) -> bool:
    """CREATE EXTENSION pg_stat_statements in the server's database (the view lives in the
    database it was created in), after the migrations; False, with a message, when the library
    is not loaded (a database given by DATABASE_URL that does not preload it)."""

    async def create() -> bool:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        try:
            if "pg_stat_statements" not in (await conn.fetchval("SHOW shared_preload_libraries")).split(", "):
                return False
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            return True
        finally:
            await conn.close()

    if asyncio.run(create()):
        return True
    print(
        "bench: --pg-stat-statements: the database does not preload pg_stat_statements "
        "(shared_preload_libraries); running without statement statistics",
        file=sys.stderr,
    )
    return False


def _preexec() -> None:
    raise_nofile()


def _wait_ready(target: Target, timeout: float = 90) -> None:
    assert target.proc is not None
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            if target.proc.poll() is not None:
                raise RuntimeError(f"server exited with {target.proc.returncode}:\n{target.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(target.url + "/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
    target.stop()
    raise RuntimeError(f"server did not become ready in {timeout}s:\n{target.log_tail()}")


def _popen(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = Path(tempfile.mkstemp(prefix="bench-server-", suffix=".log")[1])
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_preexec)
    return proc, log_path


def spawn_messenger(
    workers: int = 1,
    *,
    extra_env: dict[str, str] | None = None,
    nodes: int = 1,
    redis: str | None = None,
    data_dir: Path | None = None,
    pg_stat_statements: bool = False,
) -> Target:
    """`nodes` server processes on their own ports sharing one database and, when `redis` is
    given ("spawn", "cluster" or a URL) or REDIS_URL is set, one Redis. Returns the first node's
    Target carrying the others (`more`) and every URL (`urls`). `data_dir`: keep the server's
    data (the embedded PostgreSQL too) there, to reuse a seeded database in a later run; a
    fresh temporary directory otherwise. `pg_stat_statements`: the database records its
    statements (Target.top_statements); the embedded PostgreSQL is restarted once to load the
    library."""
    from messenger import db as dbmod

    stops: list[Callable[[], None]] = []
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-messenger-"))
        # Stops run in reverse, so this runs last, after the embedded PostgreSQL has stopped:
        # each run would otherwise leave a whole database cluster behind in the temp folder.
        temporary = data_dir
        stops.append(lambda: shutil.rmtree(temporary, ignore_errors=True))
    data_dir.mkdir(parents=True, exist_ok=True)
    dsn = os.environ.get("DATABASE_URL")
    db_pid = None
    try:
        if not dsn:
            from messenger import embedded

            pg = embedded.start(data_dir)
            if pg_stat_statements:
                restart = _preload_statements(pg.dsn)
                if restart is None:
                    print(
                        "bench: --pg-stat-statements: the embedded PostgreSQL's binaries do not ship "
                        "pg_stat_statements; running without statement statistics",
                        file=sys.stderr,
                    )
                    pg_stat_statements = False
                elif restart:
                    # shared_preload_libraries is read at start only.
                    pg.stop()
                    pg = embedded.start(data_dir)
            stops.append(pg.stop)
            dsn = pg.dsn
            db_pid = _postmaster(data_dir)
            asyncio.run(track_wal_timing(dsn))
        asyncio.run(dbmod.migrate(dsn))
        if pg_stat_statements:
            pg_stat_statements = _create_statements(dsn)
        redis_env, redis_nodes = _redis(redis, stops)
    except BaseException:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        raise
    secret_key = secrets.token_urlsafe(32)
    lifted = str(10**9)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SMTP_", "S3_"))}
    env.update(
        DATABASE_URL=dsn,
        SECRET_KEY=secret_key,
        HOST="127.0.0.1",
        MESSENGER_DATA_DIR=str(data_dir),
        BCRYPT_ROUNDS="4",
        LOG_LEVEL="WARNING",
        WS_FRAME_RATE=lifted,
        WS_FRAME_BURST=lifted,
        RATE_LIMIT_LOGIN=lifted,
        RATE_LIMIT_LOGIN_IP=lifted,
        RATE_LIMIT_REGISTER=lifted,
        RATE_LIMIT_EMAIL=lifted,
        PYTHONUNBUFFERED="1",
    )
    env.update(redis_env)
    if (workers > 1 or nodes > 1) and not env.get("REDIS_URL"):
        for stop in reversed(stops):
            stop()
        raise SystemExit("bench: --workers > 1 and --nodes > 1 need REDIS_URL or --redis")
    if env.get("REDIS_URL"):
        env.setdefault("REDIS_PREFIX", f"bench:{secrets.token_hex(4)}:")
    env.update(extra_env or {})
    targets: list[Target] = []
    try:
        for _ in range(nodes):
            targets.append(_start_node(env, workers, dsn, secret_key))
        for t in targets:
            _wait_ready(t)
    except BaseException:
        for t in targets:
            t.stop()
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        raise
    first, rest = targets[0], targets[1:]
    first.db_pid = db_pid
    first.statements = pg_stat_statements
    first._stops = stops
    first.more = rest
    first.urls = [t.url for t in targets]
    first.redis_url = env.get("REDIS_URL")
    first.redis_nodes = redis_nodes or ([env["REDIS_URL"]] if env.get("REDIS_URL") else [])
    if nodes > 1:
        first.flags = [*first.flags, f"({nodes} nodes: {' '.join(first.urls)})"]
    return first


def _start_node(env: dict[str, str], workers: int, dsn: str, secret_key: str) -> Target:
    port = free_port()
    env = {**env, "PORT": str(port)}
    cmd = [sys.executable, "-m", "messenger", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-web-build"]
    cmd += ["--workers", str(workers)]
    proc, log_path = _popen(cmd, env)
    return Target(
        "messenger",
        f"http://127.0.0.1:{port}",
        proc.pid,
        dsn,
        secret_key,
        flags=[*cmd[1:], "(uvicorn: ws=websockets-sansio http=httptools loop=uvloop)"],
        proc=proc,
        log_path=log_path,
    )


def _redis(choice: str | None, stops: list[Callable[[], None]]) -> tuple[dict[str, str], list[str]]:
    """REDIS_URL for the nodes and the Redis URLs whose CPU the bench reads.

    "spawn": a private redis-server on a free port (its CPU is the bench's alone); "cluster": a
    private 3-master Redis Cluster; a URL: that Redis (shared: its CPU includes others' work)."""
    if choice is None:
        return {}, []
    if choice == "spawn":
        url = spawn_redis(stops)
        return {"REDIS_URL": url}, [url]
    if choice == "cluster":
        ports = spawn_redis_cluster(stops)
        nodes = [f"redis://127.0.0.1:{p}/0" for p in ports]
        return {"REDIS_URL": cluster_url(ports)}, nodes
    return {"REDIS_URL": choice}, [choice]


def _redis_server(port: int, workdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    cmd += ["--dir", str(workdir), *extra]
    log = (workdir / f"redis-{port}.log").open("wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def _wait_redis(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    import redis

    deadline = time.monotonic() + timeout
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {port} exited with {proc.returncode}")
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"redis-server on port {port} did not answer in {timeout}s")


def _stopper(proc: subprocess.Popen[bytes]) -> Callable[[], None]:
    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return stop


def spawn_redis(stops: list[Callable[[], None]]) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    stops.append(lambda: shutil.rmtree(workdir, ignore_errors=True))  # after the server stops
    port = free_port()
    proc = _redis_server(port, workdir)
    stops.append(_stopper(proc))
    _wait_redis(port, proc)
    return f"redis://127.0.0.1:{port}/0"


def spawn_redis_cluster(stops: list[Callable[[], None]], masters: int = 3) -> list[int]:
    """A private Redis Cluster of `masters` masters, no replicas (what tests/services.sh starts)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-redis-cluster-"))
    stops.append(lambda: shutil.rmtree(workdir, ignore_errors=True))  # after the servers stop
    ports: list[int] = []
    while len(ports) < masters:
        port = _cluster_port()
        if port not in ports:
            ports.append(port)
    for port in ports:
        proc = _redis_server(port, workdir, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf")
        stops.append(_stopper(proc))
        _wait_redis(port, proc)
    create = ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports)]
    subprocess.run([*create, "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
    import redis

    deadline = time.monotonic() + 20
    client = redis.Redis(host="127.0.0.1", port=ports[0], socket_timeout=1)
    try:
        while client.cluster("info").get("cluster_state") != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError("the bench's Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
    finally:
        client.close()
    return ports


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too: Redis Cluster needs both, so the
    port must be at most 55535 (below the kernel's ephemeral range, where free_port() draws)."""
    import random

    for _ in range(200):
        port = random.randint(20000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def cluster_url(ports: list[int]) -> str:
    return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)


def _run_delay(pids: Sequence[int]) -> float:
    """Run-queue wait of every thread of these processes, in seconds; a thread or process that
    ends while it is read counts nothing."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
    return total / 1e9


def _postmaster(data_dir: Path) -> int | None:
    """The postmaster whose data directory lies under `data_dir` (its children are backends)."""
    for p in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.info["cmdline"] or [])
            if "postgres" in (p.info["name"] or "") and str(data_dir) in cmd:
                parent = p.parent()
                if parent is not None and str(data_dir) in " ".join(parent.cmdline()):
                    continue
                return int(p.pid)
    return None


def spawn_baseline() -> Target:
    port = free_port()
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "uvicorn", "bench.baseline:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += [*UVICORN_FLAGS, "--no-access-log", "--log-level", "warning", "--lifespan", "on"]
    cmd += ["--ws-max-size", str(64 * 1024), "--ws-ping-interval", "0"]
    proc, log_path = _popen(cmd, env)
    target = Target("baseline", f"http://127.0.0.1:{port}", proc.pid, flags=cmd[1:], proc=proc, log_path=log_path)
    _wait_ready(target)
    return target


def remote(url: str, dsn: str | None, secret_key: str | None, pid: int | None) -> Target:
    if not dsn or not secret_key:
        raise SystemExit("bench: with --url, pass --database-url and --secret-key (seeding and tokens need them)")
    return Target("messenger", url.rstrip("/"), pid, dsn, secret_key, flags=["(external server)"])
