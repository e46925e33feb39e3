"""Media on the embedded (local disk) store: the default test server has no S3."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from messenger import mediastore, tasks
from messenger.settings import Settings

from . import media_samples as s
from .factories import User, job_context, make_user
from .rig import SECRET_KEY, Server, running_server


async def stored_files(server: Server, db: asyncpg.Pool, *media_ids: int) -> list[Path]:
    """Files (complete or partial) of these media in the server's local store."""
    keys = [r["storage_key"] for r in await db.fetch("SELECT storage_key FROM media WHERE id = ANY($1)", media_ids)]
    root = Path(server.env["MESSENGER_DATA_DIR"]) / "media"
    return [p for key in keys for p in (root / key[:2]).glob(f"{key}*")]


async def declare(
    client: httpx.AsyncClient, user: User, data: bytes, content_type: str = "image/png", filename: str = "pic.png"
) -> dict[str, Any]:
    r = await client.post(
        "/v1/media", json={"filename": filename, "content_type": content_type, "size": len(data)}, headers=user.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def send(upload: dict[str, Any], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.request(upload["method"], upload["url"], headers=upload["headers"], content=data)


async def uploaded(
    client: httpx.AsyncClient, user: User, data: bytes, content_type: str = "image/png", filename: str = "pic.png"
) -> dict[str, Any]:
    """Declare, upload and complete: a ready medium."""
    slot = await declare(client, user, data, content_type, filename)
    assert (await send(slot["upload"], data)).status_code == 204
    r = await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 200, r.text
    ready: dict[str, Any] = r.json()["media"]
    return ready


async def test_create_returns_pending_media_and_a_signed_put_target(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    body = await declare(client, user, s.png(2, 2))
    assert body["media"]["status"] == "pending"
    assert body["media"]["filename"] == "pic.png"
    assert body["media"]["size"] == len(s.png(2, 2))
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["headers"] == {"Content-Type": "image/png"}
    assert "sig=" in body["upload"]["url"] and "expires=" in body["upload"]["url"]
    assert body["expires_at"].endswith("Z")


async def test_complete_marks_ready_with_checksum_size_and_dimensions(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    data = s.png(7, 5)
    ready = await uploaded(client, user, data)
    assert ready["status"] == "ready"
    assert (ready["width"], ready["height"]) == (7, 5)
    assert ready["size"] == len(data)
    assert await db.fetchval("SELECT sha256 FROM media WHERE id = $1", ready["id"]) == hashlib.sha256(data).hexdigest()


async def test_complete_is_idempotent(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    ready = await uploaded(client, user, b"hello", "text/plain", "note.txt")
    again = await client.post(f"/v1/media/{ready['id']}/complete", headers=user.headers)
    assert again.status_code == 200
    assert again.json()["media"] == ready


async def test_non_image_has_no_dimensions(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    ready = await uploaded(client, user, s.PDF, "application/pdf", "doc.pdf")
    assert "width" not in ready and "height" not in ready


async def test_complete_before_upload_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, s.png(2, 2))
    r = await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "upload_missing"


async def test_declared_size_over_the_limit_is_413(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    body = {"filename": "big.png", "content_type": "image/png", "size": 25 * 1024 * 1024 + 1}
    r = await client.post("/v1/media", json=body, headers=user.headers)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


async def test_zero_size_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    body = {"filename": "empty.txt", "content_type": "text/plain", "size": 0}
    r = await client.post("/v1/media", json=body, headers=user.headers)
    assert r.status_code == 422


async def test_type_outside_the_allow_list_is_415(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    body = {"filename": "page.html", "content_type": "text/html", "size": 10}
    r = await client.post("/v1/media", json=body, headers=user.headers)
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"


async def test_filename_with_a_path_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    body = {"filename": "../../etc/passwd", "content_type": "text/plain", "size": 10}
    r = await client.post("/v1/media", json=body, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_filename"


async def test_create_needs_a_bearer_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/media", json={"filename": "a.txt", "content_type": "text/plain", "size": 1})
    assert r.status_code == 401


async def test_body_over_the_declared_size_is_413_and_not_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the app must count
        for _ in range(4):
            yield b"0123456789"

    async with httpx.AsyncClient() as http:
        r = await http.put(slot["upload"]["url"], headers=slot["upload"]["headers"], content=chunks())
    assert r.status_code == 413
    assert await stored_files(server, db, slot["media"]["id"]) == []


async def test_declared_content_length_over_the_size_is_413_before_reading(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    r = await send(slot["upload"], b"0123456789")
    assert r.status_code == 413
    assert await stored_files(server, db, slot["media"]["id"]) == []


async def test_short_body_is_refused_and_not_stored(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    r = await send(slot["upload"], b"123")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "size_mismatch"
    assert await stored_files(server, db, slot["media"]["id"]) == []


async def test_upload_with_another_content_type_is_415(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    async with httpx.AsyncClient() as http:
        r = await http.put(slot["upload"]["url"], headers={"Content-Type": "image/png"}, content=b"12345")
    assert r.status_code == 415


async def test_upload_with_a_tampered_signature_is_403(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    url = slot["upload"]["url"].replace("sig=", "sig=x")
    async with httpx.AsyncClient() as http:
        r = await http.put(url, headers=slot["upload"]["headers"], content=b"12345")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "invalid_signature"


async def test_upload_url_of_another_medium_is_403(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    first = await declare(client, user, b"12345", "text/plain", "a.txt")
    second = await declare(client, user, b"12345", "text/plain", "b.txt")
    url = first["upload"]["url"].replace(f"/media/{first['media']['id']}/", f"/media/{second['media']['id']}/")
    async with httpx.AsyncClient() as http:
        r = await http.put(url, headers=first["upload"]["headers"], content=b"12345")
    assert r.status_code == 403


async def test_upload_after_complete_is_409(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    await send(slot["upload"], b"12345")
    await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    r = await send(slot["upload"], b"54321")
    assert r.status_code == 409


async def test_content_not_matching_the_declared_type_is_415_and_deleted(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    data = b"<html><script>alert(1)</script></html>"
    slot = await declare(client, user, data, "image/png", "cat.png")
    assert (await send(slot["upload"], data)).status_code == 204
    media_id = slot["media"]["id"]
    key = await db.fetchval("SELECT storage_key FROM media WHERE id = $1", media_id)
    root = Path(server.env["MESSENGER_DATA_DIR"]) / "media" / key[:2]
    assert [p.name for p in root.glob(f"{key}*")] == [f"{key}.upload"]
    r = await client.post(f"/v1/media/{media_id}/complete", headers=user.headers)
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "content_mismatch"
    assert (await client.get(f"/v1/media/{media_id}", headers=user.headers)).status_code == 404
    assert list(root.glob(f"{key}*")) == []


async def test_text_that_is_not_utf8_is_415(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    data = "café".encode("latin-1")
    slot = await declare(client, user, data, "text/plain", "a.txt")
    await send(slot["upload"], data)
    r = await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 415


async def test_text_with_nul_is_415(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    data = b"abc\x00def"
    slot = await declare(client, user, data, "text/plain", "a.txt")
    await send(slot["upload"], data)
    r = await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 415


async def test_download_url_serves_the_bytes_with_type_and_disposition(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    user = await make_user(db)
    data = "здравствуй, мир\n".encode()
    ready = await uploaded(client, user, data, "text/plain", "привет.txt")
    r = await client.get(f"/v1/media/{ready['id']}", headers=user.headers)
    assert r.status_code == 200
    fetched = r.json()["media"]
    assert fetched["status"] == "ready"
    async with httpx.AsyncClient() as http:
        dl = await http.get(fetched["download_url"])
    assert dl.status_code == 200
    assert dl.content == data
    assert dl.headers["content-type"].startswith("text/plain")
    assert dl.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82.txt" in dl.headers["content-disposition"]
    assert dl.headers["x-content-type-options"] == "nosniff"


async def test_pending_media_has_no_download_url(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    r = await client.get(f"/v1/media/{slot['media']['id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["media"]["status"] == "pending"
    assert "download_url" not in r.json()["media"]


async def test_tampered_download_signature_is_403(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    ready = await uploaded(client, user, b"12345", "text/plain", "a.txt")
    url = (await client.get(f"/v1/media/{ready['id']}", headers=user.headers)).json()["media"]["download_url"]
    async with httpx.AsyncClient() as http:
        r = await http.get(url.replace("expires=", "expires=9"))
    assert r.status_code == 403


async def test_another_user_gets_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    owner, stranger = await make_user(db), await make_user(db)
    ready = await uploaded(client, owner, b"12345", "text/plain", "a.txt")
    assert (await client.get(f"/v1/media/{ready['id']}", headers=stranger.headers)).status_code == 404
    assert (await client.post(f"/v1/media/{ready['id']}/complete", headers=stranger.headers)).status_code == 404


async def test_unknown_and_malformed_ids_are_404(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    assert (await client.get("/v1/media/999999999", headers=user.headers)).status_code == 404
    assert (await client.get("/v1/media/abc", headers=user.headers)).status_code == 404


async def test_cleanup_deletes_stale_pending_and_unattached_media(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server, database: str
) -> None:
    user = await make_user(db)
    stale_pending = await declare(client, user, b"12345", "text/plain", "a.txt")
    await send(stale_pending["upload"], b"12345")
    stale_ready = await uploaded(client, user, b"abcde", "text/plain", "b.txt")
    fresh = await uploaded(client, user, b"fresh", "text/plain", "c.txt")
    old = [stale_pending["media"]["id"], stale_ready["id"]]
    await db.execute("UPDATE media SET created_at = now() - interval '25 hours' WHERE id = ANY($1)", old)
    old_files = await stored_files(server, db, *old)
    assert len(old_files) == 2

    settings = Settings(data_dir=Path(server.env["MESSENGER_DATA_DIR"]), secret_key=SECRET_KEY)
    async with job_context(settings, database) as ctx:
        removed = await tasks.cleanup_media(ctx)

    assert removed == 2
    assert await db.fetchval("SELECT array_agg(id) FROM media") == [fresh["id"]]
    assert not any(p.exists() for p in old_files)
    assert len(await stored_files(server, db, fresh["id"])) == 1
    assert (await client.get(f"/v1/media/{fresh['id']}", headers=user.headers)).status_code == 200


async def test_openapi_lists_the_media_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"post"} <= paths["/v1/media"].keys()
    assert "get" in paths["/v1/media/{id}"]
    assert "post" in paths["/v1/media/{id}/complete"]


# -- expiry ---------------------------------------------------------------------------------


async def test_expired_upload_url_is_403(client: httpx.AsyncClient, db: asyncpg.Pool, server: Server) -> None:
    # A correctly signed URL whose time is up (signed here with the server's key, so only the
    # expiry can be what refuses it).
    user = await make_user(db)
    slot = await declare(client, user, b"12345", "text/plain", "a.txt")
    media_id = slot["media"]["id"]
    key = await db.fetchval("SELECT storage_key FROM media WHERE id = $1", media_id)
    query = mediastore.UrlSigner(SECRET_KEY).query("upload", media_id, key, int(time.time()) - 1)
    r = await send({**slot["upload"], "url": f"{server.url}/v1/media/{media_id}/upload?{query}"}, b"12345")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "url_expired"
    assert await stored_files(server, db, media_id) == []


@pytest.fixture(scope="module")
async def short_download_server(server_env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server({**server_env, "MEDIA_DOWNLOAD_TTL": "1"}) as srv:
        yield srv


async def test_download_url_expires_after_media_download_ttl(short_download_server: Server, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    async with httpx.AsyncClient(base_url=short_download_server.url) as c:
        ready = await uploaded(c, user, b"12345", "text/plain", "a.txt")
        url = (await c.get(f"/v1/media/{ready['id']}", headers=user.headers)).json()["media"]["download_url"]
        expires = int(url.split("expires=")[1].split("&")[0])
        assert expires <= time.time() + 1
        # URLs carry whole-second expiry times: wait until this one is certainly past.
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.2)
        async with httpx.AsyncClient() as http:
            r = await http.get(url)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "url_expired"


# -- memory ---------------------------------------------------------------------------------


async def test_20_mib_upload_streams_without_growing_the_server_rss(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server
) -> None:
    user = await make_user(db)
    proc = psutil.Process(server.proc.pid)
    # Warm up the upload path once, so first-use allocations are not counted.
    await uploaded(client, user, b"warm", "text/plain", "warm.txt")
    size = 20 * 1024 * 1024
    block = (b"0123456789abcdef" * 4096)[:65536]
    r = await client.post(
        "/v1/media", json={"filename": "big.txt", "content_type": "text/plain", "size": size}, headers=user.headers
    )
    slot = r.json()
    baseline = proc.memory_info().rss
    peak = baseline
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            await asyncio.sleep(0.01)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    sampler = asyncio.create_task(sample())
    async with httpx.AsyncClient(timeout=120) as http:
        r = await http.put(
            slot["upload"]["url"],
            headers={**slot["upload"]["headers"], "Content-Length": str(size)},
            content=body(),
        )
    done.set()
    await sampler
    assert r.status_code == 204
    complete = await client.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert complete.status_code == 200
    assert complete.json()["media"]["size"] == size
    grown = (peak - baseline) / (1024 * 1024)
    assert grown < 8, f"server RSS grew by {grown:.1f} MiB during a 20 MiB upload"


# -- avatars ---------------------------------------------------------------------------------


async def set_avatar(client: httpx.AsyncClient, user: User, media_id: int | None) -> httpx.Response:
    return await client.patch("/v1/users/me", json={"avatar_media_id": media_id}, headers=user.headers)


async def test_a_ready_image_becomes_the_avatar_seen_by_everyone(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user, other = await make_user(db), await make_user(db)
    data = s.png(4, 4)
    image = await uploaded(client, user, data)
    r = await set_avatar(client, user, image["id"])
    assert r.status_code == 200, r.text
    assert r.json()["user"]["avatar_url"] == f"/v1/media/{image['id']}/avatar"
    seen = (await client.get(f"/v1/users/{user.id}", headers=other.headers)).json()["user"]
    assert seen["avatar_url"] == f"/v1/media/{image['id']}/avatar"
    redirect = await client.get(seen["avatar_url"])  # no bearer token: <img src> cannot send one
    assert redirect.status_code == 302
    async with httpx.AsyncClient() as http:
        fetched = await http.get(redirect.headers["location"])
    assert (fetched.content, fetched.headers["content-type"]) == (data, "image/png")


async def test_clearing_the_avatar_retires_its_url(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    image = await uploaded(client, user, s.gif(1, 1), "image/gif", "a.gif")
    await set_avatar(client, user, image["id"])
    r = await set_avatar(client, user, None)
    assert r.status_code == 200
    assert r.json()["user"]["avatar_url"] is None
    assert (await client.get(f"/v1/media/{image['id']}/avatar")).status_code == 404


async def test_a_medium_that_is_no_avatar_has_no_avatar_url(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    image = await uploaded(client, user, s.png(1, 1))
    assert (await client.get(f"/v1/media/{image['id']}/avatar")).status_code == 404


async def test_a_non_image_avatar_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    doc = await uploaded(client, user, s.PDF, "application/pdf", "doc.pdf")
    r = await set_avatar(client, user, doc["id"])
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_avatar"


async def test_someone_elses_image_as_avatar_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user, other = await make_user(db), await make_user(db)
    theirs = await uploaded(client, other, s.png(1, 1))
    assert (await set_avatar(client, user, theirs["id"])).status_code == 422


async def test_a_pending_image_as_avatar_is_422(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(client, user, s.png(1, 1))
    assert (await set_avatar(client, user, slot["media"]["id"])).status_code == 422


async def test_cleanup_keeps_the_avatar(
    client: httpx.AsyncClient, db: asyncpg.Pool, server: Server, database: str
) -> None:
    user = await make_user(db)
    image = await uploaded(client, user, s.png(2, 2))
    await set_avatar(client, user, image["id"])
    await db.execute("UPDATE media SET created_at = now() - interval '3 days'")
    settings = Settings(data_dir=Path(server.env["MESSENGER_DATA_DIR"]), secret_key=SECRET_KEY)
    async with job_context(settings, database) as ctx:
        assert await tasks.cleanup_media(ctx) == 0
    assert (await client.get(f"/v1/media/{image['id']}/avatar")).status_code == 302
