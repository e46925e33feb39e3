"""Accounts: registration, email verification, login sessions, token rotation, password reset.

A login creates a session; the session holds a family of refresh tokens of which only the
newest is unspent. Refreshing spends it and issues the next one under a row lock, so of two
concurrent refreshes with one token exactly one succeeds. A spent token presented again means
it was copied: the whole session ends (`token_reused`), and with it every access token, since
`authenticate` checks that the session is live. Email tokens (verification 24 h, reset 1 h)
are single use and stored hashed; a new reset token voids the older ones.

Sessions that end are reported to the publisher after commit so their sockets close. Mails
are always sent by a job (`send_mail`), never in the request.

Layer: domain. Operations take `Accounts`: the database plus the few accounts accounts use
(token signer, rate limiter, job queue, publisher), each typed by what it does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec

from . import mail, passwords, users
from .db import Database, Q, row
from .errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from .ports import Jobs, Publisher
from .ratelimit import Limiter
from .settings import Settings
from .tokens import Principal, TokenSigner, hash_opaque, new_opaque

log = logging.getLogger("messenger.auth")

VERIFY_TTL = 24 * 3600
RESET_TTL = 3600
VERIFY, RESET = "verify", "reset"
USER_AGENT_MAX = 512


@dataclass(frozen=True)
class Accounts:
    settings: Settings
    db: Database
    signer: TokenSigner
    limiter: Limiter
    jobs: Jobs
    publisher: Publisher


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    refresh_token: str
    expires_in: int
    user: users.Me
    token_type: str = "bearer"


class SessionInfo(msgspec.Struct, frozen=True):
    id: int
    created_at: datetime
    last_used_at: datetime
    user_agent: str
    current: bool


class SessionPage(msgspec.Struct, frozen=True):
    sessions: list[SessionInfo]
    next_cursor: str | None


async def authenticate(db: Database, signer: TokenSigner, token: str) -> Principal:
    """Resolve an access token to its principal; the session must still be live."""
    principal = signer.verify_access(token)
    owner = await db.fetchval(Q.session_is_live, principal.session_id)
    if owner != principal.user_id:
        raise Unauthorized("Session has ended", code="session_ended")
    return principal


# -- registration and email tokens ---------------------------------------------------------


async def register(
    accounts: Accounts, *, email: str, username: str, password: str, display_name: str | None, client_ip: str
) -> users.Me:
    settings = accounts.settings
    await accounts.limiter.hit("register", client_ip, settings.rate_limit_register)
    password_hash = await passwords.hash_password(password, settings.bcrypt_rounds)
    token = new_opaque()
    try:
        async with accounts.db.transaction() as conn:
            record = await conn.fetchrow(Q.insert_user, email, username, display_name or username, password_hash)
            assert record is not None
            me = row(users.Me, record)
            await conn.execute(Q.insert_email_token, hash_opaque(token), me.id, VERIFY, float(VERIFY_TTL))
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "users_username_key":
            raise Conflict("That username is taken", code="username_taken") from None
        raise Conflict("An account with that email address exists", code="email_taken") from None
    await _mail_verification(accounts, me.email, token)
    return me


async def verify_email(accounts: Accounts, token: str) -> users.Me:
    token_hash = hash_opaque(token)
    async with accounts.db.transaction() as conn:
        user_id = await conn.fetchval(Q.use_email_token, token_hash, VERIFY)
        if user_id is not None:
            record = await conn.fetchrow(Q.mark_verified, user_id)
            assert record is not None
            return row(users.Me, record)
    raise await _bad_email_token(accounts, token_hash, VERIFY)


async def resend_verification(accounts: Accounts, *, email: str, client_ip: str) -> None:
    """Always succeeds from the caller's view: nothing tells whether the address exists."""
    await _limit_email(accounts, "resend", email, client_ip)
    account = await accounts.db.fetchrow(Q.account_by_email, email)
    if account is None or account["verified"]:
        return
    token = new_opaque()
    await accounts.db.execute(Q.insert_email_token, hash_opaque(token), account["id"], VERIFY, float(VERIFY_TTL))
    await _mail_verification(accounts, account["email"], token)


