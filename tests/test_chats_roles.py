"""Roles: who may rename, delete, add, remove, change roles and leave; ownership hand-over."""

from __future__ import annotations

from urllib.parse import quote

import asyncpg
import httpx
import pytest

from .chat_factories import add, cast, new_chat, send
from .factories import make_user


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("member", 403)])
async def test_rename_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    r = await client.patch(
        f"/v1/chats/{c.id}", json={"title": "New", "description": "About"}, headers=c.by_role(role).headers
    )
    assert r.status_code == status
    if status == 200:
        chat = r.json()["chat"]
        assert (chat["title"], chat["description"], chat["role"]) == ("New", "About", role)


async def test_rename_leaves_absent_fields_and_clears_null_ones(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    url = f"/v1/chats/{c.id}"
    await client.patch(url, json={"title": "T", "description": "D"}, headers=c.owner.headers)
    r = await client.patch(url, json={"description": None}, headers=c.owner.headers)
    assert (r.json()["chat"]["title"], r.json()["chat"]["description"]) == ("T", None)


async def test_rename_rejects_empty_or_long_title(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    for title in ("", "x" * 129):
        r = await client.patch(f"/v1/chats/{c.id}", json={"title": title}, headers=c.owner.headers)
        assert r.status_code == 422


@pytest.mark.parametrize(("role", "status"), [("owner", 204), ("admin", 403), ("member", 403)])
async def test_delete_chat_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    assert (await client.delete(f"/v1/chats/{c.id}", headers=c.by_role(role).headers)).status_code == status
    after = await client.get(f"/v1/chats/{c.id}", headers=c.member.headers)
    assert after.status_code == (404 if status == 204 else 200)


async def test_deleting_a_chat_deletes_its_messages_and_what_hangs_on_them(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    c = await cast(client, db)
    kept = await new_chat(client, c.owner, "group", c.member)
    message = await send(client, c.member, c.id, "goes")
    await send(client, c.member, kept["id"], "stays")
    reacted = await client.put(
        f"/v1/chats/{c.id}/messages/{message['id']}/reactions/{quote('👍', safe='')}", headers=c.owner.headers
    )
    assert reacted.is_success, reacted.text
    assert await db.fetchval("SELECT count(*) FROM reactions WHERE message_id = $1", message["id"]) == 1
    assert (await client.delete(f"/v1/chats/{c.id}", headers=c.owner.headers)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", c.id) == 0
    assert await db.fetchval("SELECT count(*) FROM reactions WHERE message_id = $1", message["id"]) == 0
    assert await db.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", kept["id"]) == 1


@pytest.mark.parametrize(("role", "status"), [("owner", 201), ("admin", 201), ("member", 403)])
async def test_add_member_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    r = await add(client, c.by_role(role), c.id, c.outsider)
    assert r.status_code == status
    if status == 201:
        member = r.json()["member"]
        assert (member["user"]["id"], member["role"]) == (c.outsider.id, "member")
        assert (await client.get(f"/v1/chats/{c.id}", headers=c.outsider.headers)).json()["chat"]["member_count"] == 4


@pytest.mark.parametrize(("role", "status"), [("owner", 201), ("admin", 403)])
async def test_only_owner_adds_admins(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    assert (await add(client, c.by_role(role), c.id, c.outsider, "admin")).status_code == status


async def test_add_as_owner_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    assert (await add(client, c.owner, c.id, c.outsider, "owner")).status_code == 422


async def test_add_existing_member_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    r = await add(client, c.owner, c.id, c.member)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_member"


async def test_add_unknown_user_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    r = await client.post(f"/v1/chats/{c.id}/members", json={"user_id": 10**9}, headers=c.owner.headers)
    assert r.status_code == 422


async def test_add_to_direct_chat_is_403(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b, c = [await make_user(db) for _ in range(3)]
    chat = await new_chat(client, a, "direct", b)
    assert (await add(client, a, chat["id"], c)).status_code == 403


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 403), ("member", 403)])
async def test_change_role_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str, status: int) -> None:
    c = await cast(client, db)
    r = await client.patch(
        f"/v1/chats/{c.id}/members/{c.member.id}", json={"role": "admin"}, headers=c.by_role(role).headers
    )
    assert r.status_code == status
    if status == 200:
        assert r.json()["member"]["role"] == "admin"


async def test_owner_cannot_change_own_role(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    r = await client.patch(f"/v1/chats/{c.id}/members/{c.owner.id}", json={"role": "member"}, headers=c.owner.headers)
    assert r.status_code == 409


async def test_change_role_of_non_member_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    url = f"/v1/chats/{c.id}/members/{c.outsider.id}"
    assert (await client.patch(url, json={"role": "admin"}, headers=c.owner.headers)).status_code == 404


async def test_change_role_rejects_unknown_role(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    url = f"/v1/chats/{c.id}/members/{c.member.id}"
    assert (await client.patch(url, json={"role": "king"}, headers=c.owner.headers)).status_code == 422


async def test_giving_owner_role_transfers_ownership(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    r = await client.patch(f"/v1/chats/{c.id}/members/{c.member.id}", json={"role": "owner"}, headers=c.owner.headers)
    assert r.status_code == 200
    roles = {
        m["user"]["id"]: m["role"]
        for m in (await client.get(f"/v1/chats/{c.id}/members", headers=c.owner.headers)).json()["members"]
    }
    assert roles == {c.owner.id: "admin", c.admin.id: "admin", c.member.id: "owner"}
    assert (await client.delete(f"/v1/chats/{c.id}", headers=c.owner.headers)).status_code == 403


@pytest.mark.parametrize(
    ("actor", "target", "status"),
    [
        ("owner", "admin", 204),
        ("owner", "member", 204),
        ("admin", "member", 204),
        ("admin", "owner", 403),
        ("member", "admin", 403),
        ("member", "owner", 403),
    ],
)
async def test_remove_by_role(
    client: httpx.AsyncClient, db: asyncpg.Pool, actor: str, target: str, status: int
) -> None:
    c = await cast(client, db)
    victim = c.by_role(target)
    r = await client.delete(f"/v1/chats/{c.id}/members/{victim.id}", headers=c.by_role(actor).headers)
    assert r.status_code == status
    still = await client.get(f"/v1/chats/{c.id}", headers=victim.headers)
    assert still.status_code == (404 if status == 204 else 200)


async def test_admin_cannot_remove_another_admin(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    second = await make_user(db)
    assert (await add(client, c.owner, c.id, second, "admin")).status_code == 201
    r = await client.delete(f"/v1/chats/{c.id}/members/{second.id}", headers=c.admin.headers)
    assert r.status_code == 403


async def test_remove_non_member_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    r = await client.delete(f"/v1/chats/{c.id}/members/{c.outsider.id}", headers=c.owner.headers)
    assert r.status_code == 404


async def test_removing_the_peer_of_a_direct_chat_is_403(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{b.id}", headers=a.headers)).status_code == 403


async def test_both_members_of_a_direct_chat_are_plain_members(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    r = await client.get(f"/v1/chats/{chat['id']}/members", headers=b.headers)
    assert chat["role"] == "member"
    assert sorted(m["role"] for m in r.json()["members"]) == ["member", "member"]


async def test_direct_chat_creator_cannot_change_the_peers_role(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    r = await client.patch(f"/v1/chats/{chat['id']}/members/{b.id}", json={"role": "owner"}, headers=a.headers)
    assert r.status_code == 403


async def test_direct_chat_creator_cannot_delete_the_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    assert (await client.delete(f"/v1/chats/{chat['id']}", headers=a.headers)).status_code == 403


async def test_direct_chat_creator_cannot_delete_the_peers_message(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    message = await send(client, b, chat["id"], "mine")
    r = await client.delete(f"/v1/chats/{chat['id']}/messages/{message['id']}", headers=a.headers)
    assert r.status_code == 403


async def test_either_member_may_leave_a_direct_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "direct", b)
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{a.id}", headers=a.headers)).status_code == 204
    r = await client.get(f"/v1/chats/{chat['id']}", headers=b.headers)
    assert r.json()["chat"]["member_count"] == 1


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_leave_by_role(client: httpx.AsyncClient, db: asyncpg.Pool, role: str) -> None:
    c = await cast(client, db)
    me = c.by_role(role)
    assert (await client.delete(f"/v1/chats/{c.id}/members/{me.id}", headers=me.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{c.id}", headers=me.headers)).status_code == 404
    assert (await client.get(f"/v1/chats/{c.id}", headers=c.owner.headers)).json()["chat"]["member_count"] == 2


async def test_leaving_owner_hands_over_to_longest_standing_admin(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    later_admin = await make_user(db)
    assert (await add(client, c.owner, c.id, later_admin, "admin")).status_code == 201
    assert (await client.delete(f"/v1/chats/{c.id}/members/{c.owner.id}", headers=c.owner.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{c.id}", headers=c.admin.headers)).json()["chat"]["role"] == "owner"
    assert (await client.get(f"/v1/chats/{c.id}", headers=later_admin.headers)).json()["chat"]["role"] == "admin"


async def test_leaving_owner_without_admins_hands_over_to_longest_standing_member(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner, first, second = [await make_user(db) for _ in range(3)]
    chat = await new_chat(client, owner, "group")
    for u in (first, second):
        assert (await add(client, owner, chat["id"], u)).status_code == 201
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{owner.id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=first.headers)).json()["chat"]["role"] == "owner"
    assert (await client.get(f"/v1/chats/{chat['id']}", headers=second.headers)).json()["chat"]["role"] == "member"


async def test_last_member_leaving_deletes_the_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    chat = await new_chat(client, a, "group")
    await send(client, a, chat["id"])
    assert (await client.delete(f"/v1/chats/{chat['id']}/members/{a.id}", headers=a.headers)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM chats WHERE id = $1", chat["id"]) == 0
    assert await db.fetchval("SELECT count(*) FROM messages WHERE chat_id = $1", chat["id"]) == 0


async def test_empty_rename_changes_nothing_and_emits_nothing(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    c = await cast(client, db)
    before = await db.fetchval("SELECT count(*) FROM events")
    r = await client.patch(f"/v1/chats/{c.id}", json={}, headers=c.admin.headers)
    assert (r.status_code, r.json()["chat"]["title"]) == (200, c.chat["title"])
    assert await db.fetchval("SELECT count(*) FROM events") == before
