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


def _migrate_at_start(dsn: str, command: str) -> bool:
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

    from .httpd import MAX_HEADER_BYTES, BoundedHttpToolsProtocol, RawWebSocketProtocol, raise_descriptor_limit

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
        if not _migrate_at_start(pg.dsn, "serve"):
            pg.stop()
            return 2
        os.environ["DATABASE_URL"] = pg.dsn
        logging.getLogger("messenger").info(
            "embedded default: everything is kept in %s (back it up with `messenger backup DIR`)", settings.data_dir
        )
    elif not args.no_migrate and not _migrate_at_start(settings.database_url, "serve"):
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
            # httptools, with bounded headers, header deadline, Host check and connection cap.
            http=BoundedHttpToolsProtocol,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            # websockets-sansio, with the raw socket extension the gateway writes frames through.
            ws=RawWebSocketProtocol,
            ws_max_size=64 * 1024,
            # Compression would deflate every fan-out frame once per recipient: the opposite of
            # "encode once, write many". Frames are small JSON; the CPU is better spent elsewhere.
            ws_per_message_deflate=False,
            ws_ping_interval=None,  # the app sends its own randomized heartbeats
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


def worker(args: argparse.Namespace) -> int:
    # The worker (arq's runner and its WorkerSettings) is loaded only by the process that runs it.
    from workers.main import run_worker

    settings = settings_mod.load()
    _logging(settings.log_level)
    migrating = settings.database_url is not None and not args.no_migrate
    if migrating and not _migrate_at_start(str(settings.database_url), "worker"):
        return 2
    return run_worker(settings, burst=args.burst)


def main(argv: list[str] | None = None) -> int:
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
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--no-migrate", action="store_true", help="do not apply pending migrations at start")
    p.set_defaults(func=worker)
    cli_admin.add_commands(sub)
    cli_search.add_commands(sub)
    backup.add_commands(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except settings_mod.SettingsError as exc:
        print(f"messenger: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
