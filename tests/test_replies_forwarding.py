"""Replies (the quote in pages and events) and forwarding (copy, visibility, media ACL, idempotency)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from . import media_samples as s
from .chat_factories import cast, cursor_now, new_chat, post, send, sync
from .factories import User, make_user
from .rig import Server
from .test_media import uploaded
from .wsclient import WsClient


async def page(client: httpx.AsyncClient, user: User, chat_id: int) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/chats/{chat_id}/messages", headers=user.headers)
    assert r.status_code == 200, r.text
    messages: list[dict[str, Any]] = r.json()["messages"]
    return messages


async def forward(client: httpx.AsyncClient, user: User, to: int, message: dict[str, Any], **extra: Any) -> Any:
    body = {"client_msg_id": extra.pop("client_msg_id", f"fw{message['id']}-{to}"), **extra}
    body["forward"] = {"chat_id": message["chat_id"], "message_id": message["id"]}
    return await client.post(f"/v1/chats/{to}/messages", json=body, headers=user.headers)


async def test_reply_carries_a_preview_of_the_original(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    original = await send(client, a, chat["id"], "x" * 250)
    reply = await send(client, b, chat["id"], "yes", reply_to_id=original["id"])
    preview = {"id": original["id"], "seq": 1, "sender_id": a.id, "text": "x" * 200, "deleted": False}
    assert reply["reply_to"] == preview | {"has_attachments": False}
    assert (await page(client, a, chat["id"]))[1]["reply_to"] == reply["reply_to"]


async def test_reply_preview_follows_edit_and_deletion(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    original = await send(client, a, chat["id"], "first")
    await send(client, a, chat["id"], "re", reply_to_id=original["id"])
    path = f"/v1/chats/{chat['id']}/messages/{original['id']}"
    await client.patch(path, json={"text": "second"}, headers=a.headers)
    assert (await page(client, a, chat["id"]))[1]["reply_to"]["text"] == "second"
    await client.delete(path, headers=a.headers)
    quote = (await page(client, a, chat["id"]))[1]["reply_to"]
    assert (quote["text"], quote["deleted"], quote["has_attachments"]) == (None, True, False)


async def test_reply_to_a_message_of_another_chat_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    one, two = await new_chat(client, a, "group"), await new_chat(client, a, "group")
    elsewhere = await send(client, a, one["id"])
    r = await post(client, a, two["id"], "re", reply_to_id=elsewhere["id"])
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_reply")


async def test_forward_copies_text_and_names_the_origin(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    source, target = await new_chat(client, a, "group", b), await new_chat(client, b, "group")
    original = await send(client, a, source["id"], "news")
    r = await forward(client, b, target["id"], original)
    assert r.status_code == 201, r.text
    copy = r.json()["message"]
    assert (copy["text"], copy["sender_id"], copy["chat_id"]) == ("news", b.id, target["id"])
    origin = copy["forwarded_from"]
    assert (origin["sender_id"], origin["sender_name"]) == (a.id, a.display_name)
    assert (origin["chat_id"], origin["message_id"], origin["created_at"]) == (
        source["id"], original["id"], original["created_at"],
    )  # fmt: skip


async def test_origin_ids_are_shown_only_to_members_of_the_original_chat(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b, c = await make_user(db), await make_user(db), await make_user(db)
    source, target = await new_chat(client, a, "group", b), await new_chat(client, b, "group", c)
    original = await send(client, a, source["id"], "news")
    start = await cursor_now(client, b)
    assert (await forward(client, b, target["id"], original)).status_code == 201
    seen_by_b = (await page(client, b, target["id"]))[0]["forwarded_from"]
    seen_by_c = (await page(client, c, target["id"]))[0]["forwarded_from"]
    assert (seen_by_b["chat_id"], seen_by_b["message_id"]) == (source["id"], original["id"])
    assert (seen_by_c["chat_id"], seen_by_c["message_id"]) == (None, None)
    assert seen_by_c["sender_id"] == a.id
    (event,) = [f for f in (await sync(client, b, start))["events"] if f["type"] == "receive_message"]
    assert (event["message"]["forwarded_from"]["chat_id"], event["message"]["forwarded_from"]["message_id"]) == (
        None, None,
    )  # fmt: skip


async def test_forwarding_what_one_cannot_read_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    source, target = await new_chat(client, a, "group"), await new_chat(client, b, "group")
    original = await send(client, a, source["id"], "secret")
    assert (await forward(client, b, target["id"], original)).status_code == 404
    wrong_chat = {**original, "chat_id": target["id"]}
    assert (await forward(client, b, target["id"], wrong_chat)).status_code == 404


async def test_forward_into_a_channel_needs_posting_rights(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db, "channel")
    own = await new_chat(client, c.member, "group")
    original = await send(client, c.member, own["id"], "hi")
    r = await forward(client, c.member, c.id, original)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "read_only_channel")


async def test_forward_with_text_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    original = await send(client, a, chat["id"])
    r = await forward(client, a, chat["id"], original, text="extra")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_forward")


async def test_forward_is_idempotent_by_client_msg_id(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    original = await send(client, a, chat["id"])
    first = await forward(client, a, chat["id"], original, client_msg_id="f")
    again = await forward(client, a, chat["id"], original, client_msg_id="f")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"] == first.json()["message"]


async def test_forward_over_the_socket_is_idempotent(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    original = await send(client, a, chat["id"], "hello")
    ws = await WsClient.open(server.ws_url, a.token)
    try:
        frame = {"type": "send_message", "chat_id": chat["id"], "client_msg_id": "wf"}
        frame["forward"] = {"chat_id": chat["id"], "message_id": original["id"]}
        await ws.send(frame)
        first = await ws.expect("ack")
        await ws.send(frame)
        again = await ws.expect("ack")
    finally:
        await ws.close()
    assert first["message"]["id"] == again["message"]["id"]
    assert (first["message"]["text"], first["message"]["forwarded_from"]["message_id"]) == ("hello", original["id"])
    assert len(await page(client, a, chat["id"])) == 2


async def test_forwarded_media_reach_target_members_and_no_one_else(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b, c, stranger = [await make_user(db) for _ in range(4)]
    source, target = await new_chat(client, a, "group", b), await new_chat(client, b, "group", c)
    image = await uploaded(client, a, s.png(3, 3))
    original = await send(client, a, source["id"], "pic", attachment_ids=[image["id"]])
    assert (await client.get(f"/v1/media/{image['id']}", headers=c.headers)).status_code == 404
    copy = (await forward(client, b, target["id"], original)).json()["message"]
    assert [m["id"] for m in copy["attachments"]] == [image["id"]]
    assert (await client.get(f"/v1/media/{image['id']}", headers=c.headers)).status_code == 200
    assert (await client.get(f"/v1/media/{image['id']}", headers=stranger.headers)).status_code == 404


async def test_deleting_the_original_leaves_the_copy(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    source, target = await new_chat(client, a, "group", b), await new_chat(client, b, "group")
    image = await uploaded(client, a, s.png(3, 3))
    original = await send(client, a, source["id"], "keep", attachment_ids=[image["id"]])
    await forward(client, b, target["id"], original)
    await client.delete(f"/v1/chats/{source['id']}/messages/{original['id']}", headers=a.headers)
    (copy,) = await page(client, b, target["id"])
    assert (copy["text"], copy["deleted"], len(copy["attachments"])) == ("keep", False, 1)
    r = await forward(client, b, target["id"], original, client_msg_id="late")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "message_deleted")
