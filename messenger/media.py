"""Media: upload slots, verification, visibility, attachments and cleanup.

Layer: domain. The bytes live in a store (mediastore.py: local disk or S3); what they are is
checked by mediasniff.py.

Flow: `create` validates the declaration and hands out an upload target: a presigned S3 POST
whose policy pins the exact Content-Type and size, or (embedded default) an app URL signed with
a key derived from SECRET_KEY that the local store's `receive` streams to disk. `complete`
then checks what was really stored (size, magic bytes, UTF-8 for text, sha256, image
dimensions) before the medium becomes `ready`; only ready media can be attached or become an
avatar.

A medium is visible to its uploader and to the current members of any chat holding a message
that carries it; everyone else gets 404, exactly like a chat they are not in.
"""

from __future__ import annotations

import logging
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import msgspec

from .db import Connection, Database, Q
from .errors import AppError, Conflict, Forbidden, NotFound, TooLarge, Unprocessable, UnsupportedMediaType
from .mediasniff import image_size, inspect, matches_type
from .mediastore import LocalFile, LocalStore, MediaRow, MediaStore, UploadTarget, store_errors
from .model import MediaOut
from .settings import Settings

log = logging.getLogger("messenger.media")

MAX_ATTACHMENTS = 10


class Upload(msgspec.Struct, kw_only=True):
    media: MediaOut
    upload: UploadTarget
    expires_at: datetime


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
        found = await inspect(store.read(row.storage_key), check_text=row.content_type == "text/plain")
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
