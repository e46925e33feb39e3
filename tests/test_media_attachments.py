"""Media attached to messages: validation in the send path, visibility through chat membership."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from messenger import media, mediastore
from messenger.db import Database
from messenger.settings import Settings

from . import media_samples as s
from .chat_factories import new_chat, post, send, sync
from .factories import User, make_user
from .rig import SECRET_KEY, Server
from .test_media import declare, uploaded


async def shared(client: httpx.AsyncClient, db: asyncpg.Pool) -> tuple[User, User, Any, dict[str, Any]]:
    """A uploads an image and posts it to a group with B; returns (a, b, message, medium)."""
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    image = await uploaded(client, a, s.png(6, 4))
    message = await send(client, a, chat["id"], "look", attachment_ids=[image["id"]])
    return a, b, message, image


async def test_message_carries_its_attachments_as_media_objects(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, _, message, image = await shared(client, db)
    (attached,) = message["attachments"]
    assert attached == {k: image[k] for k in ("id", "filename", "content_type", "size", "status", "created_at")} | {
        "width": 6,
        "height": 4,
    }


async def test_attachments_keep_their_order(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    ids = [(await uploaded(client, a, f"file {n}".encode(), "text/plain", f"{n}.txt"))["id"] for n in range(3)]
    message = await send(client, a, chat["id"], "", attachment_ids=ids[::-1])
    assert [m["id"] for m in message["attachments"]] == ids[::-1]


async def test_a_chat_member_can_fetch_an_attached_medium(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, b, _, image = await shared(client, db)
    r = await client.get(f"/v1/media/{image['id']}", headers=b.headers)
    assert r.status_code == 200
    async with httpx.AsyncClient() as http:
        assert (await http.get(r.json()["media"]["download_url"])).status_code == 200


async def test_a_non_member_gets_404_for_an_attached_medium(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, _, _, image = await shared(client, db)
    stranger = await make_user(db)
    assert (await client.get(f"/v1/media/{image['id']}", headers=stranger.headers)).status_code == 404


async def test_a_removed_member_gets_404_afterwards(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, message, image = await shared(client, db)
    r = await client.delete(f"/v1/chats/{message['chat_id']}/members/{b.id}", headers=a.headers)
    assert r.status_code == 204
    assert (await client.get(f"/v1/media/{image['id']}", headers=b.headers)).status_code == 404


async def test_deleting_the_message_hides_its_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, message, image = await shared(client, db)
    chat_id = message["chat_id"]
    r = await client.delete(f"/v1/chats/{chat_id}/messages/{message['id']}", headers=a.headers)
    assert r.status_code == 204
    assert (await client.get(f"/v1/media/{image['id']}", headers=b.headers)).status_code == 404
    page = (await client.get(f"/v1/chats/{chat_id}/messages", headers=b.headers)).json()["messages"]
    assert page[-1]["attachments"] == []


async def test_message_pages_include_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, b, message, image = await shared(client, db)
    page = (await client.get(f"/v1/chats/{message['chat_id']}/messages", headers=b.headers)).json()["messages"]
    assert [m["id"] for m in page[-1]["attachments"]] == [image["id"]]


async def test_sync_events_carry_the_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    cursor = (await client.get("/v1/sync", headers=b.headers)).json()["cursor"]
    image = await uploaded(client, a, s.gif(2, 3), "image/gif", "a.gif")
    await send(client, a, chat["id"], "gif", attachment_ids=[image["id"]])
    events = (await sync(client, b, cursor))["events"]
    received = [e for e in events if e["type"] == "receive_message"]
    assert [m["id"] for m in received[-1]["message"]["attachments"]] == [image["id"]]


async def test_repeating_a_send_returns_the_same_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    image = await uploaded(client, a, s.png(1, 1))
    first = await post(client, a, chat["id"], "x", client_msg_id="once", attachment_ids=[image["id"]])
    again = await post(client, a, chat["id"], "x", client_msg_id="once", attachment_ids=[image["id"]])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"]["attachments"] == first.json()["message"]["attachments"]


async def test_a_file_alone_is_a_message(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    doc = await uploaded(client, a, s.PDF, "application/pdf", "doc.pdf")
    body = {"client_msg_id": "f", "attachment_ids": [doc["id"]]}
    r = await client.post(f"/v1/chats/{chat['id']}/messages", json=body, headers=a.headers)
    assert r.status_code == 201, r.text


async def test_someone_elses_medium_cannot_be_attached(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    theirs = await uploaded(client, b, s.png(1, 1))
    r = await post(client, a, chat["id"], "stolen", attachment_ids=[theirs["id"]])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_attachments"


async def test_a_pending_medium_cannot_be_attached(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    slot = await declare(client, a, s.png(1, 1))
    r = await post(client, a, chat["id"], "early", attachment_ids=[slot["media"]["id"]])
    assert r.status_code == 422


async def test_more_than_ten_attachments_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    r = await post(client, a, chat["id"], "many", attachment_ids=list(range(1, 12)))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "too_many_attachments"


async def test_repeated_attachment_ids_are_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    image = await uploaded(client, a, s.png(1, 1))
    r = await post(client, a, chat["id"], "twice", attachment_ids=[image["id"], image["id"]])
    assert r.status_code == 422


async def test_cleanup_keeps_attached_media_and_removes_media_of_deleted_messages(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server, database: str
) -> None:
    a, _, kept_message, kept = await shared(client, db)
    dropped = await uploaded(client, a, s.png(2, 2))
    gone = await send(client, a, kept_message["chat_id"], "oops", attachment_ids=[dropped["id"]])
    await client.delete(f"/v1/chats/{gone['chat_id']}/messages/{gone['id']}", headers=a.headers)
    await db.execute("UPDATE media SET created_at = now() - interval '3 days'")

    pool = await Database.connect(database, min_size=1, max_size=2)
    try:
        store = mediastore.LocalStore(Settings(data_dir=Path(server.env["MESSENGER_DATA_DIR"]), secret_key=SECRET_KEY))
        removed = await media.delete_orphans(pool, store, timedelta(hours=24))
    finally:
        await pool.close()
    assert removed == 1
    assert await db.fetchval("SELECT array_agg(id) FROM media") == [kept["id"]]


async def test_only_the_uploader_may_complete_a_medium_others_see(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, b, _, image = await shared(client, db)
    r = await client.post(f"/v1/media/{image['id']}/complete", headers=b.headers)
    assert r.status_code == 403


async def test_the_chat_list_shows_the_last_messages_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    _, b, message, image = await shared(client, db)
    chats = (await client.get("/v1/chats", headers=b.headers)).json()["chats"]
    (chat,) = [c for c in chats if c["id"] == message["chat_id"]]
    assert [m["id"] for m in chat["last_message"]["attachments"]] == [image["id"]]
