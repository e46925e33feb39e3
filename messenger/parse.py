"""Strict parsing of the numbers clients send as text: ids in paths, cursors, query integers.

`str.isdigit()` and `int()` accept far more than ASCII: `int("٣")` is 3 (another id, read
silently) and `"²".isdigit()` is True while `int("²")` raises. Everything a client sends as a
number goes through `ascii_int`, so only `0`-`9` ever name a row.
"""

from __future__ import annotations

# 18 digits always fit a PostgreSQL bigint; longer values cannot name a row anyway.
MAX_DIGITS = 18


def ascii_int(raw: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The value of 1 to `max_digits` ASCII digits; None for anything else (signs, spaces, ...)."""
    if not 0 < len(raw) <= max_digits or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)
