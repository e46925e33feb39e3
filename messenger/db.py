"""PostgreSQL access: the asyncpg pool, named SQL statements and forward-only migrations.

Layer: infrastructure.

Every statement the app runs lives in `sql/<domain>.sql` under a `-- name: x` header (as in
Synapse's storage layer, each statement has a name), loaded once at import into `Q`, whose
attributes `queries.py` declares (see statements.py), so a misspelt name fails type-checking.
Schema changes are numbered files in `sql/schema/`, applied in order under an advisory lock so
that several nodes starting at once do not race.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import msgspec

from .queries import Queries
from .statements import SQL_DIR, load

log = logging.getLogger("messenger.db")

T = TypeVar("T", bound=msgspec.Struct)

# What a pool hands out; domain code annotates its `conn` parameters with this.
if TYPE_CHECKING:
    Connection = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.pool.PoolConnectionProxy

SCHEMA_DIR = SQL_DIR / "schema"

# Any constant works; it only has to be the same on every node.
MIGRATION_LOCK = 0x6D657373  # "mess"


def _queries() -> Queries:
    """Every named statement, as typed attributes: `Q.<name>` is the SQL text."""
    sql = {name: text for statements in load(SQL_DIR).values() for name, text in statements.items()}
    declared = set(Queries.__struct_fields__)
    if set(sql) != declared:
        missing, extra = sorted(set(sql) - declared), sorted(declared - set(sql))
        raise RuntimeError(
            f"messenger/queries.py is stale (not declared: {missing}, gone from sql/: {extra}); "
            "run `python -m messenger.statements`"
        )
    return Queries(**sql)


Q = _queries()


def row(cls: type[T], record: asyncpg.Record) -> T:
    """Decode one row into a Struct by column name (columns must match the Struct's fields)."""
    return cls(**record)


def rowcount(status: str) -> int:
    """The row count of a command status such as `DELETE 3` (what `Database.execute` returns)."""
    return int(status.split()[-1])


def rows(cls: type[T], records: Iterable[asyncpg.Record]) -> list[T]:
    return [cls(**r) for r in records]


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Every timestamp goes out as UTC; the server's own time zone must not leak into the API.
    await conn.execute("SET TIME ZONE 'UTC'")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pool `reset` that sends nothing: the connection goes back as it is.

    asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, `CLOSE ALL`, advisory unlocks) is one more
    round trip on every release, and its `RESET ALL` undoes `_init_connection`'s time zone. An
    open transaction is still rolled back by the pool itself before this is called. Only for
    pools whose users leave no session state behind (the group-commit writer's)."""


class Database:
    """A connection pool plus the helpers the domain modules use."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 20, reset_session: bool = True) -> Database:
        """`reset_session=False` skips the reset round trip on release (see `_keep_session`)."""
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            init=_init_connection,
            reset=None if reset_session else _keep_session,
            command_timeout=60,
        )
        assert pool is not None
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn:
            yield conn

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self.pool.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self.pool.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.pool.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        return await self.pool.execute(sql, *args)


def _is_open(conn: Connection) -> bool:
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        # asyncpg handed it back to the pool itself when it closed (pool.release is a no-op).
        return False


class HeldConnections(Database):
    """A pool whose connections are acquired once and kept: `connection` hands out one from a
    free list and takes it back, without the pool's acquire and release.

    For the group-commit writer, which takes a connection for every batch: the pool's release
    (its reset hook, a shielded task and an inactivity timer) and acquire were ~4 % of the
    server's samples at 1,000 msgs/s in batches of one or two (bench/README.md). A connection
    goes back to the pool when a use of it ends in an exception (the pool then rolls back,
    waits out a cancelled query or closes it, as on any release) or when found closed; the
    next use acquires again, and the pool reconnects. Only for users that leave no settings
    behind on a connection (nothing resets them, as with `reset_session=False`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._free: list[Connection] = []

    @classmethod
    async def hold(cls, dsn: str, *, size: int) -> HeldConnections:
        pool = await asyncpg.create_pool(
            dsn, min_size=size, max_size=size, init=_init_connection, reset=_keep_session, command_timeout=60
        )
        assert pool is not None
        return cls(pool)

    async def close(self) -> None:
        free, self._free = self._free, []
        for conn in free:
            await self.pool.release(conn)
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        conn = None
        while self._free:
            held = self._free.pop()
            if _is_open(held):
                conn = held
                break
            await self.pool.release(held)
        if conn is None:
            conn = await self.pool.acquire()
        try:
            yield conn
        except BaseException:
            await self.pool.release(conn)
            raise
        if _is_open(conn) and not conn.is_in_transaction():
            self._free.append(conn)
        else:
            await self.pool.release(conn)


class MigrationError(RuntimeError):
    """The database cannot be migrated by this code: one line an operator can act on."""


def migration_files() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(SCHEMA_DIR.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append((int(number), name, path))
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {SCHEMA_DIR}")
    return found


def checksum(path: Path) -> str:
    """sha256 of a migration file's bytes: what was applied must stay what is shipped."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def migrate(dsn: str) -> list[int]:
    """Apply pending migrations; returns the versions applied. Safe to run on many nodes at once.

    Raises MigrationError when the database has migrations this code does not know (a newer
    release ran against it) or when a shipped migration differs from the one applied.
    """
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            return await _migrate_locked(conn)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    finally:
        await conn.close()


async def _migrate_locked(conn: asyncpg.Connection) -> list[int]:
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version integer PRIMARY KEY,
               name text NOT NULL,
               applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    # Databases migrated before checksums were recorded get theirs on first sight (below).
    await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
    files = migration_files()
    shipped = {version: (name, path) for version, name, path in files}
    done = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}
    unknown = sorted(v for v in done if v not in shipped)
    if unknown:
        raise MigrationError(
            f"the database has migration(s) {', '.join(f'{v:04d}' for v in unknown)} that this release "
            f"does not ship (it knows up to {max(shipped, default=0):04d}): the schema is newer than the code; "
            "run a release at least as new as the one that migrated it"
        )
    for version, recorded in done.items():
        name, path = shipped[version]
        current = checksum(path)
        if recorded is None:
            await conn.execute("UPDATE schema_migrations SET checksum = $2 WHERE version = $1", version, current)
        elif recorded != current:
            raise MigrationError(
                f"migration {path.name} was changed after it was applied (checksum {recorded[:12]} recorded, "
                f"{current[:12]} shipped); restore the applied version and put changes in a new numbered migration"
            )
    applied_now: list[int] = []
    for version, name, path in files:
        if version in done:
            continue
        async with conn.transaction():
            await conn.execute(path.read_text())
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                version,
                name,
                checksum(path),
            )
        log.debug("applied migration %04d_%s", version, name)
        applied_now.append(version)
    if applied_now:
        log.info("database schema: applied %d migration(s), now at %04d", len(applied_now), applied_now[-1])
    return applied_now
