"""Read state and presence that survive a reload: read markers in the chat list and the member
list, the `ready` presence snapshot, GET /v1/presence and the last-seen privacy switch."""

from __future__ import annotations

import asyncpg
import httpx

from .factories import make_user
from .rig import Server
from .wsclient import WsClient, make_chat


async def _send(http: httpx.AsyncClient, user_headers: dict[str, str], chat: int, text: str) -> int:
    r = await http.post(f"/v1/chats/{chat}/messages", json={"client_msg_id": text, "text": text}, headers=user_headers)
    assert r.status_code in (200, 201), r.text
    seq: int = r.json()["message"]["seq"]
    return seq


async def test_chat_list_carries_own_and_others_read_markers(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob = await make_user(db), await make_user(db)
    chat = await make_chat(client, alice, [bob], kind="direct")
    await _send(client, alice.headers, chat, "one")
    second = await _send(client, alice.headers, chat, "two")
    r = await client.post(f"/v1/chats/{chat}/read", json={"seq": 1}, headers=bob.headers)
    assert r.status_code in (200, 204), r.text
    listed = (await client.get("/v1/chats", headers=alice.headers)).json()["chats"][0]
    assert (listed["last_read_seq"], listed["others_read_seq"]) == (second, 1)
    single = (await client.get(f"/v1/chats/{chat}", headers=bob.headers)).json()["chat"]
    assert (single["last_read_seq"], single["others_read_seq"], single["unread_count"]) == (1, second, 1)


async def test_sending_moves_the_senders_marker_seen_by_others(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob, carol = [await make_user(db) for _ in range(3)]
    chat = await make_chat(client, alice, [bob, carol])
    await _send(client, alice.headers, chat, "hello")
    reply = await _send(client, bob.headers, chat, "hi")
    listed = (await client.get("/v1/chats", headers=alice.headers)).json()["chats"][0]
    assert listed["others_read_seq"] == reply


async def test_members_carry_their_read_markers(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob, carol = [await make_user(db) for _ in range(3)]
    chat = await make_chat(client, alice, [bob, carol])
    sent = await _send(client, alice.headers, chat, "hello")
    await client.post(f"/v1/chats/{chat}/read", json={"seq": sent}, headers=carol.headers)
    members = (await client.get(f"/v1/chats/{chat}/members", headers=alice.headers)).json()["members"]
    assert {m["user"]["id"]: m["last_read_seq"] for m in members} == {alice.id: sent, bob.id: 0, carol.id: sent}


async def test_chat_updated_carries_read_marker_floors_true_for_every_member(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """The shared frame cannot hold each reader's own markers; it holds floors (the lowest
    marker, the second highest) instead of 0, and they hold for every member."""
    alice, bob, carol = [await make_user(db) for _ in range(3)]
    chat = await make_chat(client, alice, [bob, carol])
    for text in ("one", "two", "three"):
        await _send(client, alice.headers, chat, text)  # alice's marker: 3
    await client.post(f"/v1/chats/{chat}/read", json={"seq": 2}, headers=bob.headers)
    await client.post(f"/v1/chats/{chat}/read", json={"seq": 1}, headers=carol.headers)
    cursor = (await client.get("/v1/sync", headers=bob.headers)).json()["cursor"]
    r = await client.patch(f"/v1/chats/{chat}", json={"title": "renamed"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    events = (await client.get("/v1/sync", params={"since": cursor}, headers=bob.headers)).json()["events"]
    (shared,) = [e["chat"] for e in events if e["type"] == "chat_updated"]
    assert (shared["last_read_seq"], shared["others_read_seq"]) == (1, 2)
    for user in (alice, bob, carol):
        own = (await client.get(f"/v1/chats/{chat}", headers=user.headers)).json()["chat"]
        assert shared["last_read_seq"] <= own["last_read_seq"]
        assert shared["others_read_seq"] <= own["others_read_seq"]


async def test_ready_names_peers_that_were_online_before(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob, carol = [await make_user(db) for _ in range(3)]
    await make_chat(client, alice, [bob], kind="direct")
    await make_chat(client, alice, [carol])
    wb = await WsClient.open(server.ws_url, bob.token)
    wc = await WsClient.open(server.ws_url, carol.token)
    wa = await WsClient.open(server.ws_url, alice.token)
    assert sorted(wa.ready["presence"]) == sorted([bob.id, carol.id])
    for ws in (wa, wb, wc):
        await ws.close()


async def test_ready_leaves_out_strangers_and_large_groups(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob, stranger = [await make_user(db) for _ in range(3)]
    crowd = [await make_user(db) for _ in range(100)]
    await make_chat(client, alice, [bob, *crowd])  # 102 members: too large for the snapshot
    wb = await WsClient.open(server.ws_url, bob.token)
    ws_stranger = await WsClient.open(server.ws_url, stranger.token)
    wa = await WsClient.open(server.ws_url, alice.token)
    assert wa.ready["presence"] == []
    for ws in (wa, wb, ws_stranger):
        await ws.close()


async def test_presence_reports_online_then_last_seen_after_grace(
    server: Server, client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice, bob = await make_user(db), await make_user(db)
    await make_chat(client, alice, [bob], kind="direct")
    wa = await WsClient.open(server.ws_url, alice.token)
    wb = await WsClient.open(server.ws_url, bob.token)
    await wa.expect("presence", user_id=bob.id)
    r = await client.get("/v1/presence", params={"user_ids": f"{bob.id}"}, headers=alice.headers)
    assert r.json()["presence"][0]["online"] is True
    await wb.close()
    assert (await wa.expect("presence", user_id=bob.id, timeout=15))["online"] is False
    (entry,) = (await client.get("/v1/presence", params={"user_ids": f"{bob.id}"}, headers=alice.headers)).json()[
        "presence"
    ]
    assert entry["online"] is False and entry["last_seen_at"] is not None
    await wa.close()


async def test_presence_leaves_out_users_sharing_no_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob, stranger = [await make_user(db) for _ in range(3)]
    await make_chat(client, alice, [bob])
    r = await client.get("/v1/presence", params={"user_ids": f"{bob.id},{stranger.id}"}, headers=alice.headers)
    assert [p["user_id"] for p in r.json()["presence"]] == [bob.id]


async def test_presence_refuses_more_than_200_ids(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    ids = ",".join(str(i) for i in range(1, 202))
    r = await client.get("/v1/presence", params={"user_ids": ids}, headers=alice.headers)
    assert r.status_code == 422


async def test_hidden_last_seen_is_hidden_both_ways(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob = await make_user(db), await make_user(db)
    await make_chat(client, alice, [bob])
    await db.execute("UPDATE users SET last_seen_at = now() WHERE id = ANY($1::bigint[])", [alice.id, bob.id])
    r = await client.patch("/v1/users/me/settings", json={"show_last_seen": False}, headers=alice.headers)
    assert r.json()["settings"]["show_last_seen"] is False

    async def seen(viewer_headers: dict[str, str], target: int) -> object:
        r = await client.get("/v1/presence", params={"user_ids": f"{target}"}, headers=viewer_headers)
        return r.json()["presence"][0]["last_seen_at"]

    assert (await seen(bob.headers, alice.id), await seen(alice.headers, bob.id)) == (None, None)


async def test_last_seen_is_shown_by_default(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice, bob = await make_user(db), await make_user(db)
    await make_chat(client, alice, [bob])
    await db.execute("UPDATE users SET last_seen_at = now() WHERE id = $1", bob.id)
    assert (await client.get("/v1/users/me/settings", headers=alice.headers)).json()["settings"]["show_last_seen"]
    r = await client.get("/v1/presence", params={"user_ids": f"{bob.id}"}, headers=alice.headers)
    assert r.json()["presence"][0]["last_seen_at"] is not None
