"""Media: upload slots, the two stores (S3 or local disk), verification, visibility, cleanup.

Flow: `create` validates the declaration and hands out an upload target: a presigned S3 POST
whose policy pins the exact Content-Type and size, or (embedded default) an app URL signed with
a key derived from SECRET_KEY that `receive` streams to disk. `complete` then checks what was
really stored (size, magic bytes, UTF-8 for text, sha256, image dimensions) before the medium
becomes `ready`; only ready media can be attached or become an avatar.

A medium is visible to its uploader and to the current members of any chat holding a message
that carries it; everyone else gets 404, exactly like a chat they are not in.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

import msgspec

from .db import Connection, Database, Q
from .errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    TooLarge,
    Unavailable,
    Unprocessable,
    UnsupportedMediaType,
)
from .model import MediaOut
from .settings import Settings

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CopySourceTypeDef, ObjectIdentifierTypeDef

log = logging.getLogger("messenger.media")

MAX_ATTACHMENTS = 10
# Enough for any image header we parse (JPEG keeps its SOF after EXIF/ICC segments).
SNIFF_PREFIX = 512 * 1024
# Disk writes are batched so each thread hop moves a useful amount of data.
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{32}$")


# -- shapes ---------------------------------------------------------------------------------


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


class Upload(msgspec.Struct, kw_only=True):
    media: MediaOut
    upload: UploadTarget
    expires_at: datetime


class LocalFile(msgspec.Struct, frozen=True):
    path: Path
    content_type: str
    filename: str


# -- validation -----------------------------------------------------------------------------


def clean_filename(raw: str) -> str:
    """The name shown to people: NFC, no path separators, no control or bidi-format characters.

    It is stored as data and only ever echoed (e.g. in Content-Disposition); storage uses a
    random key, so a hostile name can never reach the filesystem or the bucket.
    """
    name = unicodedata.normalize("NFC", raw)
    if not 1 <= len(name) <= 255:
        raise Unprocessable("filename must be 1 to 255 characters", code="invalid_filename")
    for ch in name:
        if ch in "/\\" or unicodedata.category(ch) == "Cc":
            raise Unprocessable(
                "filename must not contain path separators or control characters", code="invalid_filename"
            )
    # Format characters (e.g. U+202E RIGHT-TO-LEFT OVERRIDE) let "gpj.exe" pose as "exe.jpg".
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf").strip()
    if name in ("", ".", ".."):
        raise Unprocessable("filename must name a file", code="invalid_filename")
    return name


def clean_content_type(settings: Settings, raw: str) -> str:
    base = raw.split(";", 1)[0].strip().lower()
    if base not in settings.media_allowed_types:
        raise UnsupportedMediaType(f"content type {base or raw!r} is not allowed", code="unsupported_media_type")
    return base


def check_size(settings: Settings, size: int) -> None:
    if size < 1:
        raise Unprocessable("size must be at least 1 byte", code="invalid_size")
    if size > settings.media_max_size:
        raise TooLarge(f"size exceeds the limit of {settings.media_max_size} bytes", code="too_large")


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
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (OSError, BotoCoreError, ClientError) as exc:
        log.warning("media store failed: %s: %s", type(exc).__name__, exc)
        raise Unavailable("the media store is unavailable, try again", code="store_unavailable") from exc


# -- content checks -------------------------------------------------------------------------


def _riff(head: bytes, form: bytes) -> bool:
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == form


def _mp3(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _webm(head: bytes) -> bool:
    return head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]


_MAGIC: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda h: h[:3] == b"\xff\xd8\xff",
    "image/png": lambda h: h[:8] == b"\x89PNG\r\n\x1a\n",
    "image/gif": lambda h: h[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda h: _riff(h, b"WEBP"),
    "application/pdf": lambda h: h[:5] == b"%PDF-",
    "application/zip": lambda h: h[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"),
    "video/mp4": lambda h: h[4:8] == b"ftyp",
    "video/webm": _webm,
    "audio/webm": _webm,
    "audio/ogg": lambda h: h[:4] == b"OggS",
    "video/ogg": lambda h: h[:4] == b"OggS",
    "audio/mpeg": _mp3,
    "audio/wav": lambda h: _riff(h, b"WAVE"),
    "audio/x-wav": lambda h: _riff(h, b"WAVE"),
    "audio/wave": lambda h: _riff(h, b"WAVE"),
}


def matches_type(content_type: str, head: bytes) -> bool:
    """Do the first bytes fit the declared type? Types we cannot sniff (an operator's own
    MEDIA_ALLOWED_TYPES entries) are taken as declared; text/plain is checked separately."""
    check = _MAGIC.get(content_type)
    return True if check is None else bool(check(head))


def image_size(content_type: str, head: bytes) -> tuple[int, int] | None:
    """(width, height) from the image header, or None if it is not where it should be."""
    try:
        if content_type == "image/png" and head[12:16] == b"IHDR":
            return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        if content_type == "image/gif" and len(head) >= 10:
            return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
        if content_type == "image/webp":
            return _webp_size(head)
        if content_type == "image/jpeg":
            return _jpeg_size(head)
    except IndexError:
        return None
    return None


def _webp_size(h: bytes) -> tuple[int, int] | None:
    chunk = h[12:16]
    if chunk == b"VP8 " and h[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(h[26:28], "little") & 0x3FFF, int.from_bytes(h[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and h[20] == 0x2F:
        bits = int.from_bytes(h[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X" and len(h) >= 30:
        return 1 + int.from_bytes(h[24:27], "little"), 1 + int.from_bytes(h[27:30], "little")
    return None


# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(h: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(h):
        if h[i] != 0xFF:
            return None
        marker = h[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xDA)):  # standalone markers have no length
            i += 2
            continue
        length = int.from_bytes(h[i + 2 : i + 4], "big")
        if marker in _SOF:
            if i + 9 > len(h):
                return None
            return int.from_bytes(h[i + 7 : i + 9], "big"), int.from_bytes(h[i + 5 : i + 7], "big")
        if length < 2:
            return None
        i += 2 + length
    return None


class Inspection(msgspec.Struct):
    sha256: str
    head: bytes
    text_ok: bool


async def inspect(store: MediaStore, key: str, *, check_text: bool) -> Inspection:
    """One streaming pass over the stored object: checksum, a prefix to sniff, UTF-8 check."""
    digest = hashlib.sha256()
    head = bytearray()
    decoder = codecs.getincrementaldecoder("utf-8")()
    text_ok = check_text
    async for chunk in store.read(key):
        digest.update(chunk)
        if len(head) < SNIFF_PREFIX:
            head += chunk[: SNIFF_PREFIX - len(head)]
        if text_ok:
            if b"\x00" in chunk:
                text_ok = False
            else:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    text_ok = False
    if text_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            text_ok = False
    return Inspection(digest.hexdigest(), bytes(head), text_ok)


# -- operations -----------------------------------------------------------------------------


def _expiry(ttl: int) -> int:
    return int(time.time()) + ttl


async def create(
    db: Database, store: MediaStore, settings: Settings, user_id: int, filename: str, content_type: str, size: int
) -> Upload:
    name = clean_filename(filename)
    ctype = clean_content_type(settings, content_type)
    check_size(settings, size)
    key = secrets.token_hex(16)
    record = await db.fetchrow(Q.media_insert, user_id, key, name, ctype, size)
    assert record is not None
    row = MediaRow(**record)
    expires = _expiry(settings.media_upload_ttl)
    target = await store.upload_target(row.id, key, ctype, size, expires)
    return Upload(media=row.out(), upload=target, expires_at=datetime.fromtimestamp(expires, UTC))


async def _row(db: Database, media_id: int) -> MediaRow | None:
    record = await db.fetchrow(Q.media_by_id, media_id)
    return None if record is None else MediaRow(**record)


async def receive_upload(
    db: Database,
    store: MediaStore,
    media_id: int,
    expires: int,
    sig: str,
    content_type: str | None,
    content_length: int | None,
    body: AsyncIterator[bytes],
) -> None:
    """The local store's upload endpoint: the signature authorizes, no bearer token needed."""
    if not isinstance(store, LocalStore):
        raise NotFound()
    row = await _row(db, media_id)
    if row is None:
        raise NotFound()
    store.signer.verify("upload", row.id, row.storage_key, expires, sig)
    if row.status != "pending":
        raise Conflict("this medium is already complete", code="already_complete")
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() != row.content_type:
        raise UnsupportedMediaType(f"the upload must be sent as {row.content_type}", code="content_type_mismatch")
    if content_length is not None and content_length > row.size:
        raise TooLarge(f"the body exceeds the declared size of {row.size} bytes", code="too_large")
    with store_errors():
        await store.receive(row.storage_key, row.size, body)


