"""`messenger backup DIR` / `messenger restore DIR` for the embedded default.

A backup is a directory:
- `database.dump`: `pg_dump --format=custom` of the embedded database. pg_dump reads one
  snapshot, so the dump is consistent while the server keeps running;
- `media/`: the local media store, copied after the dump. Stored objects are written once
  under random keys and never changed, so every medium the dump knows is there (an upload
  finished after the dump is an orphan the cleanup job removes after restore);
- `secret_key`: the generated SECRET_KEY (without it, every token and signed URL would die);
- `backup.json`: what and when.

`restore` wants a data directory without a database (a fresh MESSENGER_DATA_DIR): it starts the
embedded PostgreSQL there, restores the dump, applies newer migrations, then puts the media and
the secret key in place. With DATABASE_URL or S3 the operator's own tools do this job; README.md
("Backups") gives the commands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from . import db, embedded
from . import settings as settings_mod

DUMP = "database.dump"
MANIFEST = "backup.json"


class BackupError(Exception):
    pass


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backup", help="back up the embedded default (database, media, secret key) into DIR")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=run_backup)
    p = sub.add_parser("restore", help="restore a backup from DIR into a fresh MESSENGER_DATA_DIR")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    return _run(lambda settings: backup(settings, args.dir))


def run_restore(args: argparse.Namespace) -> int:
    # Loading the settings generates a SECRET_KEY in the fresh data dir and warns about it; the
    # restore puts the backup's key in its place, so that warning would only mislead.
    logging.getLogger("messenger.settings").setLevel(logging.ERROR)
    return _run(lambda settings: restore(settings, args.dir))


def _run(action: Callable[[settings_mod.Settings], str]) -> int:
    try:
        settings = settings_mod.load()
        _embedded_only(settings)
        print(action(settings))
    except BackupError as exc:
        print(f"messenger: {exc}", file=sys.stderr)
        return 1
    return 0


def _embedded_only(settings: settings_mod.Settings) -> None:
    if settings.database_url is not None or settings.s3_enabled:
        raise BackupError(
            "backup and restore handle the embedded default only; with DATABASE_URL or S3 use pg_dump/pg_restore "
            "and your bucket's tools (README.md, section Backups)"
        )


def backup(settings: settings_mod.Settings, target: Path) -> str:
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty; back up into a new directory")
    target.mkdir(parents=True, exist_ok=True)
    pg = embedded.start(settings.data_dir)
    try:
        schema = asyncio.run(_schema_version(pg.dsn))
        _pg(["pg_dump", "--format=custom", "--no-owner", f"--file={target / DUMP}", pg.dsn])
    finally:
        pg.stop()
    media = settings.data_dir / "media"
    files = 0
    if media.is_dir():
        shutil.copytree(media, target / "media", ignore=shutil.ignore_patterns("*.upload"))
        files = sum(1 for p in (target / "media").rglob("*") if p.is_file())
    key = settings.data_dir / "secret_key"
    if key.is_file():
        shutil.copy2(key, target / "secret_key")
        os.chmod(target / "secret_key", 0o600)
    manifest = {
        "created_at": datetime.now(UTC).isoformat(),
        "schema_version": schema,
        "media_files": files,
        "secret_key": key.is_file(),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return f"backed up {settings.data_dir} to {target}: database (schema {schema:04d}), {files} media file(s)"


def restore(settings: settings_mod.Settings, source: Path) -> str:
    source = source.resolve()
    if not (source / DUMP).is_file():
        raise BackupError(f"{source} holds no {DUMP}; is it a `messenger backup` directory?")
    data = settings.data_dir
    if (data / "pg" / "PG_VERSION").exists() or (data / "pg-system" / "PG_VERSION").exists():
        raise BackupError(f"{data} already has a database; restore into a fresh MESSENGER_DATA_DIR")
    if (data / "media").is_dir() and any((data / "media").iterdir()):
        raise BackupError(f"{data}/media is not empty; restore into a fresh MESSENGER_DATA_DIR")
    data.mkdir(parents=True, exist_ok=True)
    if (source / "secret_key").is_file():
        # Settings generated a key when they loaded (the data dir had none); the backup's wins.
        shutil.copy2(source / "secret_key", data / "secret_key")
        os.chmod(data / "secret_key", 0o600)
    pg = embedded.start(data)
    try:
        _pg(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={pg.dsn}", str(source / DUMP)])
        applied = asyncio.run(db.migrate(pg.dsn))
    finally:
        pg.stop()
    if (source / "media").is_dir():
        shutil.copytree(source / "media", data / "media", dirs_exist_ok=True)
    newer = f", then {len(applied)} newer migration(s)" if applied else ""
    return f"restored {source} into {data}{newer}; start it with `messenger serve`"


async def _schema_version(dsn: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))
    finally:
        await conn.close()


def _pg(argv: list[str]) -> None:
    exe = embedded.client_binary(argv[0])
    done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")
