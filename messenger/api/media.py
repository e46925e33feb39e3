"""Media endpoints: upload slots, completion, lookup, and the app-served (local store) transfers.

Layer: edge.
"""

from __future__ import annotations

import time

import msgspec
from starlette.requests import ClientDisconnect
from starlette.responses import FileResponse, RedirectResponse, Response

from .. import media, mediastore
from ..http import Call, endpoint
from ..media import Upload
from ..model import MediaOut
from ..parse import ascii_int


class CreateMedia(msgspec.Struct):
    filename: str
    content_type: str
    size: int


class MediaEnvelope(msgspec.Struct):
    media: MediaOut


class Signed(msgspec.Struct):
    """The signature of an app-served URL; a missing or bad one is refused with 403."""

    expires: int = 0
    sig: str = ""


@endpoint(body=CreateMedia, response=Upload, status=201, tags=("media",), errors=(413, 415))
async def create(call: Call[CreateMedia, None]) -> Upload:
    b = call.body
    return await media.create(
        call.services.db, call.services.media, call.services.settings, call.user_id, b.filename, b.content_type, b.size
    )


@endpoint(response=MediaEnvelope, tags=("media",), errors=(403, 404, 409, 415))
async def complete(call: Call[None, None]) -> MediaEnvelope:
    return MediaEnvelope(await media.complete(call.services.db, call.services.media, call.user_id, call.path_int("id")))


@endpoint(response=MediaEnvelope, tags=("media",), errors=(404,))
async def get(call: Call[None, None]) -> MediaEnvelope:
    return MediaEnvelope(
        await media.fetch(
            call.services.db, call.services.media, call.services.settings, call.user_id, call.path_int("id")
        )
    )


@endpoint(query=Signed, auth=False, status=204, tags=("media",), errors=(403, 404, 409, 413, 415), raw_body=True)
async def upload(call: Call[None, Signed]) -> Response | None:
    """The embedded store's upload target: PUT the raw bytes (the URL's signature authorizes)."""
    headers = call.request.headers
    length = headers.get("content-length")
    try:
        await media.receive_upload(
            call.services.db,
            call.services.media,
            call.path_int("id"),
            call.query.expires,
            call.query.sig,
            headers.get("content-type"),
            ascii_int(length) if length is not None else None,
            call.request.stream(),
        )
    except ClientDisconnect:
        # The client went away mid-body; the partial file is already gone and nobody reads this.
        return Response(status_code=400)
    return None


@endpoint(query=Signed, auth=False, tags=("media",), errors=(403, 404))
async def download(call: Call[None, Signed]) -> Response:
    """The embedded store's download URL: the bytes with their type and a safe disposition."""
    found = await media.local_download(
        call.services.db, call.services.media, call.path_int("id"), call.query.expires, call.query.sig
    )
    return FileResponse(
        found.path,
        media_type=found.content_type,
        headers={
            "Content-Disposition": mediastore.content_disposition(found.content_type, found.filename),
            # Uploaded bytes are served from the API's origin: never sniffed, never scripted.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": f"private, max-age={max(0, call.query.expires - int(time.time()))}",
        },
    )


@endpoint(auth=False, tags=("media",), errors=(404,))
async def avatar(call: Call[None, None]) -> Response:
    """`avatar_url` of user objects: a redirect to a fresh short-lived download URL."""
    url = await media.avatar_redirect(
        call.services.db, call.services.media, call.services.settings, call.path_int("id")
    )
    ttl = call.services.settings.media_download_ttl
    # Browsers may reuse the redirect for a while, but not past the target URL's lifetime.
    return RedirectResponse(url, 302, headers={"Cache-Control": f"private, max-age={max(0, ttl // 2)}"})
