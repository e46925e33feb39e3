"""Security checks: forged tokens, browser rules (Origin, no ambient credentials), HTML headers,
login timing parity, SQL-injection strings in every parameter, path traversal.

There is no cookie authentication anywhere: the API only reads `Authorization: Bearer`, so a
browser never attaches credentials on its own and cross-site request forgery has nothing to ride
on. The tests below pin that (no Set-Cookie, a cookie alone is 401, no CORS grant to strangers).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from websockets.exceptions import InvalidStatus

from messenger.passwords import hash_sync

from .factories import PASSWORD, User, make_user
from .fuzz.world import OPERATIONS, World, body_properties, is_integer, make_world
from .rig import SECRET_KEY, Server, running_server
from .wsclient import WsClient

# -- forged and misused access tokens ---------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _key(secret: str) -> tuple[str, OctKey]:
    """The server's JWT key derivation (messenger/tokens.py), so forgeries differ in one thing only."""
    material = hmac.new(secret.encode(), b"messenger.jwt.v1", hashlib.sha256).digest()
    return hashlib.sha256(material).hexdigest()[:16], OctKey.import_key(material)


def _claims(user: User, **over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user.id), "sid": user.session_id, "typ": "access", "iat": now, "exp": now + 600, **over}


def _signed(claims: dict[str, Any], secret: str = SECRET_KEY, alg: str = "HS256") -> str:
    kid, key = _key(secret)
    return jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def _forgeries(user: User, victim: User) -> dict[str, str]:
    kid, _ = _key(SECRET_KEY)
    header, payload, signature = user.token.split(".")
    tampered = _b64(json.dumps(_claims(user, sub=str(victim.id), sid=victim.session_id)).encode())
    return {
        "alg_none": ".".join(
            (
                _b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode()),
                _b64(json.dumps(_claims(user)).encode()),
                "",
            )
        ),
        "alg_none_with_signature": ".".join(
            (_b64(json.dumps({"alg": "none", "kid": kid}).encode()), payload, signature)
        ),
        "wrong_key": _signed(_claims(user), secret="not-the-server-secret-0123456789"),
        "tampered_payload": f"{header}.{tampered}.{signature}",
        "expired": _signed(_claims(user, iat=int(time.time()) - 1000, exp=int(time.time()) - 10)),
        "typ_refresh": _signed(_claims(user, typ="refresh")),
        "hs512_same_key": _signed(_claims(user), alg="HS512"),
        "no_kid": jwt.encode({"alg": "HS256"}, _claims(user), _key(SECRET_KEY)[1], algorithms=["HS256"]),
        "truncated": user.token[:-5],
        "garbage": "a.b.c",
    }


FORGERIES = list(_forgeries(User(1, "u", "e", "d", 1, "x.y.z"), User(2, "v", "f", "g", 2, "x.y.z")))


