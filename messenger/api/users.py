"""HTTP endpoints of /v1/users (contract: Users).

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .. import erasure, users
from ..errors import Unprocessable
from ..http import Call, endpoint
from ..model import User


class MeBody(msgspec.Struct, frozen=True):
    user: users.Me


class UserBody(msgspec.Struct, frozen=True):
    user: User


class ProfilePatch(msgspec.Struct, frozen=True):
    display_name: users.DisplayName | msgspec.UnsetType = msgspec.UNSET
    bio: users.Bio | msgspec.UnsetType = msgspec.UNSET
    # Bounded to bigint: msgspec's int accepts up to 2**64-1 and asyncpg then fails (was a 500).
    avatar_media_id: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)] | msgspec.UnsetType | None = msgspec.UNSET


class PresenceQuery(msgspec.Struct, frozen=True):
    # Comma-separated user ids, at most 200 of them.
    user_ids: Annotated[str, msgspec.Meta(min_length=1, max_length=4200, pattern=r"^[0-9]{1,19}(,[0-9]{1,19})*$")]


class DeleteAccount(msgspec.Struct, frozen=True):
    password: Annotated[str, msgspec.Meta(max_length=256)]


class SearchQuery(msgspec.Struct, frozen=True):
    q: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
    limit: Annotated[int, msgspec.Meta(ge=1, le=users.SEARCH_LIMIT_MAX)] = users.SEARCH_LIMIT_DEFAULT
    cursor: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[^\x00]*$")] | None = None


@endpoint(response=MeBody, tags=("users",), summary="Your own user, with email")
async def get_me(call: Call[None, None]) -> MeBody:
    return MeBody(await users.me(call.services.db, call.user_id))


@endpoint(body=ProfilePatch, response=MeBody, tags=("users",), summary="Edit your profile")
async def patch_me(call: Call[ProfilePatch, None]) -> MeBody:
    b = call.body
    me = await users.update_profile(
        call.services.db,
        call.user_id,
        display_name=b.display_name if b.display_name is not msgspec.UNSET else None,
        bio=b.bio if b.bio is not msgspec.UNSET else None,
        avatar_media_id=b.avatar_media_id,
    )
    return MeBody(me)


@endpoint(
    body=DeleteAccount,
    status=204,
    tags=("users",),
    errors=(403,),
    summary="Close your account for good (password confirms): profile erased, messages stay",
)
async def delete_me(call: Call[DeleteAccount, None]) -> None:
    s = call.services
    await erasure.delete_account(s.db, s.hub, s.media, call.user_id, call.body.password)


@endpoint(response=UserBody, tags=("users",), errors=(404,), summary="A user's public profile")
async def get_user(call: Call[None, None]) -> UserBody:
    return UserBody(await users.public(call.services.db, call.path_int("user_id")))


@endpoint(
    query=SearchQuery,
    response=users.UserPage,
    tags=("users",),
    summary="Users whose username or display name starts with q",
)
async def search(call: Call[None, SearchQuery]) -> users.UserPage:
    q = call.query
    return await users.search(call.services.db, q.q, limit=q.limit, cursor=q.cursor)


@endpoint(
    query=PresenceQuery,
    response=users.PresenceList,
    tags=("users",),
    summary="Online state and last-seen time of users sharing a chat with you",
)
async def presence(call: Call[None, PresenceQuery]) -> users.PresenceList:
    ids = [int(part) for part in call.query.user_ids.split(",")]
    if len(ids) > users.PRESENCE_MAX_IDS:
        raise Unprocessable(f"At most {users.PRESENCE_MAX_IDS} user_ids", code="validation_error")
    if any(not 1 <= i < 2**63 for i in ids):
        raise Unprocessable("user_ids must be positive 64-bit integers", code="validation_error")
    return await users.presence(call.services.db, call.user_id, ids, call.services.hub.online)
