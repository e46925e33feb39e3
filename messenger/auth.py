"""Accounts: registration, email verification, login sessions, token rotation, password reset."""

from __future__ import annotations

from .db import Q
from .errors import Unauthorized
from .services import Services
from .tokens import Principal


async def authenticate(services: Services, token: str) -> Principal:
    """Resolve an access token to its principal; the session must still be live."""
    principal = services.signer.verify_access(token)
    owner = await services.db.fetchval(Q.session_is_live, principal.session_id)
    if owner != principal.user_id:
        raise Unauthorized("Session has ended", code="session_ended")
    return principal
