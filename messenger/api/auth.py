"""HTTP endpoints of /v1/auth (contract: Accounts).

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request

from .. import auth, users
from ..http import Call, Reply, endpoint

# Passwords: 8 to 256 characters, any Unicode (never truncated: see messenger/passwords.py).
NewPassword = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
# A login attempt only needs to be bounded; a too-short password simply does not match.
AnyPassword = Annotated[str, msgspec.Meta(max_length=256)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class RegisterBody(msgspec.Struct, frozen=True):
    email: users.Email
    username: users.Username
    password: NewPassword
    display_name: users.DisplayName | None = None


class UserBody(msgspec.Struct, frozen=True):
    user: users.Me


class TokenBody(msgspec.Struct, frozen=True):
    token: Token


class EmailBody(msgspec.Struct, frozen=True):
    email: users.Email


class LoginBody(msgspec.Struct, frozen=True):
    login: Annotated[str, msgspec.Meta(min_length=1, max_length=254, pattern=r"^[^\x00]+$")]
    password: AnyPassword


class RefreshBody(msgspec.Struct, frozen=True):
    refresh_token: Token


class ResetBody(msgspec.Struct, frozen=True):
    token: Token
    password: NewPassword


class SessionsQuery(msgspec.Struct, frozen=True):
    cursor: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50


def _user_agent(request: Request) -> str:
    # Stored as text, which cannot hold NUL; the domain caps the length.
    return request.headers.get("user-agent", "").replace("\x00", "")


@endpoint(
    body=RegisterBody,
    response=UserBody,
    status=201,
    auth=False,
    tags=("accounts",),
    errors=(409, 429),
    summary="Create an account; a verification mail is sent",
)
async def register(call: Call[RegisterBody, None]) -> UserBody:
    b = call.body
    me = await auth.register(
        call.services.accounts,
        email=b.email,
        username=b.username,
        password=b.password,
        display_name=b.display_name,
        client_ip=call.client_ip,
    )
    return UserBody(me)


@endpoint(body=TokenBody, response=UserBody, auth=False, tags=("accounts",), summary="Confirm an email address")
async def verify_email(call: Call[TokenBody, None]) -> UserBody:
    return UserBody(await auth.verify_email(call.services.accounts, call.body.token))


@endpoint(
    body=EmailBody,
    status=202,
    auth=False,
    tags=("accounts",),
    errors=(429,),
    summary="Send the verification mail again (202 whether or not the address exists)",
)
async def resend_verification(call: Call[EmailBody, None]) -> Reply:
    await auth.resend_verification(call.services.accounts, email=call.body.email, client_ip=call.client_ip)
    return Reply(202)


@endpoint(
    body=LoginBody,
    response=auth.TokenPair,
    auth=False,
    tags=("accounts",),
    errors=(401, 403, 429),
    summary="Log in with email or username",
)
async def login(call: Call[LoginBody, None]) -> auth.TokenPair:
    return await auth.login(
        call.services.accounts,
        login=call.body.login,
        password=call.body.password,
        client_ip=call.client_ip,
        user_agent=_user_agent(call.request),
    )


@endpoint(
    body=RefreshBody,
    response=auth.TokenPair,
    auth=False,
    tags=("accounts",),
    errors=(401,),
    summary="Exchange a refresh token for a new pair (the old one is spent)",
)
async def refresh(call: Call[RefreshBody, None]) -> auth.TokenPair:
    body, agent = call.body, _user_agent(call.request)
    return await auth.refresh(call.services.accounts, refresh_token=body.refresh_token, user_agent=agent)


@endpoint(body=RefreshBody, status=204, tags=("accounts",), summary="End the session of a refresh token")
async def logout(call: Call[RefreshBody, None]) -> None:
    assert call.principal is not None
    await auth.logout(call.services.accounts, call.principal, refresh_token=call.body.refresh_token)


@endpoint(
    body=EmailBody,
    status=202,
    auth=False,
    tags=("accounts",),
    errors=(429,),
    summary="Mail a password-reset link (202 whether or not the address exists)",
)
async def forgot_password(call: Call[EmailBody, None]) -> Reply:
    await auth.forgot_password(call.services.accounts, email=call.body.email, client_ip=call.client_ip)
    return Reply(202)


@endpoint(
    body=ResetBody,
    response=UserBody,
    auth=False,
    tags=("accounts",),
    summary="Set a new password with a reset token; every session of the user ends",
)
async def reset_password(call: Call[ResetBody, None]) -> UserBody:
    return UserBody(
        await auth.reset_password(call.services.accounts, token=call.body.token, password=call.body.password)
    )


@endpoint(query=SessionsQuery, response=auth.SessionPage, tags=("accounts",), summary="Your live sessions")
async def sessions(call: Call[None, SessionsQuery]) -> auth.SessionPage:
    assert call.principal is not None
    return await auth.list_sessions(
        call.services.accounts, call.principal, cursor=call.query.cursor, limit=call.query.limit
    )


@endpoint(status=204, tags=("accounts",), errors=(404,), summary="End one of your sessions")
async def revoke_session(call: Call[None, None]) -> None:
    assert call.principal is not None
    await auth.revoke_session(call.services.accounts, call.principal, call.path_int("session_id"))
