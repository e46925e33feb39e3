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
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

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

    def processes(self) -> list[psutil.Process]:
        """The server's Python processes (uvicorn parent and workers; no database)."""
        if self.pid is None:
            return []
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        out = []
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
        if self.db_pid is None:
            return None
        total = 0.0
        try:
            root = psutil.Process(self.db_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return None
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None:
            return ""
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self) -> None:
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
    workers: int = 1, *, extra_env: dict[str, str] | None = None, data_dir: Path | None = None
) -> Target:
    """`data_dir`: keep the server's data (the embedded PostgreSQL too) there, to reuse a seeded
    database in a later run; a fresh temporary directory otherwise."""
    from messenger import db as dbmod

    stops: list[Callable[[], None]] = []
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix="bench-messenger-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    dsn = os.environ.get("DATABASE_URL")
    db_pid = None
    if not dsn:
        from messenger import embedded

        pg = embedded.start(data_dir)
        stops.append(pg.stop)
        dsn = pg.dsn
        db_pid = _postmaster(data_dir)
    asyncio.run(dbmod.migrate(dsn))
    port = free_port()
    secret_key = secrets.token_urlsafe(32)
    lifted = str(10**9)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "SMTP_", "S3_"))}
    env.update(
        DATABASE_URL=dsn,
        SECRET_KEY=secret_key,
        PORT=str(port),
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
    if workers > 1 and not env.get("REDIS_URL"):
        raise SystemExit("bench: --workers > 1 needs REDIS_URL (messenger serve refuses otherwise)")
    if env.get("REDIS_URL"):
        env.setdefault("REDIS_PREFIX", f"bench:{secrets.token_hex(4)}:")
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "messenger", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-web-build"]
    cmd += ["--workers", str(workers)]
    proc, log_path = _popen(cmd, env)
    target = Target(
        "messenger",
        f"http://127.0.0.1:{port}",
        proc.pid,
        dsn,
        secret_key,
        flags=[*cmd[1:], "(uvicorn: ws=websockets-sansio http=httptools loop=uvloop)"],
        proc=proc,
        log_path=log_path,
        db_pid=db_pid,
        _stops=stops,
    )
    _wait_ready(target)
    return target


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