async def complete(db: Database, store: MediaStore, user_id: int, media_id: int) -> MediaOut:
    """Verify the stored object and mark the medium ready; repeating it returns the same."""
    row = await _row(db, media_id)
    if row is None or row.owner_id != user_id:
        if row is not None and await db.fetchrow(Q.media_visible, media_id, user_id) is not None:
            raise Forbidden("only the uploader can complete an upload")
        raise NotFound()
    if row.status == "ready":
        return row.out()
    with store_errors():
        await store.promote(row.storage_key)
        stored = await store.size_of(row.storage_key)
        if stored is None:
            raise Conflict("nothing has been uploaded yet", code="upload_missing")
        if stored != row.size:
            # Never keep a wrong-sized object around; the upload target stays valid for a retry.
            await store.delete([row.storage_key])
            raise Conflict(f"the stored object has {stored} bytes but {row.size} were declared", code="size_mismatch")
        found = await inspect(store, row.storage_key, check_text=row.content_type == "text/plain")
    fits = found.text_ok if row.content_type == "text/plain" else matches_type(row.content_type, found.head)
    if not fits:
        await db.execute(Q.media_delete, row.id)
        with store_errors():
            await store.delete([row.storage_key])
        raise UnsupportedMediaType(
            f"the content is not {row.content_type}; the upload was deleted", code="content_mismatch"
        )
    dims = image_size(row.content_type, found.head) if row.content_type.startswith("image/") else None
    record = await db.fetchrow(
        Q.media_mark_ready, row.id, found.sha256, dims[0] if dims else None, dims[1] if dims else None
    )
    if record is None:  # a concurrent complete won; it verified the same object
        again = await _row(db, media_id)
        if again is None:
            raise NotFound()
        return again.out()
    return MediaRow(**record).out()


