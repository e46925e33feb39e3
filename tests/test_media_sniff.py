"""The content checks behind POST /v1/media/{id}/complete, on their own (pure functions)."""

from __future__ import annotations

import pytest

from messenger import media, mediasniff, mediastore
from messenger.errors import Unprocessable

from . import media_samples as s


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", s.png(3, 2)),
        ("image/jpeg", s.jpeg(3, 2)),
        ("image/gif", s.gif(3, 2)),
        ("image/webp", s.webp_lossless(3, 2)),
        ("application/pdf", s.PDF),
        ("application/zip", s.ZIP_EMPTY),
        ("video/mp4", s.MP4),
        ("video/webm", s.WEBM),
        ("audio/webm", s.WEBM),
        ("audio/ogg", s.OGG),
        ("audio/mpeg", s.MP3),
        ("audio/wav", s.WAV),
    ],
)
def test_magic_numbers_match_their_declared_type(content_type: str, data: bytes) -> None:
    assert mediasniff.matches_type(content_type, data)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", s.jpeg(3, 2)),
        ("image/jpeg", s.PDF),
        ("image/webp", s.WAV),
        ("audio/wav", s.webp_lossy(3, 2)),
        ("application/pdf", b"<html><script>alert(1)</script>"),
        ("video/mp4", s.WEBM),
        ("audio/mpeg", b"hello world"),
    ],
)
def test_magic_numbers_of_another_type_do_not_match(content_type: str, data: bytes) -> None:
    assert not mediasniff.matches_type(content_type, data)


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("image/png", s.png(640, 480)),
        ("image/jpeg", s.jpeg(640, 480)),
        ("image/jpeg", s.jpeg(640, 480, exif=60000)),
        ("image/gif", s.gif(640, 480)),
        ("image/webp", s.webp_lossy(640, 480)),
        ("image/webp", s.webp_lossless(640, 480)),
        ("image/webp", s.webp_extended(640, 480)),
    ],
)
def test_image_headers_give_width_and_height(content_type: str, data: bytes) -> None:
    assert mediasniff.image_size(content_type, data) == (640, 480)


def test_a_rotated_jpeg_reports_the_size_it_is_shown_at() -> None:
    # Stored 640x480 with EXIF orientation 6 (rotate 90): viewers draw it 480 wide, 640 high.
    assert mediasniff.image_size("image/jpeg", s.jpeg(640, 480, orientation=6)) == (480, 640)


def test_truncated_jpeg_has_no_dimensions() -> None:
    assert mediasniff.image_size("image/jpeg", s.jpeg(640, 480)[:22]) is None


@pytest.mark.parametrize("name", ["", "a/b.png", "..\\evil.png", "nul\x00.txt", "line\nbreak.txt", "x" * 256, ".."])
def test_unsafe_filenames_are_refused(name: str) -> None:
    with pytest.raises(Unprocessable):
        media.clean_filename(name)


def test_bidi_override_is_stripped_from_filenames() -> None:
    assert media.clean_filename("invoice\u202egpj.exe") == "invoicegpj.exe"


def test_content_disposition_keeps_unicode_names_and_quotes_safely() -> None:
    header = mediastore.content_disposition("application/pdf", 'Réponse "final".pdf')
    assert header == "attachment; filename=\"R_ponse _final_.pdf\"; filename*=UTF-8''R%C3%A9ponse%20%22final%22.pdf"
