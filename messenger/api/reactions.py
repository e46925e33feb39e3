"""Reaction and pin endpoints.

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .. import pins, reactions
from ..http import Call, endpoint
from ..model import Message
from ..reactions import ReactionUsers


class UsersQuery(msgspec.Struct):
    cursor: Annotated[str, Meta(max_length=64)] | None = None
    limit: Annotated[int, Meta(ge=1, le=reactions.PAGE_MAX)] = reactions.PAGE_DEFAULT


class PinnedMessages(msgspec.Struct):
    messages: list[Message]


def _emoji(call: Call[None, UsersQuery] | Call[None, None]) -> str:
    # The path arrives percent-decoded; `check_emoji` in the domain decides what is an emoji.
    return str(call.request.path_params["emoji"])


@endpoint(status=204, errors=(404, 409, 422), tags=("reactions",), summary="React with one emoji (idempotent)")
async def add_reaction(call: Call[None, None]) -> None:
    await reactions.add(
        call.services.db,
        call.services.hub,
        call.user_id,
        call.path_int("chat_id"),
        call.path_int("message_id"),
        _emoji(call),
    )


@endpoint(status=204, errors=(404, 409, 422), tags=("reactions",), summary="Take one's reaction back (idempotent)")
async def remove_reaction(call: Call[None, None]) -> None:
    await reactions.remove(
        call.services.db,
        call.services.hub,
        call.user_id,
        call.path_int("chat_id"),
        call.path_int("message_id"),
        _emoji(call),
    )


@endpoint(
    query=UsersQuery,
    response=ReactionUsers,
    errors=(404, 422),
    tags=("reactions",),
    summary="Who reacted with one emoji, oldest first",
)
async def reaction_users(call: Call[None, UsersQuery]) -> ReactionUsers:
    return await reactions.who(
        call.services.db,
        call.user_id,
        call.path_int("chat_id"),
        call.path_int("message_id"),
        _emoji(call),
        cursor=call.query.cursor,
        limit=call.query.limit,
    )


@endpoint(status=204, errors=(403, 404, 409), tags=("pins",), summary="Pin a message (owner/admin; direct: either)")
async def pin(call: Call[None, None]) -> None:
    await pins.set_pinned(
        call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"), call.path_int("message_id"), True
    )


@endpoint(status=204, errors=(403, 404), tags=("pins",), summary="Unpin a message (owner/admin; direct: either)")
async def unpin(call: Call[None, None]) -> None:
    await pins.set_pinned(
        call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"), call.path_int("message_id"), False
    )


@endpoint(response=PinnedMessages, errors=(404,), tags=("pins",), summary="Pinned messages, most recent first")
async def list_pins(call: Call[None, None]) -> PinnedMessages:
    return PinnedMessages(await pins.listing(call.services.db, call.user_id, call.path_int("chat_id")))
