"""Users: the public and own user objects, profile edits and prefix search.

Layer: domain. Other areas reuse `User` (the public object, on the ground floor in model.py)
and `public_by_ids` (one query for any number of ids) wherever a user is embedded, e.g. a
chat's member list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Annotated

import msgspec

from . import media, notifications
from .db import Database, Q, row, rows
from .errors import NotFound, Unprocessable
from .model import User

# Field rules, shared by the request Structs of registration and profile edits.
USERNAME_PATTERN = r"^[A-Za-z0-9_.]{3,32}$"
Username = Annotated[str, msgspec.Meta(pattern=USERNAME_PATTERN, description="3-32 of A-Z a-z 0-9 _ .")]
# Characters that make a name pose as another (bidi overrides/isolates reorder what follows;
# zero-width ones make two names look alike). Usernames exclude them by being ASCII; display
# names and chat titles exclude them explicitly (a regex character range, shared).
SPOOFING_CHARS = r"\u202a-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff"
# No control characters in a one-line name (and never NUL, which PostgreSQL text cannot hold).
_NAME_CHAR = rf"[^\x00-\x1f\x7f{SPOOFING_CHARS}]"
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern=rf"^{_NAME_CHAR}*[^\s\x00-\x1f\x7f{SPOOFING_CHARS}]{_NAME_CHAR}*$"
    ),
]
Bio = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00]*$")]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f.]+$")]

SEARCH_LIMIT_DEFAULT = 20
SEARCH_LIMIT_MAX = 50
PRESENCE_MAX_IDS = 200

# Which of these users have a live socket anywhere (the hub answers; the domain never sees it).
OnlineLookup = Callable[[Sequence[int]], Awaitable[set[int]]]


class Me(User, frozen=True):
    """A user as they see themselves."""

    email: str
    # Set only by `messenger admin grant` (or `create-user --admin`).
    is_admin: bool = False
    # GET/PATCH /v1/users/me carry it; absent where it is not computed.
    unread_notifications: int | msgspec.UnsetType = msgspec.UNSET


class UserPresence(msgspec.Struct, frozen=True):
    user_id: int
    online: bool
    # Null when either that user or you hide it (settings.show_last_seen), or never seen.
    last_seen_at: datetime | None


class PresenceList(msgspec.Struct, frozen=True):
    presence: list[UserPresence]


class UserPage(msgspec.Struct, frozen=True):
    users: list[User]
    next_cursor: str | None


async def public(db: Database, user_id: int) -> User:
    record = await db.fetchrow(Q.user_public, user_id)
    if record is None:
        raise NotFound("No such user", code="user_not_found")
    return row(User, record)


async def public_by_ids(db: Database, user_ids: Iterable[int]) -> dict[int, User]:
    """Public user objects by id, in one query; unknown ids are simply absent."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    return {u.id: u for u in rows(User, await db.fetch(Q.users_public_by_ids, ids))}


async def me(db: Database, user_id: int) -> Me:
    record = await db.fetchrow(Q.user_me, user_id)
    if record is None:
        raise NotFound("No such user", code="user_not_found")
    return await _with_unread(db, row(Me, record))


async def _with_unread(db: Database, me: Me) -> Me:
    return msgspec.structs.replace(me, unread_notifications=await notifications.unread_count(db, me.id))


async def update_profile(
    db: Database,
    user_id: int,
    *,
    display_name: str | None,
    bio: str | None,
    avatar_media_id: int | msgspec.UnsetType | None = msgspec.UNSET,
) -> Me:
    set_avatar = avatar_media_id is not msgspec.UNSET
    new_avatar = avatar_media_id if isinstance(avatar_media_id, int) else None
    async with db.transaction() as conn:
        if new_avatar is not None:
            # A ready image of this user's (422 otherwise), share-locked until the update commits.
            await media.check_avatar(conn, user_id, new_avatar)
        record = await conn.fetchrow(Q.update_profile, user_id, display_name, bio, set_avatar, new_avatar)
    if record is None:
        raise NotFound("No such user", code="user_not_found")
    return await _with_unread(db, row(Me, record))


async def search(db: Database, prefix: str, *, limit: int, cursor: str | None) -> UserPage:
    """Verified, active users whose username or display name starts with `prefix`, by username.

    The cursor is the last returned username, lowercased (usernames are unique that way).
    """
    prefix = prefix.removeprefix("@")
    if not prefix:
        raise Unprocessable("q must not be empty", code="validation_error")
    records = await db.fetch(Q.search_users, prefix, (cursor or "").lower(), limit + 1)
    found = rows(User, records[:limit])
    next_cursor = (found[-1].username or "").lower() if len(records) > limit else None
    return UserPage(found, next_cursor)


async def presence(db: Database, viewer_id: int, user_ids: Sequence[int], online: OnlineLookup) -> PresenceList:
    """Online state and last-seen time of the users among `user_ids` sharing a chat with the viewer."""
    records = await db.fetch(Q.users_presence, viewer_id, list(dict.fromkeys(user_ids)))
    live = await online([r["id"] for r in records]) if records else set()
    return PresenceList(
        [UserPresence(r["id"], r["id"] in live, r["last_seen_at"] if r["shown"] else None) for r in records]
    )
