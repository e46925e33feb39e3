"""Strict input: ASCII-digit ids/cursors/integers, JSON bodies only, no spoofing characters."""

from __future__ import annotations

import base64

import asyncpg
import httpx
import pytest

from .chat_factories import new_chat
from .factories import make_user
from .rig import Server
from .wsclient import WsClient

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


async def test_a_superscript_digit_media_id_is_404_without_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/media/%C2%B2/avatar")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


async def test_arabic_indic_digits_never_name_a_chat(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a, b = await make_user(db), await make_user(db)
    chat = await new_chat(client, a, "group", b)
    r = await client.get(f"/v1/chats/{str(chat['id']).translate(ARABIC_INDIC)}", headers=a.headers)
    assert r.status_code == 404


@pytest.mark.parametrize("since", ["²", "٣", "+1", " 1", "1e2", "-1"])
async def test_sync_cursor_of_anything_but_ascii_digits_is_422(
    client: httpx.AsyncClient, db: asyncpg.Pool, since: str
) -> None:
    a = await make_user(db)
    r = await client.get("/v1/sync", params={"since": since}, headers=a.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize("limit", ["５", "²", "1e1", "5.0", "٥"])
async def test_integer_query_parameters_take_ascii_digits_only(
    client: httpx.AsyncClient, db: asyncpg.Pool, limit: str
) -> None:
    a = await make_user(db)
    r = await client.get("/v1/chats", params={"limit": limit}, headers=a.headers)
    assert r.status_code == 422


async def test_a_chat_list_cursor_with_non_ascii_digits_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    cursor = base64.urlsafe_b64encode("١٧٠٠٠٠٠٠٠٠٠٠٠٠٠٠٠:٣".encode()).decode().rstrip("=")
    r = await client.get("/v1/chats", params={"cursor": cursor}, headers=a.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_cursor")


async def test_a_notifications_cursor_with_a_superscript_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.get("/v1/notifications", params={"cursor": "²"}, headers=a.headers)
    assert r.status_code == 422


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
async def test_a_body_not_declared_json_is_415(
    client: httpx.AsyncClient, db: asyncpg.Pool, content_type: str | None
) -> None:
    a = await make_user(db)
    headers = {**a.headers, **({"Content-Type": content_type} if content_type else {})}
    r = await client.post("/v1/chats", content=b'{"kind": "group", "title": "t", "member_ids": []}', headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.messenger+json"])
async def test_json_and_plus_json_bodies_are_accepted(
    client: httpx.AsyncClient, db: asyncpg.Pool, content_type: str
) -> None:
    a = await make_user(db)
    headers = {**a.headers, "Content-Type": content_type}
    r = await client.post("/v1/chats", content=b'{"kind": "group", "title": "t", "member_ids": []}', headers=headers)
    assert r.status_code == 201


async def test_a_text_body_to_an_endpoint_without_one_is_415(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.post("/v1/media/1/complete", content=b"x", headers={**a.headers, "Content-Type": "text/plain"})
    assert r.status_code == 415


@pytest.mark.parametrize("name", ["Eve\u202egnp.exe", "A\u2066B", "Bo\u200bb", "\ufeffAnn", "Al\u2060ice"])
async def test_display_names_refuse_bidi_and_zero_width_characters(
    client: httpx.AsyncClient, db: asyncpg.Pool, name: str
) -> None:
    a = await make_user(db)
    r = await client.patch("/v1/users/me", json={"display_name": name}, headers=a.headers)
    assert r.status_code == 422


@pytest.mark.parametrize("title", ["Team\u202d", "T\u2069", "Te\u200dam"])
async def test_chat_titles_refuse_bidi_and_zero_width_characters(
    client: httpx.AsyncClient, db: asyncpg.Pool, title: str
) -> None:
    a = await make_user(db)
    r = await client.post("/v1/chats", json={"kind": "group", "title": title, "member_ids": []}, headers=a.headers)
    assert r.status_code == 422


async def test_names_in_any_script_are_still_welcome(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    a = await make_user(db)
    r = await client.patch("/v1/users/me", json={"display_name": "Зоя 名前 שרה"}, headers=a.headers)
    assert r.status_code == 200


@pytest.mark.parametrize("cursor", ["²", "٣", "-1", " 1"])
async def test_a_resume_cursor_of_anything_but_ascii_digits_is_bad_frame_and_the_socket_stays(
    server: Server, db: asyncpg.Pool, cursor: str
) -> None:
    a = await make_user(db)
    ws = await WsClient.open(server.ws_url, a.token)
    try:
        await ws.send({"type": "resume", "cursor": cursor, "ref": "r"})
        error = await ws.expect("error")
        await ws.send({"type": "ping", "ref": "p"})
        await ws.expect("pong")
    finally:
        await ws.close()
    assert (error["code"], error["ref"]) == ("bad_frame", "r")
