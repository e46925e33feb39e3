"""`messenger search reindex`: rebuild the search index of messages stored before migration 0007.

Those messages were indexed by PostgreSQL's own parser (`to_tsvector('simple', unaccent(text))`):
fine for spaced scripts, but Chinese or Japanese text only by whole runs, and words as the
database's locale sees them. This command re-indexes them the way the send path does, in batches
of one transaction each; progress is stored with every batch, so it may be stopped at any time
and run again to go on, also while the server runs (an edit in between wins). Works against
DATABASE_URL or the embedded default, like `messenger admin`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import db, search
from . import settings as settings_mod
from .cli_admin import database_url


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("search", help="message search maintenance (see `messenger search -h`)")
    cmds = p.add_subparsers(dest="search_command", required=True)
    c = cmds.add_parser(
        "reindex", help="re-index messages stored before migration 0007 (batched; resumes where it stopped)"
    )
    c.add_argument("--batch", type=int, default=search.REINDEX_BATCH, help="messages per transaction")
    c.set_defaults(func=reindex)


def reindex(args: argparse.Namespace) -> int:
    if args.batch < 1:
        print("messenger search: --batch must be at least 1", file=sys.stderr)
        return 2
    settings = settings_mod.load()
    with database_url(settings) as dsn:
        rewritten = asyncio.run(_reindex(dsn, args.batch))
    print(f"search index rebuilt: {rewritten} message(s) re-indexed")
    return 0


async def _reindex(dsn: str, batch: int) -> int:
    database = await db.Database.connect(dsn, min_size=1, max_size=1)
    rewritten = 0
    try:
        while True:
            progress = await search.reindex_batch(database, batch)
            rewritten += progress.rewritten
            if progress.done:
                return rewritten
            # Progress for long runs, on stderr so stdout stays the one result line.
            print(f"... up to message {progress.next_id} of {progress.upto_id}", file=sys.stderr)
    finally:
        await database.close()
