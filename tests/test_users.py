"""Users: own profile, public profiles, prefix search; the batched loader other areas reuse."""

from __future__ import annotations

import asyncpg
import httpx

from messenger import users
from messenger.db import Database, Q

from .factories import make_user

PUBLIC_FIELDS = {"id", "username", "display_name", "bio", "avatar_url", "created_at"}


async def test_me_includes_email(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db, display_name="Alice A.")
    r = await client.get("/v1/users/me", headers=alice.headers)
    assert r.status_code == 200
    user = r.json()["user"]
    assert PUBLIC_FIELDS | {"email"} <= set(user)
    assert (user["id"], user["username"], user["email"], user["display_name"]) == (
        alice.id,
        alice.username,
        alice.email,
        "Alice A.",
    )
    assert user["bio"] == "" and user["avatar_url"] is None


async def test_other_users_are_public_fields_only(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    bob = await make_user(db)
    r = await client.get(f"/v1/users/{bob.id}", headers=alice.headers)
    assert r.status_code == 200
    user = r.json()["user"]
    assert set(user) == PUBLIC_FIELDS
    assert user["username"] == bob.username


async def test_unknown_or_malformed_user_id_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    for target in ("999999999", "abc", "-1", "1" * 30):
        r = await client.get(f"/v1/users/{target}", headers=alice.headers)
        assert r.status_code == 404, target
        assert r.json()["error"]["code"] in ("user_not_found", "not_found")


async def test_users_endpoints_need_a_token(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    bob = await make_user(db)
    for path in ("/v1/users/me", f"/v1/users/{bob.id}", "/v1/users?q=a"):
        assert (await client.get(path)).status_code == 401, path
    assert (await client.patch("/v1/users/me", json={"bio": "x"})).status_code == 401


async def test_patch_me_updates_display_name_and_bio(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    r = await client.patch(
        "/v1/users/me", json={"display_name": "Алиса 🌸", "bio": "line one\nline two"}, headers=alice.headers
    )
    assert r.status_code == 200
    assert (r.json()["user"]["display_name"], r.json()["user"]["bio"]) == ("Алиса 🌸", "line one\nline two")
    r = await client.patch("/v1/users/me", json={"bio": ""}, headers=alice.headers)
    assert (r.json()["user"]["display_name"], r.json()["user"]["bio"]) == ("Алиса 🌸", "")
    r = await client.get(f"/v1/users/{alice.id}", headers=alice.headers)
    assert r.json()["user"]["display_name"] == "Алиса 🌸"


async def test_patch_me_with_no_fields_changes_nothing(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db, display_name="Same")
    r = await client.patch("/v1/users/me", json={}, headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["user"]["display_name"] == "Same"


async def test_patch_me_validates_fields(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    for body in (
        {"display_name": ""},
        {"display_name": "   "},
        {"display_name": "x" * 65},
        {"display_name": "two\nlines"},
        {"display_name": None},
        {"bio": "x" * 501},
        {"bio": "nul \x00 byte"},
        {"bio": 5},
    ):
        r = await client.patch("/v1/users/me", json=body, headers=alice.headers)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "validation_error"


async def test_patch_me_rejects_an_avatar_that_is_no_uploaded_image_of_mine(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    alice = await make_user(db)
    r = await client.patch("/v1/users/me", json={"avatar_media_id": 12345}, headers=alice.headers)
    assert r.status_code == 422
    r = await client.patch("/v1/users/me", json={"avatar_media_id": None}, headers=alice.headers)
    assert r.status_code == 200
    assert r.json()["user"]["avatar_url"] is None


async def test_patch_me_malformed_json_is_400(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    r = await client.patch(
        "/v1/users/me", content=b"{bio:", headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 400


# -- search --------------------------------------------------------------------------------


async def search(client: httpx.AsyncClient, headers: dict[str, str], **params: object) -> httpx.Response:
    return await client.get("/v1/users", params=params, headers=headers)


async def test_search_by_username_prefix_case_insensitive(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    await make_user(db, username="Zebra_one", display_name="First")
    await make_user(db, username="zebra.two", display_name="Second")
    await make_user(db, username="azebra", display_name="Third")
    r = await search(client, me.headers, q="ZEB")
    assert r.status_code == 200
    body = r.json()
    # By lowercased username in byte order: "." sorts before "_".
    assert [u["username"] for u in body["users"]] == ["zebra.two", "Zebra_one"]
    assert body["next_cursor"] is None
    assert all(set(u) == PUBLIC_FIELDS for u in body["users"])


async def test_search_by_display_name_prefix(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    await make_user(db, username="q_first", display_name="Élodie Martin")
    await make_user(db, username="q_second", display_name="Martin Élodie")
    r = await search(client, me.headers, q="élo")
    assert [u["username"] for u in r.json()["users"]] == ["q_first"]
    r = await search(client, me.headers, q="@q_s")
    assert [u["username"] for u in r.json()["users"]] == ["q_second"]


async def test_search_treats_like_wildcards_literally(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    await make_user(db, username="under_score", display_name="100% sure")
    await make_user(db, username="underXscore", display_name="100 percent")
    assert [u["username"] for u in (await search(client, me.headers, q="under_")).json()["users"]] == ["under_score"]
    assert [u["username"] for u in (await search(client, me.headers, q="100%")).json()["users"]] == ["under_score"]
    assert (await search(client, me.headers, q="%")).json()["users"] == []


async def test_search_leaves_out_unverified_accounts(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    await make_user(db, username="ghost_user", verified=False)
    assert (await search(client, me.headers, q="ghost")).json()["users"] == []


async def test_search_pages_with_a_cursor(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    names = [f"pager{i:02d}" for i in range(25)]
    for name in reversed(names):
        await make_user(db, username=name)
    first = (await search(client, me.headers, q="pager")).json()
    assert [u["username"] for u in first["users"]] == names[:20]
    rest = (await search(client, me.headers, q="pager", cursor=first["next_cursor"])).json()
    assert [u["username"] for u in rest["users"]] == names[20:]
    assert rest["next_cursor"] is None
    small = (await search(client, me.headers, q="pager", limit=3)).json()
    assert [u["username"] for u in small["users"]] == names[:3]


async def test_search_validates_its_query(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    me = await make_user(db)
    for params in (
        {},
        {"q": ""},
        {"q": "a", "limit": 0},
        {"q": "a", "limit": 51},
        {"q": "a", "limit": "x"},
        {"q": "\x00"},
    ):
        r = await search(client, me.headers, **params)
        assert r.status_code == 422, params
    assert (await search(client, me.headers, q="a", limit=50)).status_code == 200


async def test_search_can_use_the_prefix_indexes(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("PREPARE s(text, text, int) AS " + Q.search_users)
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN EXECUTE s('abc', '', 21)"))
        await conn.execute("DEALLOCATE s")
    assert "users_username_prefix" in plan and "users_display_name_prefix" in plan, plan


async def test_public_by_ids_loads_many_users_in_one_call(database: str, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    b = await make_user(db)
    conn = await Database.connect(database, min_size=1, max_size=1)
    try:
        found = await users.public_by_ids(conn, [a.id, b.id, a.id, 999999999])
        assert await users.public_by_ids(conn, []) == {}
    finally:
        await conn.close()
    assert set(found) == {a.id, b.id}
    assert found[a.id].username == a.username and isinstance(found[b.id], users.User)
