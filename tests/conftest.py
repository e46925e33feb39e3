"""Session-wide services for the suite: one fresh database, an SMTP sink and a server process.

Each test leaves no state behind: every table except schema_migrations is truncated after it.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from messenger import db as dbmod

from .rig import (
    REDIS_URL,
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
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_database(db: asyncpg.Pool) -> AsyncIterator[None]:
    yield
    pool = db
    tables = await pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
    )
    if not tables:
        return
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    # The session's server runs its jobs in-process: a notification job of the test just ended
    # may still hold row and foreign-key locks while TRUNCATE takes its table locks one by one,
    # and PostgreSQL may pick the TRUNCATE as the deadlock victim. Once it is rolled back the job
    # finishes, so trying again is enough.
    for attempt in range(5):
        try:
            await pool.execute(f"TRUNCATE {names} CASCADE")
            break
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    # The event stream's single counter row is part of the schema, not test data.
    await pool.execute("INSERT INTO event_stream (id, pos) VALUES (1, 0) ON CONFLICT DO NOTHING")
