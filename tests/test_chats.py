"""Chats: creation, direct-chat uniqueness, visibility, the chat list and the member list."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from .chat_factories import add, new_chat, send
from .factories import make_user
from .test_media import uploaded


async def test_create_group_makes_creator_owner_with_members(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, c = [await make_user(db) for _ in range(3)]
    r = await client.post(
        "/v1/chats",
        json={"kind": "group", "title": "Team", "member_ids": [b.id, c.id, b.id, a.id]},
        headers=a.headers,
    )
    assert r.status_code == 201
    chat = r.json()["chat"]
    assert set(chat) == {
        "id", "kind", "title", "description", "created_at", "member_count", "role", "last_message", "last_seq",
        "unread_count", "last_read_seq", "others_read_seq",
    }  # fmt: skip
    assert (chat["kind"], chat["title"], chat["member_count"], chat["role"]) == ("group", "Team", 3, "owner")
    assert (chat["last_message"], chat["last_seq"], chat["unread_count"]) == (None, 0, 0)
    seen = await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)
    assert seen.json()["chat"]["role"] == "member"


async def test_create_with_unknown_member_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.post("/v1/chats", json={"kind": "group", "member_ids": [a.id + 1000]}, headers=a.headers)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_user"


async def test_create_with_unknown_kind_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.post("/v1/chats", json={"kind": "forum", "member_ids": []}, headers=a.headers)
    assert r.status_code == 422


async def test_direct_chat_needs_exactly_one_peer(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, c = [await make_user(db) for _ in range(3)]
    for ids in ([], [a.id], [b.id, c.id]):
        r = await client.post("/v1/chats", json={"kind": "direct", "member_ids": ids}, headers=a.headers)
        assert r.status_code == 422, ids


async def test_direct_chat_again_returns_same_chat_with_200(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    first = await new_chat(client, a, "direct", b)
    r = await client.post("/v1/chats", json={"kind": "direct", "member_ids": [a.id]}, headers=b.headers)
    assert r.status_code == 200
    assert r.json()["chat"]["id"] == first["id"]
    assert r.json()["chat"]["member_count"] == 2


async def test_concurrent_direct_creation_yields_one_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)

    async def create(i: int) -> httpx.Response:
        me, peer = (a, b) if i % 2 else (b, a)
        return await client.post("/v1/chats", json={"kind": "direct", "member_ids": [peer.id]}, headers=me.headers)

    responses = await asyncio.gather(*(create(i) for i in range(12)))
    assert sorted(r.status_code for r in responses) == [200] * 11 + [201]
    assert len({r.json()["chat"]["id"] for r in responses}) == 1
    assert await db.fetchval("SELECT count(*) FROM chats") == 1
    assert await db.fetchval("SELECT count(*) FROM chat_members") == 2


async def test_direct_chat_again_after_leaving_brings_leaver_back(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=b.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)).status_code == 404
    r = await client.post("/v1/chats", json={"kind": "direct", "member_ids": [a.id]}, headers=b.headers)
    assert r.status_code == 200
    assert r.json()["chat"]["id"] == chat["id"]
    assert r.json()["chat"]["member_count"] == 2


async def test_non_member_gets_404_for_chat_and_its_parts(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, stranger = [await make_user(db) for _ in range(3)]
    chat = await new_chat(client, a, "group", b)
    cid = chat["id"]
    msg = await send(client, a, cid)
    h = stranger.headers
    for method, path, body in [
        ("GET", f"/v1/chats/{cid}", None),
        ("PATCH", f"/v1/chats/{cid}", {"title": "x"}),
        ("DELETE", f"/v1/chats/{cid}", None),
        ("GET", f"/v1/chats/{cid}/members", None),
        ("POST", f"/v1/chats/{cid}/members", {"user_id": stranger.id}),
        ("PATCH", f"/v1/chats/{cid}/members/{b.id}", {"role": "admin"}),
        ("DELETE", f"/v1/chats/{cid}/members/{b.id}", None),
        ("POST", f"/v1/chats/{cid}/read", {"seq": 1}),
        ("GET", f"/v1/chats/{cid}/messages", None),
        ("POST", f"/v1/chats/{cid}/messages", {"client_msg_id": "x", "text": "hi"}),
        ("PATCH", f"/v1/chats/{cid}/messages/{msg['id']}", {"text": "x"}),
        ("DELETE", f"/v1/chats/{cid}/messages/{msg['id']}", None),
    ]:
        r = await client.request(method, path, json=body, headers=h)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"


async def test_unknown_and_malformed_chat_ids_are_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    for path in ("/v1/chats/999999", "/v1/chats/abc", "/v1/chats/99999999999999999999999"):
        assert (await client.get(path, headers=a.headers)).status_code == 404


async def test_chats_require_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/chats")).status_code == 401


async def test_chat_list_is_newest_activity_first_with_last_message(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b = await make_user(db), await make_user(db)
    first = await new_chat(client, a, "group", b, title="first")
    second = await new_chat(client, a, "group", b, title="second")
    await send(client, b, first["id"], "bump")
    r = await client.get("/v1/chats", headers=a.headers)
    chats = r.json()["chats"]
    assert [c["id"] for c in chats] == [first["id"], second["id"]]
    assert chats[0]["last_message"]["text"] == "bump"
    assert (chats[0]["last_seq"], chats[0]["unread_count"], chats[0]["role"]) == (1, 1, "owner")
    assert chats[1]["last_message"] is None
    assert r.json()["next_cursor"] is None


async def test_chat_list_pages_with_cursor(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    ids = [(await new_chat(client, a, "group"))["id"] for _ in range(5)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/v1/chats", params=params, headers=a.headers)).json()
        seen += [c["id"] for c in body["chats"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert pages == 3


async def test_chat_list_exact_page_has_no_next_cursor(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    for _ in range(2):
        await new_chat(client, a, "group")
    body = (await client.get("/v1/chats", params={"limit": 2}, headers=a.headers)).json()
    assert len(body["chats"]) == 2
    assert body["next_cursor"] is None


async def test_chat_list_rejects_garbage_cursor(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    for cursor in ("!!!", "bm9wZQ", "MTox"[:3]):
        r = await client.get("/v1/chats", params={"cursor": cursor}, headers=a.headers)
        assert r.status_code == 422, cursor


async def test_chat_list_rejects_limit_out_of_range(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    for limit in (0, 101, "x"):
        assert (await client.get("/v1/chats", params={"limit": limit}, headers=a.headers)).status_code == 422


async def test_unread_count_excludes_own_messages_and_follows_read_marker(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    for _ in range(3):
        await send(client, b, chat["id"])
    await send(client, a, chat["id"])
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=a.headers)).json()["chat"]["unread_count"] == 0
    for _ in range(2):
        await send(client, b, chat["id"])
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=a.headers)).json()["chat"]["unread_count"] == 2
    r = await client.post(f"/v1/chats/{chat['id']}/read", json={"seq": 5}, headers=a.headers)
    assert r.status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=a.headers)).json()["chat"]["unread_count"] == 1


async def test_read_marker_only_moves_forward(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    for _ in range(4):
        await send(client, a, chat["id"])
    url = f"/v1/chats/{chat['id']}/read"
    assert (await client.post(url, json={"seq": 3}, headers=b.headers)).status_code == 204
    assert (await client.post(url, json={"seq": 1}, headers=b.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)).json()["chat"]["unread_count"] == 1


async def test_read_marker_beyond_last_seq_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    await send(client, a, chat["id"])
    url = f"/v1/chats/{chat['id']}/read"
    assert (await client.post(url, json={"seq": 2}, headers=a.headers)).status_code == 422
    assert (await client.post(url, json={"seq": -1}, headers=a.headers)).status_code == 422


async def test_member_added_later_starts_with_history_read(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group")
    for _ in range(3):
        await send(client, a, chat["id"])
    assert (await add(client, a, chat["id"], b)).status_code == 201
    await send(client, a, chat["id"])
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)).json()["chat"]["unread_count"] == 1


async def test_member_list_pages_in_joining_order(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner = await make_user(db)
    others = [await make_user(db) for _ in range(4)]
    chat = await new_chat(client, owner, "group")
    for u in others:
        assert (await add(client, owner, chat["id"], u)).status_code == 201
    url = f"/v1/chats/{chat['id']}/members"
    first = (await client.get(url, params={"limit": 3}, headers=others[0].headers)).json()
    assert [m["user"]["id"] for m in first["members"]] == [owner.id, others[0].id, others[1].id]
    assert first["members"][0]["role"] == "owner"
    assert set(first["members"][0]["user"]) == {"id", "username", "display_name", "bio", "avatar_url", "created_at"}
    second = (await client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=owner.headers)).json()
    assert [m["user"]["id"] for m in second["members"]] == [others[2].id, others[3].id]
    assert second["next_cursor"] is None


async def test_removed_member_gets_404_at_once(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=a.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)).status_code == 404
    assert (await client.get(f"/v1/chats/{chat['id']}/messages", headers=b.headers)).status_code == 404
    r = await client.post(
        f"/v1/chats/{chat['id']}/messages", json={"client_msg_id": "z", "text": "x"}, headers=b.headers
    )
    assert r.status_code == 404
    assert (await client.get("/v1/chats", headers=b.headers)).json()["chats"] == []


async def test_title_with_nul_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.post("/v1/chats", json={"kind": "group", "title": "a\u0000b", "member_ids": []}, headers=a.headers)
    assert r.status_code == 422


async def test_ids_beyond_bigint_are_422_not_500(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    huge = 2**64 - 1
    cid = chat["id"]
    for method, path, body in [
        ("POST", "/v1/chats", {"kind": "group", "member_ids": [huge]}),
        ("POST", f"/v1/chats/{cid}/members", {"user_id": huge}),
        ("POST", f"/v1/chats/{cid}/read", {"seq": huge}),
        ("POST", f"/v1/chats/{cid}/messages", {"client_msg_id": "h", "text": "x", "reply_to_id": huge}),
    ]:
        r = await client.request(method, path, json=body, headers=a.headers)
        assert r.status_code == 422, (path, r.text)
    r = await client.get(f"/v1/chats/{cid}/messages", params={"before": huge}, headers=a.headers)
    assert r.status_code == 422


async def test_chat_list_last_message_carries_attachments(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    medium = await uploaded(client, a, b"notes", "text/plain", "notes.txt")
    sent = await send(client, a, chat["id"], "", attachment_ids=[medium["id"]])
    listed = (await client.get("/v1/chats", headers=a.headers)).json()["chats"][0]["last_message"]
    single = (await client.get(f"/v1/chats/{chat['id']}", headers=a.headers)).json()["chat"]["last_message"]
    assert listed == single == sent
    assert [m["id"] for m in listed["attachments"]] == [medium["id"]]
