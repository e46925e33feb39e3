"""Migrations: the server migrates itself, records checksums, refuses what it cannot run, repairs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest

from messenger import db as dbmod

from .rig import base_env, create_database, drop_database, running_server


@pytest.fixture
async def fresh() -> AsyncIterator[str]:
    name, dsn = await create_database()
    try:
        yield dsn
    finally:
        await drop_database(name)


async def _as_old_release(dsn: str) -> None:
    """A database migrated to 0005 by a release that kept no checksums and whose 0004 lacked
    the avatar URL function (it was added to the file after some databases had applied it)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, path in dbmod.migration_files():
            if version <= 5:
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        await conn.execute("DROP FUNCTION media_avatar_url(bigint)")
    finally:
        await conn.close()


def _run(command: str, dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = base_env(DATABASE_URL=dsn)
    return subprocess.run(
        [sys.executable, "-m", "messenger", command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_serve_migrates_an_empty_database_itself(fresh: str) -> None:
    async with running_server(base_env(DATABASE_URL=fresh)):
        conn = await asyncpg.connect(fresh)
        try:
            versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
        finally:
            await conn.close()
    assert versions == [v for v, _, _ in dbmod.migration_files()]


async def test_no_migrate_leaves_the_database_alone(fresh: str) -> None:
    result = await asyncio.to_thread(_run, "worker", fresh, "--no-migrate")
    conn = await asyncpg.connect(fresh)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()
    assert result.returncode == 2  # no REDIS_URL: the worker refuses, after not migrating


async def test_every_applied_migration_records_its_checksum(fresh: str) -> None:
    await dbmod.migrate(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        recorded = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT * FROM schema_migrations")}
    finally:
        await conn.close()
    assert recorded == {v: dbmod.checksum(p) for v, _, p in dbmod.migration_files()}


async def test_a_schema_newer_than_the_code_stops_serve_with_status_2(fresh: str) -> None:
    await dbmod.migrate(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')")
    finally:
        await conn.close()
    result = await asyncio.to_thread(_run, "serve", fresh, "--no-web-build", "--port", "0")
    assert result.returncode == 2
    assert "newer than the code" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_a_migration_changed_after_it_was_applied_is_refused(fresh: str) -> None:
    await dbmod.migrate(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        await conn.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 3")
    finally:
        await conn.close()
    result = await asyncio.to_thread(_run, "serve", fresh, "--no-web-build", "--port", "0")
    assert result.returncode == 2
    assert "0003_chats.sql was changed after it was applied" in result.stderr


async def test_an_old_database_gets_checksums_on_first_sight(fresh: str) -> None:
    await _as_old_release(fresh)
    await dbmod.migrate(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        recorded = await conn.fetchval("SELECT checksum FROM schema_migrations WHERE version = 4")
    finally:
        await conn.close()
    assert recorded == dbmod.checksum(dbmod.SCHEMA_DIR / "0004_media.sql")


async def test_an_old_database_gets_the_avatar_url_function_back(fresh: str) -> None:
    await _as_old_release(fresh)
    await dbmod.migrate(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        assert await conn.fetchval("SELECT media_avatar_url(7)") == "/v1/media/7/avatar"
    finally:
        await conn.close()


async def test_existing_direct_chats_lose_their_owner(fresh: str) -> None:
    await _as_old_release(fresh)
    conn = await asyncpg.connect(fresh)
    try:
        users = [
            await conn.fetchval(
                "INSERT INTO users (email, username, display_name, password_hash)"
                " VALUES ($1, $1, $1, 'x') RETURNING id",
                name,
            )
            for name in ("ann", "bob")
        ]
        direct = await conn.fetchval("INSERT INTO chats (kind, direct_key) VALUES ('direct', '1:2') RETURNING id")
        group = await conn.fetchval("INSERT INTO chats (kind, title) VALUES ('group', 'g') RETURNING id")
        for chat_id in (direct, group):
            await conn.execute(
                "INSERT INTO chat_members (chat_id, user_id, role) VALUES ($1, $2, 'owner'), ($1, $3, 'member')",
                chat_id,
                *users,
            )
        await dbmod.migrate(fresh)
        roles = await conn.fetch("SELECT chat_id, role FROM chat_members ORDER BY chat_id, user_id")
    finally:
        await conn.close()
    assert [(r["chat_id"], r["role"]) for r in roles] == [
        (direct, "member"),
        (direct, "member"),
        (group, "owner"),
        (group, "member"),
    ]


async def test_events_persisted_before_0011_are_rendered_from_current_rows(fresh: str) -> None:
    conn = await asyncpg.connect(fresh)
    try:
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
        )
        for version, name, path in dbmod.migration_files():
            if version < 11:
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        user = await conn.fetchval(
            "INSERT INTO users (email, username, display_name, password_hash) VALUES ('u', 'u', 'u', 'x') RETURNING id"
        )
        chat = await conn.fetchval("INSERT INTO chats (kind, title) VALUES ('group', 'g') RETURNING id")
        ids = []
        for seq, text in ((1, "deleted secret"), (2, "old wording")):
            ids.append(
                await conn.fetchval(
                    "INSERT INTO messages (chat_id, seq, sender_id, client_msg_id, text)"
                    " VALUES ($1, $2::bigint, $3, 'c' || $2::bigint, $4) RETURNING id",
                    chat,
                    seq,
                    user,
                    text,
                )
            )
            payload = (
                f'{{"message":{{"id":{ids[-1]},"chat_id":{chat},"seq":{seq},"text":"{text}",'
                f'"attachments":[],"mentions":[],"edited_at":null,"deleted":false}}}}'
            )
            await conn.execute(
                "INSERT INTO events (pos, chat_id, type, payload) VALUES ($1, $2, 'receive_message', $3)",
                seq,
                chat,
                payload.encode(),
            )
        await conn.execute("UPDATE messages SET text = NULL, deleted_at = now() WHERE id = $1", ids[0])
        await conn.execute("UPDATE messages SET text = 'new wording', edited_at = now() WHERE id = $1", ids[1])
        await dbmod.migrate(fresh)
        stored = [bytes(r["payload"]).decode() for r in await conn.fetch("SELECT payload FROM events ORDER BY pos")]
    finally:
        await conn.close()
    assert "deleted secret" not in stored[0] and '"deleted": true' in stored[0]
    assert "old wording" not in stored[1] and "new wording" in stored[1]