async def forgot_password(accounts: Accounts, *, email: str, client_ip: str) -> None:
    """Always succeeds from the caller's view: nothing tells whether the address exists."""
    await _limit_email(accounts, "forgot", email, client_ip)
    account = await accounts.db.fetchrow(Q.account_by_email, email)
    if account is None:
        return
    token = new_opaque()
    async with accounts.db.transaction() as conn:
        await conn.execute(Q.void_email_tokens, account["id"], RESET)
        await conn.execute(Q.insert_email_token, hash_opaque(token), account["id"], RESET, float(RESET_TTL))
    m = mail.reset_mail(accounts.settings, account["email"], token, _key(token))
    await _enqueue_mail(accounts, m, token)


async def reset_password(accounts: Accounts, *, token: str, password: str) -> users.Me:
    token_hash = hash_opaque(token)
    state = await accounts.db.fetchrow(Q.email_token_state, token_hash, RESET)
    if state is None or state["used"] or state["expired"]:
        raise await _bad_email_token(accounts, token_hash, RESET)
    # Hash only for a token that looked valid (bcrypt is the expensive part), then spend it
    # conditionally: a concurrent reset with the same token may have won in between.
    password_hash = await passwords.hash_password(password, accounts.settings.bcrypt_rounds)
    ended: list[int] = []
    async with accounts.db.transaction() as conn:
        user_id = await conn.fetchval(Q.use_email_token, token_hash, RESET)
        if user_id is not None:
            await conn.execute(Q.set_password, user_id, password_hash)
            await conn.execute(Q.void_email_tokens, user_id, RESET)
            ended = [r["id"] for r in await conn.fetch(Q.end_user_sessions, user_id, "password_reset")]
    if user_id is None:
        raise await _bad_email_token(accounts, token_hash, RESET)
    await _ended(accounts, ended)
    return await users.me(accounts.db, user_id)


async def _bad_email_token(accounts: Accounts, token_hash: bytes, purpose: str) -> Unprocessable:
    state = await accounts.db.fetchrow(Q.email_token_state, token_hash, purpose)
    if state is not None and state["expired"] and not state["used"]:
        return Unprocessable("This link has expired; ask for a new one", code="token_expired")
    return Unprocessable("This link is invalid or was already used", code="invalid_token")


async def _limit_email(accounts: Accounts, scope: str, email: str, client_ip: str) -> None:
    settings = accounts.settings
    # Per address, so nobody can flood one mailbox; per IP (with the registration budget, which
    # also sends a mail each time), so nobody can use us to mail many addresses.
    await accounts.limiter.hit(scope, email.lower(), settings.rate_limit_email)
    await accounts.limiter.hit(f"{scope}-ip", client_ip, settings.rate_limit_register)


def _key(token: str) -> str:
    return hash_opaque(token).hex()


async def _mail_verification(accounts: Accounts, to: str, token: str) -> None:
    await _enqueue_mail(accounts, mail.verification_mail(accounts.settings, to, token, _key(token)), token)


async def _enqueue_mail(accounts: Accounts, m: mail.Mail, token: str) -> None:
    # The token's hash names the job: one mail per token, however often enqueueing is retried.
    # A failure to enqueue (Redis down) must not undo what was committed: the user can ask again.
    try:
        await accounts.jobs.enqueue("send_mail", m, job_id=f"mail:{_key(token)}")
    except Exception:
        log.exception("could not enqueue mail %r to %s", m.subject, m.to)


# -- login sessions ------------------------------------------------------------------------

_dummy_hashes: dict[int, bytes] = {}


async def _dummy_hash(rounds: int) -> bytes:
    hashed = _dummy_hashes.get(rounds)
    if hashed is None:
        hashed = _dummy_hashes[rounds] = await passwords.hash_password(new_opaque(), rounds)
    return hashed


async def login(accounts: Accounts, *, login: str, password: str, client_ip: str, user_agent: str) -> TokenPair:
    settings = accounts.settings
    await accounts.limiter.hit("login-ip", client_ip, settings.rate_limit_login_ip)
    query = Q.login_by_email if "@" in login else Q.login_by_username
    account = await accounts.db.fetchrow(query, login)
    # Per account (whichever login names it), and per login string for unknown accounts, so
    # the limit itself does not tell which accounts exist.
    await accounts.limiter.hit(
        "login", str(account["id"]) if account else f"?{login.lower()}", settings.rate_limit_login
    )
    if account is None:
        # Same work as a wrong password, so timing does not tell which logins exist either.
        await passwords.verify_password(password, await _dummy_hash(settings.bcrypt_rounds))
        raise Unauthorized("Wrong login or password", code="invalid_credentials")
    if not await passwords.verify_password(password, account["password_hash"]):
        raise Unauthorized("Wrong login or password", code="invalid_credentials")
    if account["deactivated"]:
        raise Forbidden("This account has been deactivated by a server admin", code="account_deactivated")
    if not account["verified"]:
        raise Forbidden("Confirm your email address first", code="email_not_verified")
    refresh_token = new_opaque()
    async with accounts.db.transaction() as conn:
        session_id = await conn.fetchval(Q.insert_session, account["id"], user_agent[:USER_AGENT_MAX])
        await conn.execute(
            Q.insert_refresh_token, hash_opaque(refresh_token), session_id, float(settings.refresh_token_ttl)
        )
    return await _pair(accounts, account["id"], session_id, refresh_token)


