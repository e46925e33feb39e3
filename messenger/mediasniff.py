"""What a stored medium really is: magic bytes per content type, image dimensions, UTF-8 text.

Layer: infrastructure (pure functions over bytes, plus one streaming pass in `inspect`).
"""

from __future__ import annotations

import codecs
import hashlib
import io
from collections.abc import AsyncIterator, Callable

import imagesize
import msgspec

# Enough for any image header we parse (JPEG keeps its SOF after EXIF/ICC segments).
SNIFF_PREFIX = 512 * 1024


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


IMAGE_TYPES = frozenset({"image/png", "image/gif", "image/webp", "image/jpeg"})


def image_size(content_type: str, head: bytes) -> tuple[int, int] | None:
    """(width, height) as the image is shown, or None if the header does not say.

    The imagesize package reads the header only, and applies EXIF orientation: a phone photo
    stored 4000x3000 with "rotate 90" is reported 3000x4000, as every viewer draws it.
    """
    if content_type not in IMAGE_TYPES:
        return None
    width, height = imagesize.get(io.BytesIO(head), exif_rotation=True)
    return (width, height) if width > 0 and height > 0 else None


class Inspection(msgspec.Struct):
    sha256: str
    head: bytes
    text_ok: bool


async def inspect(chunks: AsyncIterator[bytes], *, check_text: bool) -> Inspection:
    """One streaming pass over a stored object: checksum, a prefix to sniff, UTF-8 check."""
    digest = hashlib.sha256()
    head = bytearray()
    decoder = codecs.getincrementaldecoder("utf-8")()
    text_ok = check_text
    async for chunk in chunks:
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
