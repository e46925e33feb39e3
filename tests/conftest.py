"""Session-wide services for the suite: one fresh database, an SMTP sink and a server process.

Each test leaves no state behind: every row of every table except schema_migrations is deleted
after it.
"""

from __future__ import annotations

import asyncio
import graphlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from messenger import db as dbmod

from .rig import (
    REDIS_URL,
    TLS,
    Mailbox,
    Server,
    base_env,
    create_database,
    drop_database,
    running_server,
    smtp_sink,
)


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[str]:
    name, dsn = await create_database()
    try:
        await dbmod.migrate(dsn)
        yield dsn
    finally:
        await drop_database(name)


@pytest.fixture(scope="session")
async def db(database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database, min_size=1, max_size=10)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Mailbox, str]]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, str]) -> Iterator[Mailbox]:
    box = smtp[0]
    box.messages.clear()
    yield box
    box.messages.clear()


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"mtest:{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="session")
def server_env(database: str, smtp: tuple[Mailbox, str]) -> dict[str, str]:
    """The environment of the default test server: real PostgreSQL and SMTP, no Redis."""
    return base_env(
        DATABASE_URL=database,
        SMTP_URL=smtp[1],
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-test-"),
    )


@pytest.fixture(scope="session")
def redis_env(server_env: dict[str, str], redis_prefix: str) -> dict[str, str]:
    """The environment of a node of a Redis-backed cluster (same database and SMTP)."""
    return {**server_env, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": redis_prefix}


@pytest.fixture(scope="session")
async def server(server_env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server(server_env) as srv:
        yield srv


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=TLS) as c:
        yield c


@pytest.fixture(scope="session")
async def _tables_children_first(db: asyncpg.Pool) -> str:
    """Every table except schema_migrations, each after the tables whose foreign keys point at it,
    so deleting in this order never trips a foreign key that does not cascade."""
    tables = await db.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
    )
    edges = await db.fetch(
        """SELECT child.relname AS child, parent.relname AS parent
           FROM pg_constraint c
           JOIN pg_class child ON child.oid = c.conrelid
           JOIN pg_class parent ON parent.oid = c.confrelid
           WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace"""
    )
    referenced_by: dict[str, set[str]] = {t["tablename"]: set() for t in tables}
    for edge in edges:
        if edge["child"] != edge["parent"]:  # one DELETE takes care of a table's references to itself
            referenced_by[edge["parent"]].add(edge["child"])
    return ", ".join(f'"{name}"' for name in graphlib.TopologicalSorter(referenced_by).static_order())


@pytest.fixture(autouse=True)
async def _clean_database(db: asyncpg.Pool, _tables_children_first: str) -> AsyncIterator[None]:
    yield
    names = _tables_children_first
    if not names:
        return
    # DELETE, not TRUNCATE: TRUNCATE gives every table and index new files, which cost over
    # 100 ms after each test; deleting a test's few rows costs a few. The lock first waits for
    # transactions still writing (a job of the test just ended) as TRUNCATE would, so their rows
    # are visible to the DELETEs and none survive into the next test.
    deletes = "; ".join(f"DELETE FROM {name}" for name in names.split(", "))
    # The session's server runs its jobs in-process: such a job may hold row and foreign-key
    # locks while the LOCK takes its table locks one by one, and PostgreSQL may pick the cleanup
    # as the deadlock victim. Once it is rolled back the job finishes, so trying again is enough.
    for attempt in range(5):
        try:
            async with db.acquire() as conn, conn.transaction():
                await conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
                await conn.execute(deletes)
                # The event stream's single counter row is part of the schema, not test data; put
                # back in the same transaction, no reader ever finds it missing.
                await conn.execute("INSERT INTO event_stream (id, pos) VALUES (1, 0)")
            break
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
