"""Where media bytes live: the local disk or an S3-compatible bucket, behind one protocol.

Layer: infrastructure. `open_store` picks the configured store. Uploads land in one place and
verified objects are read from another (`MediaStore.promote`). The local store is reached
through app URLs signed with a key derived from SECRET_KEY (`UrlSigner`); S3 clients talk to
the bucket directly through presigned requests whose policy pins type and size.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from .errors import Forbidden, TooLarge, Unavailable, Unprocessable
from .model import MediaOut
from .settings import Settings

if TYPE_CHECKING:
    # Type stubs only (types-aiobotocore); nothing to import at run time.
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CopySourceTypeDef, ObjectIdentifierTypeDef

log = logging.getLogger("messenger.media")

# Disk writes are batched so each thread hop moves a useful amount of data.
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}$")


class MediaRow(msgspec.Struct, kw_only=True):
    id: int
    owner_id: int
    storage_key: str
    filename: str
    content_type: str
    size: int
    status: str
    sha256: str | None
    width: int | None
    height: int | None
    created_at: datetime

    def out(self, download_url: str | None = None) -> MediaOut:
        return MediaOut(
            id=self.id,
            filename=self.filename,
            content_type=self.content_type,
            size=self.size,
            status=self.status,
            created_at=self.created_at,
            width=self.width,
            height=self.height,
            download_url=download_url,
        )


class UploadTarget(msgspec.Struct, kw_only=True):
    url: str
    method: str
    headers: dict[str, str]
    fields: dict[str, str]


class LocalFile(msgspec.Struct, frozen=True):
    path: Path
    content_type: str
    filename: str


# -- signed app URLs (local store) ----------------------------------------------------------


class UrlSigner:
    """HMAC signatures for the app-served upload/download URLs.

    The key is derived from SECRET_KEY for this purpose only; the message binds the purpose,
    the medium and its storage key, so a URL cannot be replayed for another verb or object.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"messenger.media-url.v1", hashlib.sha256).digest()

    def sign(self, purpose: str, media_id: int, storage_key: str, expires: int) -> str:
        msg = f"{purpose}\n{media_id}\n{storage_key}\n{expires}".encode()
        return base64.urlsafe_b64encode(hmac.new(self._key, msg, hashlib.sha256).digest()).rstrip(b"=").decode()

    def query(self, purpose: str, media_id: int, storage_key: str, expires: int) -> str:
        return urlencode({"expires": expires, "sig": self.sign(purpose, media_id, storage_key, expires)})

    def verify(self, purpose: str, media_id: int, storage_key: str, expires: int, sig: str) -> None:
        expected = self.sign(purpose, media_id, storage_key, expires)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise Forbidden("invalid signature", code="invalid_signature")
        if expires <= time.time():
            raise Forbidden("this URL has expired", code="url_expired")


def content_disposition(content_type: str, filename: str) -> str:
    # Images, audio and video may render inline; everything else downloads, so an uploaded
    # PDF or text file never runs or renders in the app's origin.
    kind = "inline" if content_type.split("/", 1)[0] in ("image", "audio", "video") else "attachment"
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# -- stores ---------------------------------------------------------------------------------


class MediaStore(Protocol):
    async def upload_target(
        self, media_id: int, key: str, content_type: str, size: int, expires: int
    ) -> UploadTarget: ...

    async def promote(self, key: str) -> None:
        """Move the latest upload, if any, to where verified objects live.

        Uploads land in one place and verified objects are read from another, which upload
        targets never write to: an upload URL that is still valid after `complete` cannot
        swap the bytes that were checked. `size_of`, `read` and download URLs use the promoted
        object.
        """
        ...

    async def size_of(self, key: str) -> int | None:
        """The promoted object's size, or None if there is none."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove the uploaded and the promoted object of each key (missing ones are fine)."""
        ...

    async def download_url(self, row: MediaRow, expires: int) -> str: ...