async def refresh(accounts: Accounts, *, refresh_token: str, user_agent: str) -> TokenPair:
    token_hash = hash_opaque(refresh_token)
    new_token = new_opaque()
    ended: list[int] = []
    async with accounts.db.transaction() as conn:
        state = await conn.fetchrow(Q.refresh_token_for_update, token_hash)
        if state is None:
            outcome = "invalid"
        elif state["spent"]:
            # Reuse: whoever holds the newest token of this family may be a thief. End it all.
            outcome = "reused"
            ended = [r["id"] for r in await conn.fetch(Q.end_session, state["session_id"], "token_reused")]
        elif state["ended"]:
            outcome = "ended"
        elif state["expired"]:
            outcome = "expired"
        else:
            outcome = "ok"
            await conn.execute(Q.spend_refresh_token, token_hash)
            await conn.execute(
                Q.insert_refresh_token,
                hash_opaque(new_token),
                state["session_id"],
                float(accounts.settings.refresh_token_ttl),
            )
            await conn.execute(Q.touch_session, state["session_id"], user_agent[:USER_AGENT_MAX])
    if outcome == "ok":
        assert state is not None
        return await _pair(accounts, state["user_id"], state["session_id"], new_token)
    if outcome == "reused":
        await _ended(accounts, ended)
        raise Unauthorized("Refresh token was already used; the session has ended", code="token_reused")
    if outcome == "ended":
        raise Unauthorized("Session has ended", code="session_ended")
    if outcome == "expired":
        raise Unauthorized("Refresh token expired", code="token_expired")
    raise Unauthorized("Invalid refresh token", code="invalid_token")


async def _pair(accounts: Accounts, user_id: int, session_id: int, refresh_token: str) -> TokenPair:
    me = await users.me(accounts.db, user_id)
    access = accounts.signer.issue_access(user_id, session_id)
    return TokenPair(access, refresh_token, accounts.signer.ttl, me)


async def logout(accounts: Accounts, principal: Principal, *, refresh_token: str) -> None:
    """End the session of `refresh_token` if it is the caller's; idempotent."""
    found = await accounts.db.fetchrow(Q.session_of_refresh_token, hash_opaque(refresh_token))
    if found is None or found["user_id"] != principal.user_id:
        return
    await _end_session(accounts, found["id"], "logout")


async def list_sessions(accounts: Accounts, principal: Principal, *, cursor: int | None, limit: int) -> SessionPage:
    records = await accounts.db.fetch(
        Q.list_sessions, principal.user_id, cursor if cursor is not None else 2**63 - 1, limit + 1
    )
    sessions = [SessionInfo(**r, current=r["id"] == principal.session_id) for r in records[:limit]]
    next_cursor = str(sessions[-1].id) if len(records) > limit else None
    return SessionPage(sessions, next_cursor)


async def revoke_session(accounts: Accounts, principal: Principal, session_id: int) -> None:
    owner = await accounts.db.fetchval(Q.session_owner, session_id)
    if owner != principal.user_id:
        raise NotFound("No such session", code="session_not_found")
    await _end_session(accounts, session_id, "revoked")


async def _end_session(accounts: Accounts, session_id: int, reason: str) -> None:
    ended = [r["id"] for r in await accounts.db.fetch(Q.end_session, session_id, reason)]
    await _ended(accounts, ended)


async def _ended(accounts: Accounts, session_ids: Sequence[int]) -> None:
    """Close the sockets of sessions that just ended (after commit, never inside it)."""
    if session_ids:
        try:
            await accounts.publisher.end_sessions(session_ids)
        except Exception:
            # The sessions are over either way: their tokens fail `authenticate` from now on.
            log.exception("could not close the sockets of sessions %s", list(session_ids))
