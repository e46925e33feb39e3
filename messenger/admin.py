"""Server administration: server admins, deactivation, the user list, moderation and stats.

Layer: domain (takes the database and ports, never a Request or the service container).

The `is_admin` flag is only ever set by the CLI (`messenger admin grant`), never over HTTP, so a
stolen admin token cannot mint more admins. The same functions serve the admin API and the CLI;
they take the database plus whatever ends sessions (`SessionEnder`): the hub inside a server
process, or `NotifyEnder` (PostgreSQL NOTIFY, which every node listens to:
messenger/realtime/session_watch.py) from the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import asyncpg
import msgspec

from . import messages, passwords
from .db import Database, Q, rows
from .errors import Conflict, Forbidden, NotFound
from .model import User
from .ports import Publisher

log = logging.getLogger("messenger.admin")

LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


class SessionEnder(Protocol):
    async def end_sessions(self, session_ids: Sequence[int]) -> None: ...


class AdminUser(User, frozen=True):
    """A user as a server admin sees them."""

    email: str | None
    is_admin: bool
    deactivated_at: datetime | None
    last_seen_at: datetime | None


class AdminUserPage(msgspec.Struct, frozen=True):
    users: list[AdminUser]
    next_cursor: str | None


class Stats(msgspec.Struct, frozen=True):
    users: int
    active_users_24h: int
    chats: int
    messages: int
    messages_24h: int
    # Open WebSockets on the node that answered (each node counts its own; see /metrics).
    sockets: int


class NoSuchUser(NotFound):
    code, message = "user_not_found", "No such user"


async def require_admin(db: Database, user_id: int) -> None:
    if not await db.fetchval(Q.admin_flag, user_id):
        raise Forbidden("Server admins only", code="not_admin")


async def user_id_by_username(db: Database, username: str) -> int:
    user_id: int | None = await db.fetchval(Q.admin_user_by_username, username.removeprefix("@"))
    if user_id is None:
        raise NoSuchUser(f"No user named {username!r}")
    return user_id


# -- accounts (CLI) ----------------------------------------------------------------------------


async def create_user(db: Database, *, email: str, username: str, password: str, admin: bool, rounds: int) -> int:
    """A verified account (the operator vouches for the address); returns its id."""
    password_hash = await passwords.hash_password(password, rounds)
    try:
        user_id: int = await db.fetchval(Q.admin_insert_user, email, username, password_hash, admin)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "users_username_key":
            raise Conflict(f"The username {username!r} is taken", code="username_taken") from None
        raise Conflict(f"An account with the email address {email!r} exists", code="email_taken") from None
    return user_id


async def set_password(db: Database, ender: SessionEnder, user_id: int, password: str, *, rounds: int) -> None:
    """New password; every session ends (as after a reset), so an intruder is logged out too."""
    password_hash = await passwords.hash_password(password, rounds)
    async with db.transaction() as conn:
        await conn.execute(Q.admin_set_password, user_id, password_hash)
        ended = [r["id"] for r in await conn.fetch(Q.end_user_sessions, user_id, "password_set")]
    await ender.end_sessions(ended)


async def set_admin(db: Database, user_id: int, admin: bool) -> None:
    if await db.fetchval(Q.admin_set_flag, user_id, admin) is None:
        raise NoSuchUser()


# -- deactivation --------------------------------------------------------------------------------


async def deactivate(db: Database, ender: SessionEnder, user_id: int, reason: str | None) -> None:
    """Login is refused from now on; every session ends and its sockets close (1008)."""
    async with db.transaction() as conn:
        if await conn.fetchval(Q.admin_deactivate, user_id, reason) is None:
            raise NoSuchUser()
        ended = [r["id"] for r in await conn.fetch(Q.end_user_sessions, user_id, "deactivated")]
    await ender.end_sessions(ended)


async def reactivate(db: Database, user_id: int) -> None:
    if await db.fetchval(Q.admin_reactivate, user_id) is None:
        raise NoSuchUser()


# -- the admin API's reads and moderation -----------------------------------------------------


async def list_users(db: Database, q: str, *, cursor: int | None, limit: int) -> AdminUserPage:
    records = await db.fetch(Q.admin_list_users, q.lower(), cursor if cursor is not None else 2**63 - 1, limit + 1)
    found = rows(AdminUser, records[:limit])
    return AdminUserPage(found, str(found[-1].id) if len(records) > limit else None)


async def stats(db: Database, sockets: int) -> Stats:
    record = await db.fetchrow(Q.admin_stats)
    assert record is not None
    return Stats(**record, sockets=sockets)


async def delete_message(db: Database, publisher: Publisher, message_id: int) -> None:
    """Delete any message, in any chat (direct ones included), as that chat's owner would."""
    chat_id = await db.fetchval(Q.admin_message_chat, message_id)
    if chat_id is None:
        raise NotFound("Message not found")
    await messages.delete(db, publisher, 0, chat_id, message_id, moderator=True)


class NotifyEnder:
    """Closes the sockets of ended sessions from outside a server process (the CLI).

    PostgreSQL NOTIFY reaches every node (messenger/session_watch.py); a payload holds at most
    8000 bytes, so the ids go in chunks.
    """

    CHUNK = 400

    def __init__(self, db: Database) -> None:
        self.db = db

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        ids = list(session_ids)
        for start in range(0, len(ids), self.CHUNK):
            await self.db.execute(Q.admin_notify_end_sessions, ",".join(map(str, ids[start : start + self.CHUNK])))