class LocalStore:
    """Files under MESSENGER_DATA_DIR/media/, uploaded and downloaded through signed app URLs."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir / "media"
        self.public_url = settings.public_url
        self.signer = UrlSigner(settings.secret_key)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are ours; anything else is a bug, never a path
            raise ValueError(f"bad storage key {key!r}")
        return self.root / key[:2] / key

    def upload_path(self, key: str) -> Path:
        path = self.path(key)
        return path.with_name(f"{key}.upload")

    async def upload_target(self, media_id: int, key: str, content_type: str, size: int, expires: int) -> UploadTarget:
        query = self.signer.query("upload", media_id, key, expires)
        return UploadTarget(
            url=f"{self.public_url}/v1/media/{media_id}/upload?{query}",
            method="PUT",
            headers={"Content-Type": content_type},
            fields={},
        )

    async def promote(self, key: str) -> None:
        # Atomic: whichever upload is complete at this instant becomes the object.
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(os.replace, self.upload_path(key), self.path(key))

    async def size_of(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        f = await asyncio.to_thread(self.path(key).open, "rb")
        try:
            while chunk := await asyncio.to_thread(f.read, READ_CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(f.close)

    async def delete(self, keys: Sequence[str]) -> None:
        def unlink_all() -> None:
            for key in keys:
                self.path(key).unlink(missing_ok=True)
                self.upload_path(key).unlink(missing_ok=True)

        await asyncio.to_thread(unlink_all)

    async def download_url(self, row: MediaRow, expires: int) -> str:
        query = self.signer.query("download", row.id, row.storage_key, expires)
        return f"{self.public_url}/v1/media/{row.id}/download?{query}"

    async def receive(self, key: str, size: int, body: AsyncIterator[bytes]) -> None:
        """Stream a body to the key's upload file; exactly `size` bytes or nothing is kept.

        Chunks are batched and written from a worker thread, so neither the event loop blocks
        nor the body is ever held in memory; the file appears under its name only when whole.
        """
        path = self.upload_path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        partial = path.with_name(f"{key}.{secrets.token_hex(4)}.part")
        f = await asyncio.to_thread(partial.open, "wb")
        kept = False
        try:
            received = 0
            batch: list[bytes] = []
            batched = 0
            async for chunk in body:
                received += len(chunk)
                if received > size:
                    raise TooLarge(f"the body exceeds the declared size of {size} bytes", code="too_large")
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH:
                    await asyncio.to_thread(f.write, b"".join(batch))
                    batch, batched = [], 0
            if batch:
                await asyncio.to_thread(f.write, b"".join(batch))
            if received != size:
                raise Unprocessable(f"the body has {received} bytes but {size} were declared", code="size_mismatch")
            await asyncio.to_thread(f.close)
            await asyncio.to_thread(os.replace, partial, path)
            kept = True
        finally:
            if not kept:
                await asyncio.to_thread(f.close)
                await asyncio.to_thread(partial.unlink, missing_ok=True)

    def file(self, row: MediaRow) -> LocalFile:
        return LocalFile(self.path(row.storage_key), row.content_type, row.filename)


class S3Store:
    """An S3-compatible bucket; clients talk to it directly through presigned requests."""

    def __init__(self, client: S3Client, bucket: str, settings: Settings) -> None:
        self.client = client
        self.bucket = bucket

    @staticmethod
    def object_key(key: str) -> str:
        return f"media/{key}"

    @staticmethod
    def upload_key(key: str) -> str:
        return f"uploads/{key}"

    async def upload_target(self, media_id: int, key: str, content_type: str, size: int, expires: int) -> UploadTarget:
        # The policy is what makes the store itself refuse a different type or any other size.
        post = await self.client.generate_presigned_post(
            self.bucket,
            self.upload_key(key),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=max(1, expires - int(time.time())),
        )
        return UploadTarget(url=post["url"], method="POST", headers={}, fields=dict(post["fields"]))

    async def promote(self, key: str) -> None:
        # A server-side copy takes one consistent version of the upload, however many POSTs
        # race with it; the upload is removed afterwards.
        source: CopySourceTypeDef = {"Bucket": self.bucket, "Key": self.upload_key(key)}
        try:
            await self.client.copy_object(Bucket=self.bucket, Key=self.object_key(key), CopySource=source)
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return
            raise
        await self.client.delete_object(Bucket=self.bucket, Key=self.upload_key(key))

    async def size_of(self, key: str) -> int | None:
        try:
            head = await self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except self.client.exceptions.ClientError as exc:
            if _missing(exc):
                return None
            raise
        return head["ContentLength"]

    async def read(self, key: str) -> AsyncIterator[bytes]:
        obj = await self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        async with obj["Body"] as stream:
            while chunk := await stream.read(READ_CHUNK):
                yield chunk

    async def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 500):  # DeleteObjects takes at most 1000 keys (2 per medium)
            batch: list[ObjectIdentifierTypeDef] = []
            for k in keys[start : start + 500]:
                batch += [{"Key": self.object_key(k)}, {"Key": self.upload_key(k)}]
            await self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    async def download_url(self, row: MediaRow, expires: int) -> str:
        return await self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.object_key(row.storage_key),
                "ResponseContentType": row.content_type,
                "ResponseContentDisposition": content_disposition(row.content_type, row.filename),
            },
            ExpiresIn=max(1, expires - int(time.time())),
        )


def _missing(exc: Exception) -> bool:
    response: Any = getattr(exc, "response", {})
    return response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


@contextlib.asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[MediaStore]:
    """The configured store for the life of the block (S3 when S3_BUCKET is set)."""
    if not settings.s3_enabled:
        yield LocalStore(settings)
        return
    # Imported only when S3 is configured: aiobotocore takes far longer to import than the
    # rest of the server, and the embedded default never needs it.
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    assert settings.s3_bucket is not None
    config = AioConfig(
        signature_version="s3v4",
        # Path-style works with every S3-compatible server (MinIO, moto, Ceph) behind any host name.
        s3={"addressing_style": "path"} if settings.s3_endpoint_url else {},
        retries={"max_attempts": 3, "mode": "standard"},
    )
    async with get_session().create_client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        config=config,
    ) as client:
        yield S3Store(client, settings.s3_bucket, settings)


@contextlib.contextmanager
def store_errors() -> Iterator[None]:
    """A store that cannot be reached (S3 down, disk full) is a 503 for the request, not a 500."""
    try:
        yield
    except (OSError, BotoCoreError, ClientError) as exc:
        log.warning("media store failed: %s: %s", type(exc).__name__, exc)
        raise Unavailable("the media store is unavailable, try again", code="store_unavailable") from exc
