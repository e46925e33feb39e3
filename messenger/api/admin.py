"""HTTP endpoints of /v1/admin (contract v1.1: Administration and accounts). Server admins only."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from .. import admin
from ..http import Call, endpoint
from ..messages import MAX_ID

Reason = Annotated[str, Meta(max_length=500, pattern=r"^[^\x00]*$")]


class DeactivateBody(msgspec.Struct, frozen=True):
    reason: Reason | None = None


class UsersQuery(msgspec.Struct, frozen=True):
    q: Annotated[str, Meta(max_length=254, pattern=r"^[^\x00]*$")] = ""
    cursor: Annotated[int, Meta(ge=0, le=MAX_ID)] | None = None
    limit: Annotated[int, Meta(ge=1, le=admin.LIST_LIMIT_MAX)] = admin.LIST_LIMIT_DEFAULT


async def _admin(call: Call[Any, Any]) -> None:
    await admin.require_admin(call.services.db, call.user_id)


@endpoint(
    body=DeactivateBody,
    body_optional=True,
    status=204,
    tags=("admin",),
    errors=(403, 404),
    summary="Deactivate an account: its sessions end and its sockets close (1008); login is refused",
)
async def deactivate_user(call: Call[DeactivateBody, None]) -> None:
    await _admin(call)
    await admin.deactivate(call.services.db, call.services.hub, call.path_int("user_id"), call.body.reason)


@endpoint(status=204, tags=("admin",), errors=(403, 404), summary="Reactivate a deactivated account")
async def reactivate_user(call: Call[None, None]) -> None:
    await _admin(call)
    await admin.reactivate(call.services.db, call.path_int("user_id"))


@endpoint(
    query=UsersQuery,
    response=admin.AdminUserPage,
    tags=("admin",),
    errors=(403,),
    summary="Every account, newest first; q is a prefix of username, display name or email",
)
async def list_users(call: Call[None, UsersQuery]) -> admin.AdminUserPage:
    await _admin(call)
    q = call.query
    return await admin.list_users(call.services.db, q.q, cursor=q.cursor, limit=q.limit)


@endpoint(
    status=204,
    tags=("admin",),
    errors=(403, 404),
    summary="Delete any message, in any chat, as the chat's owner would",
)
async def delete_message(call: Call[None, None]) -> None:
    await _admin(call)
    await admin.delete_message(call.services.db, call.services.hub, call.path_int("message_id"))


@endpoint(response=admin.Stats, tags=("admin",), errors=(403,), summary="Server figures")
async def stats(call: Call[None, None]) -> admin.Stats:
    await _admin(call)
    sockets = sum(len(state.peers) for state in call.services.hub.users.values())
    return await admin.stats(call.services.db, sockets)
