"""Accounts end to end: registration, verification, login, refresh rotation, sessions, reset."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from email.message import Message

import asyncpg
import httpx

from messenger.tokens import hash_opaque

from .factories import access_token, make_user
from .rig import Mailbox, Server

PASSWORD = "s3cret-enough"


def _parts(msg: Message) -> dict[str, str]:
    found = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def link_token(msg: Message, path: str) -> str:
    text = _parts(msg)["text/plain"]
    match = re.search(rf"(\S+)/{path}\?token=([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(2)


def new_identity() -> tuple[str, str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    return name, f"{name}@example.com"


async def register(client: httpx.AsyncClient, username: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/v1/auth/register", json={"email": email, "username": username, "password": password})


async def verified_account(
    client: httpx.AsyncClient, mailbox: Mailbox, password: str = PASSWORD
) -> tuple[str, str, dict[str, object]]:
    username, email = new_identity()
    assert (await register(client, username, email, password)).status_code == 201
    (mail,) = await mailbox.wait_for(email)
    r = await client.post("/v1/auth/verify-email", json={"token": link_token(mail, "verify-email")})
    assert r.status_code == 200
    return username, email, r.json()["user"]


async def login(client: httpx.AsyncClient, login: str, password: str = PASSWORD, agent: str = "test") -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"login": login, "password": password}, headers={"User-Agent": agent}
    )


OWN_USER_FIELDS = ("id", "username", "display_name", "bio", "avatar_url", "created_at", "email")


def contract_fields(user: dict[str, object]) -> dict[str, object]:
    """The contract's fields of an own user object (other areas may add fields)."""
    return {k: user[k] for k in OWN_USER_FIELDS}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- registration and verification ---------------------------------------------------------


