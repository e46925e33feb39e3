"""Deletion is final, edits supersede: a device that was offline never sees old text again, over
REST sync, WebSocket resume (JSON and MessagePack) and the media endpoints."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from . import media_samples as s
from .chat_factories import cursor_now, new_chat, send, sync
from .factories import User, make_user
from .rig import Server
from .test_media import uploaded
from .wsclient import WsClient

SECRET = "the password is hunter2"


def _messages_in(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every message object an event carries: its own, or a chat's last_message."""
    found = []
    for e in events:
        if "message" in e:
            found.append(e["message"])
        elif e.get("chat", {}).get("last_message"):
            found.append(e["chat"]["last_message"])
    return found


async def _offline_device_and_a_secret(client: httpx.AsyncClient, db: asyncpg.Pool) -> tuple[User, User, Any, str]:
    """Bob's device goes offline (keeps a cursor); Alice posts a secret, then renames the chat
    (a chat_updated embedding the secret as last_message)."""
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    cursor = await cursor_now(client, bob)
    message = await send(client, alice, chat["id"], SECRET)
    r = await client.patch(f"/v1/chats/{chat['id']}", json={"title": "renamed"}, headers=alice.headers)
    assert r.status_code == 200
    return alice, bob, message, cursor


async def _delete(client: httpx.AsyncClient, user: User, message: Any) -> None:
    r = await client.delete(f"/v1/chats/{message['chat_id']}/messages/{message['id']}", headers=user.headers)
    assert r.status_code == 204


async def _edit(client: httpx.AsyncClient, user: User, message: Any, text: str) -> None:
    r = await client.patch(
        f"/v1/chats/{message['chat_id']}/messages/{message['id']}", json={"text": text}, headers=user.headers
    )
    assert r.status_code == 200


async def test_sync_after_a_delete_returns_every_earlier_event_redacted(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob, message, cursor = await _offline_device_and_a_secret(client, db)
    await _delete(client, alice, message)
    page = await sync(client, bob, cursor)
    assert "hunter2" not in str(page)
    shown = _messages_in(page["events"])
    assert len(shown) == 2  # receive_message and chat_updated's last_message
    assert all((m["deleted"], m["text"], m["attachments"]) == (True, None, []) for m in shown)


async def test_sync_after_an_edit_returns_only_the_current_text(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob, message, cursor = await _offline_device_and_a_secret(client, db)
    await _edit(client, alice, message, "nothing to see")
    page = await sync(client, bob, cursor)
    assert "hunter2" not in str(page)
    assert {m["text"] for m in _messages_in(page["events"])} == {"nothing to see"}


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
async def test_resume_after_a_delete_never_shows_the_text(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool, msgpack: bool
) -> None:
    alice, bob, message, cursor = await _offline_device_and_a_secret(client, db)
    await _delete(client, alice, message)
    ws = await WsClient.open(server.ws_url, bob.token, msgpack=msgpack)
    try:
        await ws.send({"type": "resume", "cursor": cursor})
        frames = await ws.persisted(3)
    finally:
        await ws.close()
    assert "hunter2" not in str(frames)
    assert [f["type"] for f in frames] == ["receive_message", "chat_updated", "message_deleted"]
    assert all(m["deleted"] for m in _messages_in(frames))


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
async def test_resume_after_an_edit_shows_only_the_current_text(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool, msgpack: bool
) -> None:
    alice, bob, message, cursor = await _offline_device_and_a_secret(client, db)
    await _edit(client, alice, message, "nothing to see")
    ws = await WsClient.open(server.ws_url, bob.token, msgpack=msgpack)
    try:
        await ws.send({"type": "resume", "cursor": cursor})
        frames = await ws.persisted(3)
    finally:
        await ws.close()
    assert "hunter2" not in str(frames)
    assert {m["text"] for m in _messages_in(frames)} == {"nothing to see"}


async def test_a_reader_who_left_gets_a_later_edit_redacted(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob, carol = await make_user(db), await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob, carol)
    cursor = await cursor_now(client, carol)
    message = await send(client, alice, chat["id"], "before")
    r = await client.delete(f"/v1/chats/{chat['id']}/members/{carol.id}", headers=carol.headers)
    assert r.status_code == 204
    await _edit(client, alice, message, "after carol left")
    carols = _messages_in((await sync(client, carol, cursor))["events"])
    bobs = _messages_in((await sync(client, bob, cursor))["events"])
    assert [(m["deleted"], m["text"]) for m in carols] == [(True, None)]
    assert {m["text"] for m in bobs} == {"after carol left"}


async def test_a_reader_who_left_gets_a_later_edit_of_a_quoted_message_redacted_in_the_quote(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob, carol = await make_user(db), await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob, carol)
    cursor = await cursor_now(client, carol)
    original = await send(client, alice, chat["id"], "before")
    reply = await send(client, bob, chat["id"], "a reply", reply_to_id=original["id"])
    r = await client.delete(f"/v1/chats/{chat['id']}/members/{carol.id}", headers=carol.headers)
    assert r.status_code == 204
    await _edit(client, alice, original, "after carol left")
    carols = [m for m in _messages_in((await sync(client, carol, cursor))["events"]) if m["id"] == reply["id"]]
    bobs = [m for m in _messages_in((await sync(client, bob, cursor))["events"]) if m["id"] == reply["id"]]
    assert "after carol left" not in str(carols)
    assert {(m["text"], m["reply_to"]["text"], m["reply_to"]["deleted"]) for m in carols} == {("a reply", None, True)}
    assert {m["reply_to"]["text"] for m in bobs} == {"after carol left"}


async def test_a_reader_who_left_after_an_edit_still_sees_it(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    cursor = await cursor_now(client, bob)
    message = await send(client, alice, chat["id"], "before")
    await _edit(client, alice, message, "seen while a member")
    r = await client.delete(f"/v1/chats/{chat['id']}/members/{bob.id}", headers=bob.headers)
    assert r.status_code == 204
    shown = _messages_in((await sync(client, bob, cursor))["events"])
    assert {m["text"] for m in shown} == {"seen while a member"}


async def test_a_deleted_messages_attachment_is_gone_from_sync_and_media(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    cursor = await cursor_now(client, bob)
    image = await uploaded(client, alice, s.png(6, 4))
    message = await send(client, alice, chat["id"], "look", attachment_ids=[image["id"]])
    await _delete(client, alice, message)
    page = await sync(client, bob, cursor)
    assert [m["attachments"] for m in _messages_in(page["events"])] == [[]]
    assert (await client.get(f"/v1/media/{image['id']}", headers=bob.headers)).status_code == 404


async def test_an_attachment_another_live_message_shows_stays_downloadable(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await new_chat(client, alice, "group", bob)
    image = await uploaded(client, alice, s.png(6, 4))
    first = await send(client, alice, chat["id"], "look", attachment_ids=[image["id"]])
    await send(client, alice, chat["id"], "again", attachment_ids=[image["id"]])
    await _delete(client, alice, first)
    assert (await client.get(f"/v1/media/{image['id']}", headers=bob.headers)).status_code == 200
