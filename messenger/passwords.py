"""Password hashing: bcrypt over a SHA-256 pre-hash, always off the event loop.

Layer: infrastructure.

bcrypt only reads the first 72 bytes of its input and stops at NUL. Pre-hashing every password
with SHA-256 and base64-encoding the digest (44 ASCII bytes, no NUL) means a long password is
never truncated: its first 72 bytes alone do not verify.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

import bcrypt


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def hash_sync(password: str, rounds: int) -> bytes:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds))


def verify_sync(password: str, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), hashed)
    except ValueError:  # a corrupt stored hash must not become a 500
        return False


async def hash_password(password: str, rounds: int) -> bytes:
    return await asyncio.to_thread(hash_sync, password, rounds)


async def verify_password(password: str, hashed: bytes) -> bool:
    return await asyncio.to_thread(verify_sync, password, hashed)
