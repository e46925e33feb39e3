"""Signed tokens: short-lived JWT access tokens (joserfc, HS256) and opaque random tokens.

Layer: infrastructure.

Access tokens carry `sub` (user id), `sid` (session id), `typ: "access"`, `iat`, `exp` and a
`kid` header so keys can rotate: a node accepts every key in `keys` and signs with the first.
Only HS256 is accepted (an explicit allow-list), which rules out `alg: none` and key confusion.
Refresh, verification and reset tokens are opaque random strings stored hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from .errors import Unauthorized

ALGORITHMS = ["HS256"]


class Principal(msgspec.Struct, frozen=True):
    user_id: int
    session_id: int


class AccessClaims(msgspec.Struct, frozen=True):
    sub: str
    sid: int
    typ: str
    iat: int
    exp: int


_claims_decoder = msgspec.json.Decoder(AccessClaims)


class TokenSigner:
    def __init__(self, secret_key: str, *, ttl: int, extra_keys: tuple[str, ...] = ()) -> None:
        # Derive the JWT key from SECRET_KEY so the same secret can serve other purposes
        # (signed media URLs) without reusing key material directly.
        self._keys: dict[str, OctKey] = {}
        for raw in (secret_key, *extra_keys):
            material = hmac.new(raw.encode(), b"messenger.jwt.v1", hashlib.sha256).digest()
            kid = hashlib.sha256(material).hexdigest()[:16]
            self._keys[kid] = OctKey.import_key(material)
        self._kid = next(iter(self._keys))
        self.ttl = ttl

    def issue_access(self, user_id: int, session_id: int, *, now: float | None = None) -> str:
        iat = int(now if now is not None else time.time())
        claims = {"sub": str(user_id), "sid": session_id, "typ": "access", "iat": iat, "exp": iat + self.ttl}
        header = {"alg": "HS256", "kid": self._kid, "typ": "JWT"}
        return jwt.encode(header, claims, self._keys[self._kid], algorithms=ALGORITHMS)

    def verify_access(self, token: str) -> Principal:
        """Return the principal of a valid access token; Unauthorized otherwise (never a 5xx)."""
        try:
            header_b64 = token.split(".", 1)[0]
            header = msgspec.json.decode(_b64decode(header_b64))
            if not isinstance(header, dict):
                raise Unauthorized("Invalid token")
            key = self._keys.get(str(header.get("kid")))
            if key is None:
                raise Unauthorized("Invalid token")
            decoded = jwt.decode(token, key, algorithms=ALGORITHMS)
            claims = msgspec.convert(decoded.claims, AccessClaims)
        except Unauthorized:
            raise
        except (JoseError, ValueError, msgspec.ValidationError, msgspec.DecodeError, TypeError):
            raise Unauthorized("Invalid token") from None
        if claims.typ != "access" or not claims.sub.isdigit():
            raise Unauthorized("Invalid token")
        if claims.exp <= time.time():
            raise Unauthorized("Token expired", code="token_expired")
        return Principal(int(claims.sub), claims.sid)


def _b64decode(data: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def new_opaque() -> str:
    """A random token for refresh / email links (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_opaque(token: str) -> bytes:
    """Opaque tokens are stored hashed: a database leak does not leak usable tokens."""
    return hashlib.sha256(token.encode()).digest()
