"""Sessions ended outside a server process (`messenger admin deactivate`/`set-password`).

The CLI has no hub and maybe no Redis, but it always has the database: it ends the sessions in
a transaction and then sends `NOTIFY messenger_end_sessions '<id>,<id>,...'`. Every node LISTENs
on one pooled connection and closes the sockets of those sessions that it holds (1008), so the
sockets close at once on every node, with or without Redis.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..db import Database
from .broker import EndSessions
from .hub import Hub

log = logging.getLogger("messenger.sessions")

# The channel sql/admin.sql's `admin_notify_end_sessions` notifies.
END_SESSIONS_CHANNEL = "messenger_end_sessions"


@contextlib.asynccontextmanager
async def watching(db: Database, hub: Hub) -> AsyncIterator[None]:
    def on_notify(conn: Any, pid: int, channel: str, payload: object) -> None:
        ids = [int(part) for part in str(payload).split(",") if part.isdigit()]
        if ids:
            # Local only: every node gets the same notification from PostgreSQL itself.
            hub.on_signal(EndSessions("database", ids))

    async with db.connection() as conn:
        await conn.add_listener(END_SESSIONS_CHANNEL, on_notify)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone at shutdown
                await conn.remove_listener(END_SESSIONS_CHANNEL, on_notify)