async def test_register_returns_the_new_user_with_email(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email = new_identity()
    r = await register(client, username, email)
    assert r.status_code == 201
    user = r.json()["user"]
    assert set(OWN_USER_FIELDS) <= set(user) and "password_hash" not in user
    assert (user["username"], user["email"], user["display_name"], user["avatar_url"]) == (
        username,
        email,
        username,
        None,
    )
    assert user["created_at"].endswith("Z")


async def test_register_mails_a_verification_link_in_text_and_html(
    client: httpx.AsyncClient, mailbox: Mailbox, server: Server
) -> None:
    username, email = new_identity()
    await register(client, username, email)
    (mail,) = await mailbox.wait_for(email)
    parts = _parts(mail)
    token = link_token(mail, "verify-email")
    link = f"{server.env['PUBLIC_URL']}/verify-email?token={token}"
    assert link in parts["text/plain"]
    assert link in parts["text/html"]
    assert username not in parts["text/plain"]  # nothing the registrant chose goes into the mail


async def test_register_rejects_a_taken_username_case_insensitively(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    await register(client, username, email)
    r = await register(client, username.upper(), "other-" + email)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "username_taken"


async def test_register_rejects_a_taken_email_case_insensitively(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    await register(client, username, email)
    r = await register(client, username + "x", email.upper())
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "email_taken"


async def test_register_validates_fields(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    bad = [
        {"email": email, "username": "ab", "password": PASSWORD},
        {"email": email, "username": "has space", "password": PASSWORD},
        {"email": email, "username": "x" * 33, "password": PASSWORD},
        {"email": "not-an-email", "username": username, "password": PASSWORD},
        {"email": email, "username": username, "password": "7 chars"},
        {"email": email, "username": username, "password": "p" * 257},
        {"email": email, "username": username, "password": PASSWORD, "display_name": "a\x00b"},
        {"email": email, "username": username, "password": PASSWORD, "display_name": "x" * 65},
        {"email": email, "username": username},
    ]
    for body in bad:
        r = await client.post("/v1/auth/register", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["code"] == "validation_error"


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    for path in ("/v1/auth/register", "/v1/auth/login", "/v1/auth/refresh", "/v1/auth/password/reset"):
        r = await client.post(path, content=b'{"email": ', headers={"Content-Type": "application/json"})
        assert r.status_code == 400, path
        assert r.json()["error"]["code"] == "bad_request"


async def test_password_of_256_characters_is_accepted(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    assert (await register(client, username, email, "ж" * 256)).status_code == 201


async def test_login_before_verification_is_403(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    await register(client, username, email)
    r = await login(client, username)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "email_not_verified"


async def test_wrong_password_of_unverified_account_is_still_401(client: httpx.AsyncClient) -> None:
    username, email = new_identity()
    await register(client, username, email)
    r = await login(client, username, "wrong password")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"


async def test_verify_email_returns_the_user_and_allows_login(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email, user = await verified_account(client, mailbox)
    assert user["username"] == username and user["email"] == email
    assert (await login(client, email)).status_code == 200


async def test_verification_token_is_single_use(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email = new_identity()
    await register(client, username, email)
    token = link_token((await mailbox.wait_for(email))[0], "verify-email")
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 200
    r = await client.post("/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_token"


async def test_unknown_verification_token_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/auth/verify-email", json={"token": "no-such-token"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_token"


async def test_expired_verification_token_is_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Pool
) -> None:
    username, email = new_identity()
    await register(client, username, email)
    token = link_token((await mailbox.wait_for(email))[0], "verify-email")
    await db.execute(
        "UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", hash_opaque(token)
    )
    r = await client.post("/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "token_expired"
    assert (await login(client, username)).status_code == 403


async def test_verification_token_lives_24_hours(client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Pool) -> None:
    username, email = new_identity()
    await register(client, username, email)
    await mailbox.wait_for(email)
    lifetime = await db.fetchval(
        "SELECT extract(epoch FROM t.expires_at - t.created_at) FROM email_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE u.username = $1 AND purpose = 'verify'",
        username,
    )
    assert round(float(lifetime)) == 24 * 3600


async def test_resend_verification_mails_a_new_working_link(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email = new_identity()
    await register(client, username, email)
    await mailbox.wait_for(email)
    r = await client.post("/v1/auth/resend-verification", json={"email": email.upper()})
    assert r.status_code == 202
    mails = await mailbox.wait_for(email, 2)
    token = link_token(mails[-1], "verify-email")
    assert (await client.post("/v1/auth/verify-email", json={"token": token})).status_code == 200


async def test_resend_verification_is_202_for_unknown_and_verified_addresses_without_mail(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email, _ = await verified_account(client, mailbox)
    _, unknown = new_identity()
    known = await client.post("/v1/auth/resend-verification", json={"email": email})
    missing = await client.post("/v1/auth/resend-verification", json={"email": unknown})
    assert (known.status_code, known.content) == (missing.status_code, missing.content)
    assert known.status_code == 202
    await asyncio.sleep(0.5)  # give a wrongly queued mail time to arrive
    assert len(mailbox.to(email)) == 1 and mailbox.to(unknown) == []


# -- login ---------------------------------------------------------------------------------


async def test_login_by_username_or_email_in_any_case(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email, user = await verified_account(client, mailbox)
    for name in (username, username.upper(), email, email.upper()):
        r = await login(client, name)
        assert r.status_code == 200, name
        body = r.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        assert contract_fields(body["user"]) == contract_fields(user)


async def test_access_token_from_login_authenticates(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, user = await verified_account(client, mailbox)
    tokens = (await login(client, username)).json()
    r = await client.get("/v1/users/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200
    assert contract_fields(r.json()["user"]) == contract_fields(user)


async def test_unknown_login_and_wrong_password_look_the_same(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    wrong = await login(client, username, "not the password")
    unknown = await login(client, "nobody_" + username, "not the password")
    unknown_email = await login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == unknown_email.status_code == 401
    assert wrong.content == unknown.content == unknown_email.content
    assert wrong.json()["error"]["code"] == "invalid_credentials"


async def test_long_password_is_not_truncated_to_72_bytes(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    password = "é" * 30 + "the part after seventy-two bytes"
    assert len(password.encode()) > 72
    first_72_bytes = password.encode()[:72].decode()
    username, _, _ = await verified_account(client, mailbox, password)
    assert (await login(client, username, password)).status_code == 200
    assert (await login(client, username, first_72_bytes)).status_code == 401
    assert (await login(client, username, password[:-1])).status_code == 401


async def test_login_validates_its_body(client: httpx.AsyncClient) -> None:
    for body in ({"login": "someone"}, {"login": "", "password": "x"}, {"login": 5, "password": "x"}):
        r = await client.post("/v1/auth/login", json=body)
        assert r.status_code == 422, body


# -- access tokens -------------------------------------------------------------------------


async def test_expired_access_token_is_401(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    token = access_token(user.id, user.session_id, now=time.time() - 3600)
    r = await client.get("/v1/users/me", headers=bearer(token))
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_expired"


async def test_missing_or_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/auth/sessions")).status_code == 401
    assert (await client.get("/v1/auth/sessions", headers=bearer("garbage"))).status_code == 401
    assert (await client.post("/v1/auth/logout", json={"refresh_token": "x"})).status_code == 401


# -- refresh -------------------------------------------------------------------------------


async def test_refresh_returns_a_new_pair_that_works(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, user = await verified_account(client, mailbox)
    first = (await login(client, username)).json()
    r = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert contract_fields(second["user"]) == contract_fields(user) and second["token_type"] == "bearer"
    assert (await client.get("/v1/users/me", headers=bearer(second["access_token"]))).status_code == 200
    third = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200


async def test_reused_refresh_token_revokes_the_whole_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    first = (await login(client, username)).json()
    second = (await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    r = await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_reused"
    # Every token of the family is dead: the newest refresh token and the access tokens.
    r = await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "session_ended"
    for access in (first["access_token"], second["access_token"]):
        r = await client.get("/v1/users/me", headers=bearer(access))
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "session_ended"


async def test_reuse_ends_only_that_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    victim = (await login(client, username)).json()
    other = (await login(client, username)).json()
    await client.post("/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})
    await client.post("/v1/auth/refresh", json={"refresh_token": victim["refresh_token"]})
    assert (await client.get("/v1/users/me", headers=bearer(other["access_token"]))).status_code == 200


async def test_concurrent_double_refresh_has_exactly_one_success(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    for _ in range(3):
        tokens = (await login(client, username)).json()
        body = {"refresh_token": tokens["refresh_token"]}
        results = await asyncio.gather(*(client.post("/v1/auth/refresh", json=body) for _ in range(2)))
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 401]
        loser = next(r for r in results if r.status_code == 401)
        assert loser.json()["error"]["code"] == "token_reused"


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/auth/refresh", json={"refresh_token": "nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"


async def test_expired_refresh_token_is_401(client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Pool) -> None:
    username, _, _ = await verified_account(client, mailbox)
    tokens = (await login(client, username)).json()
    await db.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
        hash_opaque(tokens["refresh_token"]),
    )
    r = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "token_expired"


# -- logout and sessions -------------------------------------------------------------------


async def test_logout_ends_the_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    tokens = (await login(client, username)).json()
    headers = bearer(tokens["access_token"])
    r = await client.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=headers)
    assert r.status_code == 204
    assert (await client.get("/v1/users/me", headers=headers)).status_code == 401
    r = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "session_ended"


async def test_logout_cannot_end_someone_elses_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    alice, _, _ = await verified_account(client, mailbox)
    bob, _, _ = await verified_account(client, mailbox)
    a = (await login(client, alice)).json()
    b = (await login(client, bob)).json()
    r = await client.post(
        "/v1/auth/logout", json={"refresh_token": a["refresh_token"]}, headers=bearer(b["access_token"])
    )
    assert r.status_code == 204
    assert (await client.get("/v1/users/me", headers=bearer(a["access_token"]))).status_code == 200


async def test_sessions_lists_live_sessions_and_marks_the_current_one(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    username, _, _ = await verified_account(client, mailbox)
    phone = (await login(client, username, agent="phone/1.0")).json()
    laptop = (await login(client, username, agent="laptop/2.0")).json()
    r = await client.get("/v1/auth/sessions", headers=bearer(laptop["access_token"]))
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert [(s["user_agent"], s["current"]) for s in sessions] == [("laptop/2.0", True), ("phone/1.0", False)]
    for s in sessions:
        assert set(s) == {"id", "created_at", "last_used_at", "user_agent", "current"}
    await client.post(
        "/v1/auth/logout", json={"refresh_token": phone["refresh_token"]}, headers=bearer(phone["access_token"])
    )
    r = await client.get("/v1/auth/sessions", headers=bearer(laptop["access_token"]))
    assert [s["user_agent"] for s in r.json()["sessions"]] == ["laptop/2.0"]


async def test_refresh_updates_the_sessions_user_agent_and_last_use(
    client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Pool
) -> None:
    username, _, _ = await verified_account(client, mailbox)
    tokens = (await login(client, username, agent="app/1")).json()
    await db.execute("UPDATE sessions SET last_used_at = now() - interval '1 hour'")
    r = await client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers={"User-Agent": "app/2"}
    )
    (session,) = (await client.get("/v1/auth/sessions", headers=bearer(r.json()["access_token"]))).json()["sessions"]
    assert session["user_agent"] == "app/2"
    assert session["last_used_at"] > session["created_at"]


async def test_sessions_query_is_validated(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    for params in ({"limit": 0}, {"limit": 101}, {"cursor": "x"}, {"cursor": str(2**64)}, {"cursor": "-1"}):
        r = await client.get("/v1/auth/sessions", params=params, headers=alice.headers)
        assert r.status_code == 422, params


async def test_sessions_list_is_paginated(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    tokens = [(await login(client, username, agent=f"agent{i}")).json() for i in range(3)]
    headers = bearer(tokens[0]["access_token"])
    page = (await client.get("/v1/auth/sessions", params={"limit": 2}, headers=headers)).json()
    assert [s["user_agent"] for s in page["sessions"]] == ["agent2", "agent1"]
    rest = (
        await client.get("/v1/auth/sessions", params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers)
    ).json()
    assert [s["user_agent"] for s in rest["sessions"]] == ["agent0"]
    assert rest["next_cursor"] is None


async def test_revoking_a_session_kills_its_tokens(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, _, _ = await verified_account(client, mailbox)
    old = (await login(client, username, agent="old")).json()
    new = (await login(client, username, agent="new")).json()
    sessions = (await client.get("/v1/auth/sessions", headers=bearer(new["access_token"]))).json()["sessions"]
    old_id = next(s["id"] for s in sessions if s["user_agent"] == "old")
    r = await client.delete(f"/v1/auth/sessions/{old_id}", headers=bearer(new["access_token"]))
    assert r.status_code == 204
    assert (await client.get("/v1/users/me", headers=bearer(old["access_token"]))).status_code == 401
    r = await client.post("/v1/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert r.json()["error"]["code"] == "session_ended"
    assert (await client.get("/v1/users/me", headers=bearer(new["access_token"]))).status_code == 200


async def test_revoking_someone_elses_or_an_unknown_session_is_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    alice = await make_user(db)
    bob = await make_user(db)
    for target in (str(bob.session_id), "999999999", "abc"):
        r = await client.delete(f"/v1/auth/sessions/{target}", headers=alice.headers)
        assert r.status_code == 404, target
    assert (await client.get("/v1/users/me", headers=bob.headers)).status_code == 200


# -- password reset ------------------------------------------------------------------------


async def test_forgot_password_is_202_whether_or_not_the_address_exists(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    _, email, _ = await verified_account(client, mailbox)
    _, unknown = new_identity()
    known = await client.post("/v1/auth/password/forgot", json={"email": email})
    missing = await client.post("/v1/auth/password/forgot", json={"email": unknown})
    assert known.status_code == missing.status_code == 202
    assert known.content == missing.content
    (mail,) = [m for m in await mailbox.wait_for(email, 2) if "reset-password" in _parts(m)["text/plain"]]
    assert "reset-password?token=" in _parts(mail)["text/html"]
    assert mailbox.to(unknown) == []


async def reset_token(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    before = len(mailbox.to(email))
    assert (await client.post("/v1/auth/password/forgot", json={"email": email})).status_code == 202
    mails = await mailbox.wait_for(email, before + 1)
    return link_token(mails[-1], "reset-password")


async def test_reset_password_changes_it_and_ends_every_session(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email, user = await verified_account(client, mailbox)
    a = (await login(client, username)).json()
    b = (await login(client, username)).json()
    token = await reset_token(client, mailbox, email)
    r = await client.post("/v1/auth/password/reset", json={"token": token, "password": "a brand new password"})
    assert r.status_code == 200
    assert contract_fields(r.json()["user"]) == contract_fields(user)
    for tokens in (a, b):
        assert (await client.get("/v1/users/me", headers=bearer(tokens["access_token"]))).status_code == 401
        r = await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert r.status_code == 401
    assert (await login(client, username)).status_code == 401
    assert (await login(client, username, "a brand new password")).status_code == 200


async def test_reset_token_is_single_use(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    _, email, _ = await verified_account(client, mailbox)
    token = await reset_token(client, mailbox, email)
    assert (await client.post("/v1/auth/password/reset", json={"token": token, "password": "first new one"})).is_success
    r = await client.post("/v1/auth/password/reset", json={"token": token, "password": "second new one"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_token"


async def test_newer_reset_token_voids_older_ones(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email, _ = await verified_account(client, mailbox)
    older = await reset_token(client, mailbox, email)
    newer = await reset_token(client, mailbox, email)
    r = await client.post("/v1/auth/password/reset", json={"token": older, "password": "from the old link"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_token"
    r = await client.post("/v1/auth/password/reset", json={"token": newer, "password": "from the new link"})
    assert r.status_code == 200
    assert (await login(client, username, "from the new link")).status_code == 200


async def test_expired_reset_token_is_rejected(client: httpx.AsyncClient, mailbox: Mailbox, db: asyncpg.Pool) -> None:
    _, email, _ = await verified_account(client, mailbox)
    token = await reset_token(client, mailbox, email)
    lifetime = await db.fetchval(
        "SELECT extract(epoch FROM expires_at - created_at) FROM email_tokens WHERE token_hash = $1",
        hash_opaque(token),
    )
    assert round(float(lifetime)) == 3600
    await db.execute(
        "UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1", hash_opaque(token)
    )
    r = await client.post("/v1/auth/password/reset", json={"token": token, "password": "too late now"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "token_expired"


async def test_reset_validates_the_new_password(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    _, email, _ = await verified_account(client, mailbox)
    token = await reset_token(client, mailbox, email)
    r = await client.post("/v1/auth/password/reset", json={"token": token, "password": "short"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
    assert (await client.post("/v1/auth/password/reset", json={"token": token, "password": "long enough"})).is_success


async def test_reset_verifies_an_unverified_address(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    username, email = new_identity()
    await register(client, username, email)
    await mailbox.wait_for(email)
    token = await reset_token(client, mailbox, email)
    assert (await client.post("/v1/auth/password/reset", json={"token": token, "password": PASSWORD})).is_success
    assert (await login(client, username)).status_code == 200