async def fetch(db: Database, store: MediaStore, settings: Settings, user_id: int, media_id: int) -> MediaOut:
    record = await db.fetchrow(Q.media_visible, media_id, user_id)
    if record is None:
        raise NotFound()
    row = MediaRow(**record)
    if row.status != "ready":
        return row.out()
    url = await store.download_url(row, _expiry(settings.media_download_ttl))
    return row.out(url)


async def local_download(db: Database, store: MediaStore, media_id: int, expires: int, sig: str) -> LocalFile:
    if not isinstance(store, LocalStore):
        raise NotFound()
    row = await _row(db, media_id)
    if row is None or row.status != "ready":
        raise NotFound()
    store.signer.verify("download", row.id, row.storage_key, expires, sig)
    return store.file(row)


async def avatar_redirect(db: Database, store: MediaStore, settings: Settings, media_id: int) -> str:
    """Where an avatar_url leads: a fresh short-lived download URL while it is someone's avatar."""
    record = await db.fetchrow(Q.media_current_avatar, media_id)
    if record is None:
        raise NotFound()
    row = MediaRow(**record)
    return await store.download_url(row, _expiry(settings.media_download_ttl))


async def check_avatar(conn: Connection | Database, user_id: int, media_id: int) -> None:
    """PATCH /v1/users/me {avatar_media_id}: a ready image the user uploaded, else 422."""
    if await conn.fetchval(Q.media_avatar_candidate, media_id, user_id) is None:
        raise Unprocessable("avatar_media_id must name a ready image you uploaded", code="invalid_avatar")


# -- attachments ----------------------------------------------------------------------------


def check_attachment_ids(ids: Sequence[int]) -> None:
    """What can be said without the database: at most 10, no repeats."""
    if len(ids) > MAX_ATTACHMENTS:
        raise Unprocessable(f"at most {MAX_ATTACHMENTS} attachments per message", code="too_many_attachments")
    if len(set(ids)) != len(ids):
        raise Unprocessable("attachment_ids must not repeat", code="invalid_attachments")


