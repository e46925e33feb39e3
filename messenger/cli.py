"""`messenger serve | migrate | worker | admin | backup | restore`: the entry points (see the Procfile).

Layer: infrastructure (the process entry points).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import NoReturn

from . import backup, cli_admin, cli_search, db, embedded, logs
from . import settings as settings_mod


def _logging(level: str) -> None:
    logs.configure(level)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _build_web_client(log: logging.Logger) -> None:
    """A source checkout has no built client; build it once when Node.js is there.

    Wheels ship the built client (web/hatch_build.py), so this only runs for `uv run messenger
    serve` in a checkout. Without npm the server still starts and `/` says how to build it.
    """
    import shutil
    import subprocess
    from pathlib import Path

    web = Path(__file__).resolve().parent.parent / "web"
    if (Path(__file__).resolve().parent / "_web").is_dir() or (web / "dist" / "index.html").is_file():
        return
    npm = shutil.which("npm")
    if npm is None or not (web / "package-lock.json").is_file():
        return
    import time

    log.info("building the web client once (npm ci && npm run build in %s); this takes a minute or two", web)
    started = time.monotonic()
    try:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=web, check=True, capture_output=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        log.warning("web client build failed (the API still runs): %s", exc.stderr.decode(errors="replace")[-2000:])
        return
    log.info("web client built in %.0f s (web/dist)", time.monotonic() - started)


def migrate_at_start(dsn: str, command: str) -> bool:
    """Apply pending migrations (as Synapse does at start); False after printing why not."""
    try:
        applied = asyncio.run(db.migrate(dsn))
    except db.MigrationError as exc:
        print(f"messenger {command}: {exc}", file=sys.stderr)
        return False
    if applied:
        logging.getLogger("messenger").info("applied migration(s) %s", applied)
    return True


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .httpd import protocol_options, raise_descriptor_limit

    # Logging first, so what loading the settings says (a generated SECRET_KEY) is formatted too.
    _logging("INFO")
    settings = settings_mod.load()
    _logging(settings.log_level)
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if args.workers > 1 and settings.redis_url is None:
        print(
            "messenger: --workers > 1 needs REDIS_URL: without it fan-out, presence and rate limits are "
            "per process, so clients on different workers would not see each other.",
            file=sys.stderr,
        )
        return 2
    if not args.no_web_build:
        _build_web_client(logging.getLogger("messenger"))
    pg = None
    if settings.database_url is None:
        # Start the embedded database here, in the parent, so every worker shares it and it
        # is stopped exactly once when the server exits.
        pg = embedded.start(settings.data_dir)
        if not migrate_at_start(pg.dsn, "serve"):
            pg.stop()
            return 2
        os.environ["DATABASE_URL"] = pg.dsn
        logging.getLogger("messenger").info(
            "embedded default: everything is kept in %s (back it up with `messenger backup DIR`)", settings.data_dir
        )
    elif not args.no_migrate and not migrate_at_start(settings.database_url, "serve"):
        return 2
    # uvicorn re-raises the signal that stopped it once it has shut down; with the default
    # SIGTERM disposition that would kill us before the `finally` stops the embedded database.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    raise_descriptor_limit()
    try:
        uvicorn.run(
            "messenger.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            loop="uvloop",
            **protocol_options(),
            lifespan="on",
            access_log=False,
            log_level=settings.log_level.lower(),
            # Ours (messenger/logs.py) is the one formatter: uvicorn's loggers propagate to it.
            log_config=None,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            timeout_graceful_shutdown=10,
        )
    finally:
        if pg is not None:
            pg.stop()
    return 0


def migrate(args: argparse.Namespace) -> int:
    settings = settings_mod.load()
    _logging(settings.log_level)
    if settings.database_url is None:
        print(
            "messenger migrate: DATABASE_URL is not set (the embedded default migrates itself at start)",
            file=sys.stderr,
        )
        return 2
    try:
        applied = asyncio.run(db.migrate(settings.database_url))
    except db.MigrationError as exc:
        print(f"messenger migrate: {exc}", file=sys.stderr)
        return 2
    print(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else ""))
    return 0


def worker_options(parser: argparse.ArgumentParser) -> None:
    """The options of `messenger worker`, which `python -m workers` reads again (workers/main.py)."""
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    parser.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")


def worker(options: list[str]) -> NoReturn:
    """Become `python -m workers` with the options `messenger worker` was given (already checked).

    workers/ is the layer above messenger/ (it imports the job registry and the settings), so
    messenger does not import it, not even here: the process is replaced instead. The worker is
    then this very process (the same pid for Procfile runners and supervisors): the signals it
    gets and the exit status it ends with are its own, with nothing in between to forward them.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "workers", *options])


def run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; a configuration error is one line on stderr and exit status 2."""
    try:
        return int(command(args))
    except settings_mod.SettingsError as exc:
        print(f"messenger: configuration error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="messenger", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the HTTP/WebSocket server")
    p.add_argument("--host", default=None, help="listen address (default $HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="listen port (default $PORT or 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (needs REDIS_URL when > 1)")
    p.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from --forwarded-allow-ips")
    p.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    p.add_argument(
        "--no-web-build", action="store_true", help="never build the web client on first run (source checkouts)"
    )
    p.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not apply pending migrations at start (deployments that run `messenger migrate` first)",
    )
    p.set_defaults(func=serve)
    p = sub.add_parser("migrate", help="apply pending database migrations (DATABASE_URL)")
    p.set_defaults(func=migrate)
    p = sub.add_parser("worker", help="run the background job worker (arq; needs REDIS_URL)")
    worker_options(p)
    # Passed on as they were written, so an option added to worker_options needs nothing here.
    p.set_defaults(func=lambda args: worker(words[words.index("worker") + 1 :]))
    cli_admin.add_commands(sub)
    cli_search.add_commands(sub)
    backup.add_commands(sub)
    args = parser.parse_args(words)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
