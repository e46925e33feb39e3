"""What a stored medium really is: magic bytes per content type, image dimensions, UTF-8 text.

Layer: infrastructure (pure functions over bytes, plus one streaming pass in `inspect`).
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import AsyncIterator, Callable

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
