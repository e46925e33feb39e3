"""Plain async factories: rows straight into PostgreSQL, tokens minted with the server's key.

Tests that are about registration and login go through the API; everything else starts from
these so each test states only what it is about.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from redis.asyncio import Redis

from messenger import mail
from messenger.db import Database
from messenger.mail import Mailer
from messenger.passwords import hash_sync
from messenger.realtime.notifier import RedisNotifier
from messenger.settings import Settings
from messenger.tasks import JobContext
from messenger.tokens import TokenSigner

from .rig import REDIS_URL, SECRET_KEY

PASSWORD = "correct horse battery"
_signer = TokenSigner(SECRET_KEY, ttl=900)
_password_hash = hash_sync(PASSWORD, 4)
_counter = itertools.count(1)


@dataclass
class User:
    id: int
    username: str
    email: str
    display_name: str
    session_id: int
    token: str
    password: str = PASSWORD

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def make_user(
    db: asyncpg.Pool,
    *,
    username: str | None = None,
    email: str | None = None,
    display_name: str = "",
    verified: bool = True,
) -> User:
    n = next(_counter)
    username = username or f"user{n}_{uuid.uuid4().hex[:6]}"
    email = email or f"{username}@example.com"
    user_id = await db.fetchval(
        """INSERT INTO users (email, username, display_name, password_hash, email_verified_at)
           VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END) RETURNING id""",
        email,
        username,
        display_name or username.title(),
        _password_hash,
        verified,
    )
    session_id = await db.fetchval(
        "INSERT INTO sessions (user_id, user_agent) VALUES ($1, 'factory') RETURNING id", user_id
    )
    return User(
        user_id,
        username,
        email,
        display_name or username.title(),
        session_id,
        _signer.issue_access(user_id, session_id),
    )


def access_token(user_id: int, session_id: int, *, now: float | None = None) -> str:
    return _signer.issue_access(user_id, session_id, now=now)


@contextlib.asynccontextmanager
async def job_context(settings: Settings, dsn: str, *, mailer: Mailer | None = None) -> AsyncIterator[JobContext]:
    """What a job runs with in the worker: a pool of its own and the Redis notifier (its client
    connects only if a job looks up presence); both closed after."""
    db = await Database.connect(dsn, min_size=1, max_size=2)
    redis = Redis.from_url(REDIS_URL)
    try:
        notifier = RedisNotifier(redis, settings.redis_prefix)
        yield JobContext(settings, db, mailer or mail.from_settings(settings), notifier)
    finally:
        await redis.aclose()
        await db.close()