async def attachable_batch(
    conn: Connection, wanted: Sequence[tuple[int, Sequence[int]]]
) -> list[list[MediaOut] | AppError]:
    """For each (sender_id, attachment_ids) of a batch of messages, with one query: the media in
    the given order, or the 422 for that message alone (not ready, not the sender's, unknown).

    The rows stay share-locked until the caller's transaction ends, so the cleanup job cannot
    delete one between this check and the messages' commit.
    """
    every = sorted({i for _, ids in wanted for i in ids})
    found: dict[int, MediaRow] = {}
    if every:
        found = {r["id"]: MediaRow(**r) for r in await conn.fetch(Q.media_attachable, every)}
    results: list[list[MediaOut] | AppError] = []
    for owner_id, ids in wanted:
        try:
            check_attachment_ids(ids)
            missing = [i for i in ids if i not in found or found[i].owner_id != owner_id]
            if missing:
                raise Unprocessable(
                    f"attachments {missing} are not ready media you uploaded", code="invalid_attachments"
                )
        except AppError as exc:
            results.append(exc)
        else:
            results.append([found[i].out() for i in ids])
    return results


async def attachable(conn: Connection, owner_id: int, ids: Sequence[int]) -> list[MediaOut]:
    """Validate one message's attachment_ids: up to 10 distinct ready media of the sender (422
    otherwise), returned in the given order and locked as in `attachable_batch`."""
    (result,) = await attachable_batch(conn, [(owner_id, ids)])
    if isinstance(result, AppError):
        raise result
    return result


class Link(msgspec.Struct, frozen=True):
    """A new message and the media it carries, in order."""

    message_id: int
    media_ids: list[int]


async def attach(conn: Connection, links: Sequence[Link]) -> None:
    """Record which media each new message carries (one statement for a whole batch)."""
    message_ids: list[int] = []
    positions: list[int] = []
    media_ids: list[int] = []
    for link in links:
        for position, media_id in enumerate(link.media_ids):
            message_ids.append(link.message_id)
            positions.append(position)
            media_ids.append(media_id)
    if message_ids:
        await conn.execute(Q.media_attach, message_ids, positions, media_ids)


async def for_messages(conn: Connection | Database, message_ids: Sequence[int]) -> dict[int, list[MediaOut]]:
    """The attachments of many messages at once, in attachment order (none for deleted ones)."""
    if not message_ids:
        return {}
    result: dict[int, list[MediaOut]] = {}
    for r in await conn.fetch(Q.media_for_messages, list(message_ids)):
        fields = dict(r)
        message_id = fields.pop("message_id")
        result.setdefault(message_id, []).append(MediaRow(**fields).out())
    return result


# -- cleanup --------------------------------------------------------------------------------


async def delete_orphans(db: Database, store: MediaStore, older_than: timedelta, *, batch: int = 500) -> int:
    """Delete media never completed, or completed but never used, created before the cutoff."""
    cutoff = datetime.now(UTC) - older_than
    removed = 0
    while True:
        keys = [r["storage_key"] for r in await db.fetch(Q.media_delete_orphans, cutoff, batch)]
        if not keys:
            return removed
        try:
            await store.delete(keys)
        except Exception:  # the rows are gone either way; say which objects leaked
            log.exception("media cleanup: could not delete %d stored objects: %s", len(keys), keys[:20])
        removed += len(keys)
        if len(keys) < batch:
            return removed


SWEEP_EVERY = 3600.0


@contextlib.asynccontextmanager
async def sweeping(
    db: Database, store: MediaStore, settings: Settings, every: float = SWEEP_EVERY
) -> AsyncIterator[None]:
    """Without Redis there is no arq cron: this process sweeps orphans itself while it runs."""
    older_than = timedelta(seconds=settings.media_orphan_ttl)

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                removed = await delete_orphans(db, store, older_than)
            except Exception:  # keep sweeping; the next round retries what this one missed
                log.exception("media cleanup failed")
            else:
                if removed:
                    log.info("media cleanup: deleted %d orphaned media", removed)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def cleanup_media(ctx: dict[str, Any]) -> int:
    """Job: the orphan sweep (registered in workers/jobs.py and the worker's cron)."""
    settings: Settings = ctx["settings"]
    db: Database = ctx["db"]
    async with open_store(settings) as store:
        removed = await delete_orphans(db, store, timedelta(seconds=settings.media_orphan_ttl))
    if removed:
        log.info("media cleanup: deleted %d orphaned media", removed)
    return removed


__all__ = [
    "Link",
    "LocalStore",
    "MediaOut",
    "MediaStore",
    "S3Store",
    "Upload",
    "attach",
    "attachable",
    "attachable_batch",
    "check_avatar",
    "cleanup_media",
    "complete",
    "create",
    "fetch",
    "for_messages",
    "open_store",
]
