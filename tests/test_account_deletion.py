"""DELETE /v1/users/me: the account is erased for good, its messages stay in their chats."""

from __future__ import annotations

import asyncpg
import httpx

from . import media_samples as s
from .chat_factories import new_chat, send
from .factories import PASSWORD, User, make_user
from .rig import Server
from .test_media import stored_files, uploaded
from .wsclient import WsClient

PERSONAL_ROWS = {
    "sessions": "SELECT count(*) FROM sessions WHERE user_id = $1",
    "refresh tokens": "SELECT count(*) FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id"
    " WHERE s.user_id = $1",
    "email tokens": "SELECT count(*) FROM email_tokens WHERE user_id = $1",
    "notifications": "SELECT count(*) FROM notifications WHERE user_id = $1",
    "digest mails": "SELECT count(*) FROM digest_emails WHERE user_id = $1",
    "settings": "SELECT count(*) FROM user_settings WHERE user_id = $1",
    "memberships": "SELECT count(*) FROM chat_members WHERE user_id = $1",
}


async def delete_me(client: httpx.AsyncClient, user: User, password: str = PASSWORD) -> httpx.Response:
    return await client.request("DELETE", "/v1/users/me", json={"password": password}, headers=user.headers)


async def personal_traces(client: httpx.AsyncClient, db: asyncpg.Pool, user: User, other: User) -> None:
    """Give `user` a profile, an avatar, a notification, a digest row, a token and settings."""
    avatar = await uploaded(client, user, s.png(4, 4))
    profile = {"bio": "my bio", "avatar_media_id": avatar["id"]}
    r = await client.patch("/v1/users/me", json=profile, headers=user.headers)
    assert r.status_code == 200, r.text
    r = await client.patch("/v1/users/me/settings", json={"email_group_messages": True}, headers=user.headers)
    assert r.status_code == 200, r.text
    chat = await new_chat(client, other, "group", user)
    message = await send(client, other, chat["id"], f"hi @{user.username}")
    digest = await db.fetchval(
        "INSERT INTO digest_emails (user_id, window_start) VALUES ($1, now()) RETURNING id", user.id
    )
    await db.execute(
        """INSERT INTO notifications (user_id, kind, chat_id, message_id, digest_id) VALUES ($1, 'mention', $2, $3, $4)
           ON CONFLICT (user_id, message_id) DO UPDATE SET digest_id = excluded.digest_id""",
        user.id,
        chat["id"],
        message["id"],
        digest,
    )
    await db.execute(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at) VALUES ('\\x01', $1, 'reset', now())",
        user.id,
    )
    await db.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ('\\x02', $1, now())", user.session_id
    )


async def test_wrong_password_is_403_invalid_password(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    r = await delete_me(client, user, "not the password")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "invalid_password"
    assert (await client.get("/v1/users/me", headers=user.headers)).status_code == 200


async def test_nothing_personal_remains(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user, other = await make_user(db, username="erase_me"), await make_user(db)
    await personal_traces(client, db, user, other)
    assert (await delete_me(client, user)).status_code == 204
    profile = await db.fetchrow(
        "SELECT email, username, display_name, bio, avatar_media_id, password_hash, deleted_at"
        " FROM users WHERE id = $1",
        user.id,
    )
    assert dict(profile) | {"deleted_at": None} == {
        "email": None,
        "username": None,
        "display_name": "Deleted account",
        "bio": "",
        "avatar_media_id": None,
        "password_hash": None,
        "deleted_at": None,
    }
    assert profile["deleted_at"] is not None
    for what, sql in PERSONAL_ROWS.items():
        assert await db.fetchval(sql, user.id) == 0, what
    assert await db.fetchval("SELECT count(*) FROM media WHERE owner_id = $1", user.id) == 0


async def test_media_no_chat_shows_is_deleted_from_the_store_and_shown_media_stays(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user, other = await make_user(db), await make_user(db)
    unused = await uploaded(client, user, s.png(3, 3))
    shown = await uploaded(client, user, s.png(5, 5))
    chat = await new_chat(client, user, "group", other)
    await send(client, user, chat["id"], "look", attachment_ids=[shown["id"]])
    unused_files = await stored_files(server, db, unused["id"])
    assert unused_files
    assert (await delete_me(client, user)).status_code == 204
    assert not any(f.exists() for f in unused_files)
    r = await client.get(f"/v1/media/{shown['id']}", headers=other.headers)
    assert r.status_code == 200, r.text
    assert all(f.exists() for f in await stored_files(server, db, shown["id"]))


async def test_messages_stay_shown_from_the_deleted_account(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user, other = await make_user(db), await make_user(db)
    chat = await new_chat(client, user, "group", other)
    message = await send(client, user, chat["id"], "still here")
    assert (await delete_me(client, user)).status_code == 204
    page = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=other.headers)).json()
    assert [m["text"] for m in page["messages"] if m["id"] == message["id"]] == ["still here"]
    sender = (await client.get(f"/v1/users/{user.id}", headers=other.headers)).json()["user"]
    assert (sender["display_name"], sender["username"], sender["bio"]) == ("Deleted account", None, "")
    members = (await client.get(f"/v1/chats/{chat['id']}/members", headers=other.headers)).json()
    assert [m["user"]["id"] if "user" in m else m["user_id"] for m in members["members"]] == [other.id]


async def test_email_and_username_are_released(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db, username="reused_name", email="reused@example.com")
    assert (await delete_me(client, user)).status_code == 204
    again = await make_user(db, username="reused_name", email="reused@example.com")
    assert again.id != user.id


async def test_deletion_closes_the_accounts_sockets(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    ws = await WsClient.open(server.ws_url, user.token)
    try:
        assert (await delete_me(client, user)).status_code == 204
        code, _ = await ws.closed()
        assert code == 1008
    finally:
        await ws.close()