async def test_the_forging_helpers_make_a_valid_token_when_nothing_is_changed(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    # The control: each forgery below differs from this accepted token in one respect only.
    user = await make_user(db)
    r = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {_signed(_claims(user))}"})
    assert r.status_code == 200 and r.json()["user"]["id"] == user.id


@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_or_misused_access_token_is_401(client: httpx.AsyncClient, db: asyncpg.Pool, kind: str) -> None:
    user, victim = await make_user(db), await make_user(db)
    token = _forgeries(user, victim)[kind]
    r = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, (kind, r.text)
    assert r.json()["error"]["code"] in ("unauthorized", "token_expired")


async def test_refresh_token_is_no_access_token(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    login = await client.post("/v1/auth/login", json={"login": user.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    refresh = login.json()["refresh_token"]
    r = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {refresh}"})
    assert r.status_code == 401


async def test_access_token_is_no_refresh_token(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    r = await client.post("/v1/auth/refresh", json={"refresh_token": user.token})
    assert r.status_code == 401


async def test_forged_token_cannot_open_a_socket(server: Server, db: asyncpg.Pool) -> None:
    user, victim = await make_user(db), await make_user(db)
    for kind in ("alg_none", "wrong_key", "tampered_payload"):
        ws = await WsClient.open(server.ws_url, _forgeries(user, victim)[kind], wait_ready=False)
        code, _ = await ws.closed()
        assert code == 4001, kind


# -- browsers: Origin, ambient credentials, CORS ----------------------------------------------


async def test_websocket_from_a_foreign_origin_is_refused_even_with_a_valid_token(
    server: Server, db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    for origin in ("https://evil.example", "null", f"http://127.0.0.1:{server.port}.evil.example"):
        with pytest.raises(InvalidStatus) as refused:
            await WsClient.open(server.ws_url, user.token, origin=origin)
        assert refused.value.response.status_code == 403, origin


async def test_login_sets_no_cookie(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    r = await client.post("/v1/auth/login", json={"login": user.username, "password": PASSWORD})
    assert r.status_code == 200
    assert "set-cookie" not in r.headers


async def test_a_cookie_is_no_credential(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    for name in ("access_token", "token", "session", "Authorization"):
        r = await client.get("/v1/users/me", headers={"Cookie": f"{name}={user.token}"})
        assert r.status_code == 401, name


async def test_a_foreign_origin_gets_no_cors_grant(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    evil = {"Origin": "https://evil.example"}
    r = await client.get("/v1/users/me", headers={**user.headers, **evil})
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-credentials" not in r.headers
    preflight = await client.options(
        "/v1/chats",
        headers={**evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code >= 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_an_allowed_origin_gets_a_cors_grant_without_credentials(
    server_env: dict[str, str], db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    friend = {"Origin": "https://app.example"}
    async with (
        running_server({**server_env, "ALLOWED_ORIGINS": "https://app.example"}) as srv,
        httpx.AsyncClient(base_url=srv.url) as http,
    ):
        r = await http.get("/v1/users/me", headers={**user.headers, **friend})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in r.headers
        preflight = await http.options(
            "/v1/chats",
            headers={
                **friend,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        stranger = await http.get("/v1/users/me", headers={**user.headers, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


# -- HTML security headers --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/chats/123", "/login"])
async def test_html_responses_carry_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "default-src" in directives
    assert "'unsafe-inline'" not in directives.get("script-src", directives["default-src"])
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/assets/..%2f..%2f..%2fpyproject.toml",
        "/..%5c..%5cpyproject.toml",
    ],
)
async def test_static_paths_cannot_climb_out_of_the_web_root(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert "[project]" not in r.text
    assert r.status_code in (200, 404, 503)  # the app shell, a 404, or the "not built" page


# -- login timing parity ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def costly_bcrypt_server(server_env: dict[str, str]) -> AsyncIterator[Server]:
    """bcrypt at cost 10 (tens of ms), so skipping the hash for unknown logins would show."""
    env = {**server_env, "BCRYPT_ROUNDS": "10", "MESSENGER_DATA_DIR": tempfile.mkdtemp(prefix="messenger-sec-")}
    async with running_server(env) as srv:
        yield srv


async def _login_times(c: httpx.AsyncClient, login: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        r = await c.post("/v1/auth/login", json={"login": login, "password": "wrong password here"})
        times.append(time.perf_counter() - start)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_credentials"
    return times


async def test_unknown_login_costs_about_what_a_wrong_password_costs(
    costly_bcrypt_server: Server, db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    password_hash = await asyncio.to_thread(hash_sync, PASSWORD, 10)
    await db.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, password_hash)
    async with httpx.AsyncClient(base_url=costly_bcrypt_server.url, timeout=30) as c:
        await _login_times(c, "warm-up-unknown-user", 2)  # the dummy hash is made on first use
        known = statistics.median(await _login_times(c, user.username, 7))
        unknown = statistics.median(await _login_times(c, "nobody_by_this_name", 7))
    # A correctness property of the dummy-hash defence, not a speed claim: without it the
    # unknown login would be a fraction of a millisecond against tens of milliseconds.
    assert 0.5 * known <= unknown <= 2 * known, (known, unknown)


# -- SQL injection through every parameter ----------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE users; --",
    "1' UNION SELECT password_hash FROM users --",
    "1 OR 1=1",
    "$1",
    "%' --",
    "\\'; DELETE FROM messages; --",
]


@pytest.fixture
async def world(db: asyncpg.Pool, client: httpx.AsyncClient) -> World:
    return await make_world(db, client)


async def _fingerprint(db: asyncpg.Pool) -> tuple[Any, ...]:
    """What an injection would disturb: the tables, every credential, and the row counts."""
    tables = await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    users = await db.fetchval(
        "SELECT md5(string_agg(id || username || email || password_hash::text, ',' ORDER BY id)) FROM users"
        " WHERE username <> 'newbie'"
    )
    counts = [
        await db.fetchval(f'SELECT count(*) FROM "{t["tablename"]}"')
        for t in tables
        if t["tablename"] in ("users", "sessions", "refresh_tokens", "chats", "chat_members", "media")
    ]
    return tuple(t["tablename"] for t in tables), users, tuple(counts)


async def test_injection_in_path_parameters_is_4xx_and_changes_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, world: World
) -> None:
    before = await _fingerprint(db)
    messages_before = await db.fetchval("SELECT count(*) FROM messages")
    for method, path, op in OPERATIONS:
        names = [p["name"] for p in op["parameters"] if p["in"] == "path"]
        for name in names:
            for payload in INJECTIONS:
                url = world.url(path, **{name: payload})
                body = world.template(method, path) if "requestBody" in op else None
                r = await client.request(method, url, json=body, headers=world.user.headers)
                assert 400 <= r.status_code < 500, (method, url, r.status_code, r.text)
    assert await _fingerprint(db) == before
    assert await db.fetchval("SELECT count(*) FROM messages") == messages_before


async def test_injection_in_query_parameters_is_rejected_or_inert(
    client: httpx.AsyncClient, db: asyncpg.Pool, world: World
) -> None:
    before = await _fingerprint(db)
    for method, path, op in OPERATIONS:
        for param in (p for p in op["parameters"] if p["in"] == "query"):
            for payload in INJECTIONS:
                url = world.url(path)
                r = await client.request(method, url, params={param["name"]: payload}, headers=world.user.headers)
                assert r.status_code < 500, (method, url, param["name"], payload, r.text)
                if is_integer(param["schema"]):
                    assert r.status_code == 422, (method, url, param["name"], payload, r.text)
                if r.status_code == 200 and path == "/v1/users":
                    assert r.json()["users"] == [], payload  # a prefix search, not a predicate
    assert await _fingerprint(db) == before


async def test_injection_in_body_fields_is_rejected_or_stored_verbatim(
    client: httpx.AsyncClient, db: asyncpg.Pool, world: World
) -> None:
    tables, credentials, _ = await _fingerprint(db)
    for method, path, op in OPERATIONS:
        for name, schema in body_properties(op).items():
            for payload in INJECTIONS:
                body = world.template(method, path) | {name: payload}
                url = world.url(path)
                r = await client.request(method, url, json=body, headers=world.user.headers)
                assert r.status_code < 500, (method, path, name, payload, r.text)
                if is_integer(schema):
                    assert r.status_code == 422, (method, path, name, payload, r.text)
                elif 200 <= r.status_code < 300 and r.content and name not in ("password", "login", "refresh_token"):
                    # accepted text is data: it comes back exactly as sent
                    assert payload in json.dumps(r.json(), ensure_ascii=False).replace("\\\\", "\\"), (path, name)
    after = await _fingerprint(db)
    # the tables and every existing credential are intact (the sweep may register one "newbie")
    assert after[:2] == (tables, credentials)


# -- path traversal in media filenames --------------------------------------------------------


@pytest.mark.parametrize(
    "filename", ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "a/../../b.txt", "..", "."]
)
async def test_media_filename_with_a_path_is_422(client: httpx.AsyncClient, db: asyncpg.Pool, filename: str) -> None:
    user = await make_user(db)
    r = await client.post(
        "/v1/media", json={"filename": filename, "content_type": "text/plain", "size": 3}, headers=user.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_filename"


async def test_dotted_filename_is_data_not_a_path(client: httpx.AsyncClient, db: asyncpg.Pool, server: Server) -> None:
    user = await make_user(db)
    name = "..%2f..%2f..%2fescape.txt"
    r = await client.post(
        "/v1/media", json={"filename": name, "content_type": "text/plain", "size": 3}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    medium, upload = r.json()["media"], r.json()["upload"]
    put = await client.request(upload["method"], upload["url"], content=b"abc", headers=upload["headers"])
    assert put.status_code < 300, put.text
    done = await client.post(f"/v1/media/{medium['id']}/complete", headers=user.headers)
    assert done.status_code == 200 and done.json()["media"]["filename"] == name
    media_dir = Path(server.env["MESSENGER_DATA_DIR"]) / "media"
    stored = [p for p in media_dir.rglob("*") if p.is_file()]
    assert stored and all(p.resolve().is_relative_to(media_dir.resolve()) for p in stored)
    assert not any("escape" in str(p) for p in Path(server.env["MESSENGER_DATA_DIR"]).parent.glob("*escape*"))
    download = await client.get(
        (await client.get(f"/v1/media/{medium['id']}", headers=user.headers)).json()["media"]["download_url"]
    )
    assert download.content == b"abc"
    assert 'filename="..%2f..%2f..%2fescape.txt"' in download.headers["content-disposition"]
