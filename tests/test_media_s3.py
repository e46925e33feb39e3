"""Media on an S3-compatible store: moto in server mode, a server started with the S3 env."""

from __future__ import annotations

import base64
import calendar
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from messenger import tasks
from messenger.settings import Settings

from . import media_samples as s
from .factories import User, job_context, make_user
from .rig import SECRET_KEY, TLS, Server, free_port, running_server

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

BUCKET = "messenger-media-test"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "S3_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


@pytest.fixture(scope="session")
async def s3(moto_endpoint: str) -> AsyncIterator[S3Client]:
    async with get_session().create_client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=AioConfig(signature_version="s3v4", s3={"addressing_style": "path"}),
    ) as client:
        await client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture(scope="module")
async def s3_env(server_env: dict[str, str], moto_endpoint: str, s3: S3Client) -> dict[str, str]:
    return {**server_env, **S3_CREDENTIALS, "S3_ENDPOINT_URL": moto_endpoint, "S3_BUCKET": BUCKET}


@pytest.fixture(scope="module")
async def s3_server(s3_env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server(s3_env) as srv:
        yield srv


@pytest.fixture
async def api(s3_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=s3_server.url, timeout=30, verify=TLS) as c:
        yield c


async def declare(
    api: httpx.AsyncClient, user: User, size: int, content_type: str = "image/png", filename: str = "pic.png"
) -> dict[str, Any]:
    body = {"filename": filename, "content_type": content_type, "size": size}
    r = await api.post("/v1/media", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    slot: dict[str, Any] = r.json()
    return slot


async def post_to_store(upload: dict[str, Any], data: bytes, content_type: str) -> httpx.Response:
    """What a browser does with a presigned POST: the fields, then the file, as multipart."""
    assert upload["method"] == "POST"
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            upload["url"], headers=upload["headers"], data=upload["fields"], files={"file": ("f", data, content_type)}
        )


async def object_exists(s3: S3Client, db: asyncpg.Pool, media_id: int, key: str | None = None) -> bool:
    """Is anything of this medium in the bucket (its upload or its verified object)?"""
    key = key or await db.fetchval("SELECT storage_key FROM media WHERE id = $1", media_id)
    found = False
    for prefix in ("uploads", "media"):
        try:
            await s3.head_object(Bucket=BUCKET, Key=f"{prefix}/{key}")
            found = True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return found


async def test_presigned_post_policy_pins_the_type_and_the_exact_size(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(api, user, 1234)
    fields = slot["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1234, 1234] in policy["conditions"]
    assert fields["Content-Type"] == "image/png"
    assert slot["upload"]["url"].endswith(f"/{BUCKET}")
    # The policy expires with the slot (MEDIA_UPLOAD_TTL, 15 minutes by default).
    expiration = calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert 850 < expiration - time.time() <= 901


async def test_upload_complete_and_download_through_the_store(
    api: httpx.AsyncClient, db: asyncpg.Pool, s3: S3Client
) -> None:
    user = await make_user(db)
    data = s.jpeg(320, 200, exif=2000)
    slot = await declare(api, user, len(data), "image/jpeg", "holiday photo.jpg")
    assert (await post_to_store(slot["upload"], data, "image/jpeg")).is_success
    r = await api.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 200, r.text
    ready = r.json()["media"]
    assert (ready["status"], ready["width"], ready["height"]) == ("ready", 320, 200)

    fetched = (await api.get(f"/v1/media/{ready['id']}", headers=user.headers)).json()["media"]
    async with httpx.AsyncClient() as http:
        dl = await http.get(fetched["download_url"])
    assert dl.status_code == 200
    assert dl.content == data
    assert dl.headers["content-type"] == "image/jpeg"
    assert dl.headers["content-disposition"].startswith('inline; filename="holiday photo.jpg"')


async def test_an_upload_after_complete_cannot_swap_the_verified_bytes(
    api: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    # The presigned POST stays valid for its whole lifetime; what complete checked must not change.
    user = await make_user(db)
    data = s.png(3, 3)
    slot = await declare(api, user, len(data))
    await post_to_store(slot["upload"], data, "image/png")
    assert (await api.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)).status_code == 200
    swapped = b"<svg onload=alert(1)>".ljust(len(data), b" ")
    await post_to_store(slot["upload"], swapped, "image/png")
    fetched = (await api.get(f"/v1/media/{slot['media']['id']}", headers=user.headers)).json()["media"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(fetched["download_url"])).content == data


async def test_oversize_object_is_409_on_complete_and_removed_from_the_store(
    api: httpx.AsyncClient, db: asyncpg.Pool, s3: S3Client
) -> None:
    # Real S3 refuses this body by the policy; moto does not enforce policies, so this checks
    # the second line of defence: complete never accepts, and never keeps, a wrong size.
    user = await make_user(db)
    slot = await declare(api, user, 5, "text/plain", "a.txt")
    await post_to_store(slot["upload"], b"much more than five bytes", "text/plain")
    r = await api.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "size_mismatch"
    assert not await object_exists(s3, db, slot["media"]["id"])


async def test_content_not_matching_its_type_is_415_and_deleted_from_the_store(
    api: httpx.AsyncClient, db: asyncpg.Pool, s3: S3Client
) -> None:
    user = await make_user(db)
    data = s.PDF
    slot = await declare(api, user, len(data), "image/gif", "anim.gif")
    media_id = slot["media"]["id"]
    key = await db.fetchval("SELECT storage_key FROM media WHERE id = $1", media_id)
    await post_to_store(slot["upload"], data, "image/gif")
    assert await object_exists(s3, db, media_id, key)
    r = await api.post(f"/v1/media/{media_id}/complete", headers=user.headers)
    assert r.status_code == 415
    assert not await object_exists(s3, db, media_id, key)
    assert (await api.get(f"/v1/media/{media_id}", headers=user.headers)).status_code == 404


async def test_complete_without_an_object_is_409(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(api, user, 10)
    r = await api.post(f"/v1/media/{slot['media']['id']}/complete", headers=user.headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "upload_missing"


async def test_the_app_serves_no_local_upload_with_s3_configured(api: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    user = await make_user(db)
    slot = await declare(api, user, 5, "text/plain", "a.txt")
    r = await api.put(f"/v1/media/{slot['media']['id']}/upload?expires=9999999999&sig=x", content=b"12345")
    assert r.status_code == 404


async def test_cleanup_removes_orphaned_objects_from_the_bucket(
    api: httpx.AsyncClient, db: asyncpg.Pool, s3: S3Client, s3_env: dict[str, str], database: str
) -> None:
    user = await make_user(db)
    slot = await declare(api, user, 5, "text/plain", "a.txt")
    await post_to_store(slot["upload"], b"12345", "text/plain")
    media_id = slot["media"]["id"]
    key = await db.fetchval("SELECT storage_key FROM media WHERE id = $1", media_id)
    await db.execute("UPDATE media SET created_at = now() - interval '2 days' WHERE id = $1", media_id)

    settings = Settings(
        s3_endpoint_url=s3_env["S3_ENDPOINT_URL"],
        s3_bucket=BUCKET,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        secret_key=SECRET_KEY,
    )
    async with job_context(settings, database) as ctx:
        assert await tasks.cleanup_media(ctx) == 1
    assert await db.fetchval("SELECT count(*) FROM media") == 0
    assert not await object_exists(s3, db, media_id, key)
