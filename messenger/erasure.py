"""Account closure (`DELETE /v1/users/me`): the account is erased for good, its messages stay.

One transaction leaves every chat (ownership passes on as when leaving), ends and deletes the
sessions (user agents, refresh tokens), deletes email tokens, notifications, digest mails and
settings, deletes the media no chat shows any more, and blanks the profile: email, username and
password become NULL (so the address and the name can be taken again), the display name
"Deleted account". After commit the membership events go out, the sockets close and the media
objects are deleted from the store.

Layer: domain.
"""

from __future__ import annotations

import logging

from . import chats, passwords
from .db import Database, Q
from .errors import Forbidden, NotFound
from .mediastore import MediaStore
from .ports import Publisher

log = logging.getLogger("messenger.erasure")


async def delete_account(db: Database, publisher: Publisher, store: MediaStore, user_id: int, password: str) -> None:
    stored = await db.fetchval(Q.erasure_lock_user, user_id)
    if stored is None:
        raise NotFound("No such user", code="user_not_found")
    if not await passwords.verify_password(password, stored):
        raise Forbidden("The password is not right", code="invalid_password")
    async with db.transaction() as conn:
        # Locked, so a concurrent closure (or a second request) finds the account gone.
        if await conn.fetchval(Q.erasure_lock_user, user_id) is None:
            raise NotFound("No such user", code="user_not_found")
        published = await chats.leave_all(conn, user_id)
        ended = [r["id"] for r in await conn.fetch(Q.erasure_end_sessions, user_id)]
        await conn.execute(Q.erasure_personal_rows, user_id)
        keys = [r["storage_key"] for r in await conn.fetch(Q.erasure_media, user_id)]
        await conn.execute(Q.erasure_profile, user_id)
    await publisher.publish(published)
    try:
        await publisher.end_sessions(ended)
    except Exception:  # the sessions are gone from the database; their tokens fail already
        log.exception("could not close the sockets of a deleted account")
    if keys:
        try:
            await store.delete(keys)
        except Exception:  # the rows are gone; say which objects leaked so they can be removed
            log.exception("account closure: could not delete %d stored objects: %s", len(keys), keys[:20])
