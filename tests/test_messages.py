"""Messages over REST: sending, idempotency, seq allocation, replies, mentions, text rules, edits."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from .chat_factories import add, cast, new_chat, post, send
from .factories import make_user


async def test_send_returns_message_object_with_seq_1(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    r = await post(client, a, chat["id"], "hello", client_msg_id="m-1")
    assert r.status_code == 201
    msg = r.json()["message"]
    assert set(msg) == {
        "id", "chat_id", "seq", "sender_id", "client_msg_id", "text", "reply_to_id", "attachments", "mentions",
        "created_at", "edited_at", "deleted", "reply_to", "reactions", "forwarded_from", "pinned",
    }  # fmt: skip
    assert (msg["chat_id"], msg["seq"], msg["sender_id"], msg["client_msg_id"]) == (chat["id"], 1, a.id, "m-1")
    assert (msg["text"], msg["reply_to_id"], msg["attachments"], msg["mentions"]) == ("hello", None, [], [])
    assert (msg["edited_at"], msg["deleted"]) == (None, False)
    assert (msg["reply_to"], msg["reactions"], msg["forwarded_from"], msg["pinned"]) == (None, [], None, False)
    assert msg["created_at"].endswith("Z")


async def test_same_client_msg_id_returns_original_with_200(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    first = await post(client, a, chat["id"], "one", client_msg_id="k")
    again = await post(client, a, chat["id"], "two", client_msg_id="k")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["message"] == first.json()["message"]


async def test_same_client_msg_id_from_another_sender_is_a_new_message(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    first = await post(client, a, chat["id"], client_msg_id="k")
    other = await post(client, b, chat["id"], client_msg_id="k")
    assert (first.status_code, other.status_code) == (201, 201)
    assert other.json()["message"]["seq"] == 2


async def test_concurrent_retries_create_one_message(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    responses = await asyncio.gather(*(post(client, a, chat["id"], "x", client_msg_id="retry") for _ in range(20)))
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["message"]["id"] for r in responses}) == 1
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_fifty_concurrent_senders_get_gap_free_seqs(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    senders = [await make_user(db) for _ in range(50)]
    chat = await new_chat(client, owner, "group", *senders)
    responses = await asyncio.gather(*(post(client, s, chat["id"], f"from {s.id}") for s in senders))
    assert all(r.status_code == 201 for r in responses)
    assert sorted(r.json()["message"]["seq"] for r in responses) == list(range(1, 51))
    last = (await client.get(f"/v1/chats/{chat['id']}", headers=owner.headers)).json()["chat"]
    assert last["last_seq"] == 50


async def test_seqs_are_per_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    one, two = await new_chat(client, a, "group"), await new_chat(client, a, "group")
    await send(client, a, one["id"])
    await send(client, a, one["id"])
    assert (await send(client, a, two["id"]))["seq"] == 1


@pytest.mark.parametrize(("role", "status"), [("owner", 201), ("admin", 201), ("member", 403)])
async def test_channel_send_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db, "channel")
    r = await post(client, c.by_role(role), c.id)
    assert r.status_code == status
    if status == 403:
        assert (await client.get(f"/v1/chats/{c.id}/messages", headers=c.member.headers)).status_code == 200


async def test_reply_to_message_of_same_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    first = await send(client, a, chat["id"])
    assert (await send(client, a, chat["id"], reply_to_id=first["id"]))["reply_to_id"] == first["id"]


async def test_reply_to_message_of_other_chat_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    one, two = await new_chat(client, a, "group"), await new_chat(client, a, "group")
    elsewhere = await send(client, a, two["id"])
    for reply_to in (elsewhere["id"], 10**12):
        r = await post(client, a, one["id"], reply_to_id=reply_to)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "invalid_reply"


async def test_mentions_resolve_members_only(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, c, stranger = [await make_user(db) for _ in range(4)]
    chat = await new_chat(client, a, "group", b, c)
    text = f"hi @{b.username.upper()}, @{c.username}. and @{stranger.username} @{b.username} email@{c.username}"
    msg = await send(client, a, chat["id"], text)
    assert msg["mentions"] == [b.id, c.id]
    assert msg["text"] == text


async def test_unknown_attachment_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    r = await post(client, a, chat["id"], attachment_ids=[1])
    assert r.status_code == 422


@pytest.mark.parametrize(
    "text",
    [
        "emoji 👩‍👩‍👧‍👦 🇺🇦 🏳️‍🌈",
        "rtl \u202eoverride\u202c and \u200f",
        "zero\u200bwidth\u200d\ufeff joiners",
        "combining e\u0301 a\u0308\u0323 Z\u0351\u0352\u0353",
        "  leading and trailing spaces\r\n\ttabs  ",
        "\x01\x1f control \x7f",
        "x" * 4096,
        "😀" * 4096,
    ],
)
async def test_text_round_trips_exactly(client: httpx.AsyncClient, db: asyncpg.Pool, text: str) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    assert (await send(client, a, chat["id"], text))["text"] == text
    page = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=a.headers)).json()
    assert page["messages"][0]["text"] == text


@pytest.mark.parametrize("text", ["nul \u0000 inside", "x" * 4097, ""])
async def test_bad_text_is_422(client: httpx.AsyncClient, db: asyncpg.Pool, text: str) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    r = await post(client, a, chat["id"], text)
    assert r.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM messages") == 0


async def test_missing_text_without_attachments_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    r = await client.post(f"/v1/chats/{chat['id']}/messages", json={"client_msg_id": "a"}, headers=a.headers)
    assert r.status_code == 422


@pytest.mark.parametrize("client_msg_id", ["", "x" * 65, "a\u0000b"])
async def test_bad_client_msg_id_is_422(client: httpx.AsyncClient, db: asyncpg.Pool, client_msg_id: str) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    body = {"client_msg_id": client_msg_id, "text": "x"}
    r = await client.post(f"/v1/chats/{chat['id']}/messages", json=body, headers=a.headers)
    assert r.status_code == 422


async def test_malformed_json_is_400(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    r = await client.post(
        f"/v1/chats/{chat['id']}/messages",
        content=b'{"client_msg_id": "a", "text": "\\ud800"}',
        headers={**a.headers, "content-type": "application/json"},
    )
    assert r.status_code == 400


async def test_edit_by_sender_sets_edited_at_and_mentions(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    msg = await send(client, a, chat["id"], "draft")
    r = await client.patch(
        f"/v1/chats/{chat['id']}/messages/{msg['id']}", json={"text": f"final @{b.username}"}, headers=a.headers
    )
    assert r.status_code == 200
    edited = r.json()["message"]
    assert (edited["text"], edited["mentions"], edited["seq"]) == (f"final @{b.username}", [b.id], 1)
    assert edited["edited_at"] is not None


@pytest.mark.parametrize("role", ["owner", "admin", "member"])
async def test_edit_by_anyone_but_sender_is_403(client: httpx.AsyncClient, db: asyncpg.Pool, role: str) -> None:
    c = await cast(client, db)
    author = await make_user(db)
    assert (await add(client, c.owner, c.id, author)).status_code == 201
    msg = await send(client, author, c.id)
    r = await client.patch(
        f"/v1/chats/{c.id}/messages/{msg['id']}", json={"text": "x"}, headers=c.by_role(role).headers
    )
    assert r.status_code == 403


async def test_edit_rejects_nul_and_empty(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    msg = await send(client, a, chat["id"])
    for text in ("", "a\u0000"):
        r = await client.patch(f"/v1/chats/{chat['id']}/messages/{msg['id']}", json={"text": text}, headers=a.headers)
        assert r.status_code == 422


async def test_edit_of_message_in_other_chat_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    one, two = await new_chat(client, a, "group"), await new_chat(client, a, "group")
    msg = await send(client, a, two["id"])
    r = await client.patch(f"/v1/chats/{one['id']}/messages/{msg['id']}", json={"text": "x"}, headers=a.headers)
    assert r.status_code == 404


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("admin", 204), ("member", 403)])
async def test_delete_others_message_by_role(
    client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int
) -> None:
    c = await cast(client, db)
    author = await make_user(db)
    assert (await add(client, c.owner, c.id, author)).status_code == 201
    msg = await send(client, author, c.id)
    r = await client.delete(f"/v1/chats/{c.id}/messages/{msg['id']}", headers=c.by_role(role).headers)
    assert r.status_code == status


async def test_sender_deletes_own_message_as_tombstone(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    await send(client, a, chat["id"], "keep")
    gone = await send(client, b, chat["id"], f"secret @{a.username}")
    await send(client, a, chat["id"], "after")
    assert (await client.delete(f"/v1/chats/{chat['id']}/messages/{gone['id']}", headers=b.headers)).status_code == 204
    page = (await client.get(f"/v1/chats/{chat['id']}/messages", headers=a.headers)).json()["messages"]
    assert [m["seq"] for m in page] == [1, 2, 3]
    tomb = page[1]
    assert (tomb["id"], tomb["text"], tomb["deleted"], tomb["mentions"], tomb["attachments"]) == (
        gone["id"],
        None,
        True,
        [],
        [],
    )


async def test_deleting_a_tombstone_again_is_204(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    msg = await send(client, a, chat["id"])
    url = f"/v1/chats/{chat['id']}/messages/{msg['id']}"
    assert (await client.delete(url, headers=a.headers)).status_code == 204
    assert (await client.delete(url, headers=a.headers)).status_code == 204


async def test_edit_of_deleted_message_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    msg = await send(client, a, chat["id"])
    url = f"/v1/chats/{chat['id']}/messages/{msg['id']}"
    await client.delete(url, headers=a.headers)
    assert (await client.patch(url, json={"text": "back"}, headers=a.headers)).status_code == 409
