"""Chat endpoints: create, list, read, rename, delete, members, read marker.

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .. import chats
from ..chats import ChatPage, Member, MemberPage
from ..http import Call, Reply, endpoint
from ..messages import MAX_ID
from ..model import Chat, ChatKind, Role
from ..users import SPOOFING_CHARS

# No NUL (PostgreSQL text cannot hold it) and no bidi or zero-width spoofing characters
# (as display names); anything else is kept as sent.
Title = Annotated[str, Meta(min_length=1, max_length=128, pattern=rf"^[^\x00{SPOOFING_CHARS}]*$")]
Description = Annotated[str, Meta(max_length=1024, pattern=r"^[^\x00]*$")]
Limit = Annotated[int, Meta(ge=1, le=100)]
UserId = Annotated[int, Meta(ge=1, le=MAX_ID)]


class CreateChat(msgspec.Struct):
    kind: ChatKind
    member_ids: Annotated[list[UserId], Meta(max_length=1000)]
    title: Title | None = None
    description: Description | None = None


class UpdateChat(msgspec.Struct):
    # Absent: unchanged; null: cleared.
    title: Title | msgspec.UnsetType | None = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET


class ChatResponse(msgspec.Struct):
    chat: Chat


class PageQuery(msgspec.Struct):
    cursor: str | None = None
    limit: Limit = 50


class AddMember(msgspec.Struct):
    user_id: UserId
    role: Role = "member"


class ChangeRole(msgspec.Struct):
    role: Role


class MemberResponse(msgspec.Struct):
    member: Member


class ReadBody(msgspec.Struct):
    seq: Annotated[int, Meta(ge=0, le=MAX_ID)]


@endpoint(
    body=CreateChat,
    response=ChatResponse,
    status=201,
    extra_statuses=(200,),
    tags=("chats",),
    summary="Create a chat (an existing direct chat with the same peer: 200 and that chat; "
    "unknown member_ids: 422 unknown_user)",
)
async def create_chat(call: Call[CreateChat, None]) -> Reply:
    b = call.body
    chat, created = await chats.create(
        call.services.db,
        call.services.hub,
        call.user_id,
        kind=b.kind,
        title=b.title,
        description=b.description,
        member_ids=b.member_ids,
    )
    return Reply(201 if created else 200, ChatResponse(chat))


class ListQuery(PageQuery):
    # Word prefixes of the title (direct chats: the peer's display name or username).
    q: Annotated[str, Meta(min_length=1, max_length=256, pattern=r"^[^\x00]*$")] | None = None


@endpoint(
    query=ListQuery,
    response=ChatPage,
    tags=("chats",),
    summary="The caller's chats, newest activity first; q filters by word prefixes of the title or, "
    "for direct chats, of the peer's name (case and accents ignored)",
)
async def list_chats(call: Call[None, ListQuery]) -> ChatPage:
    qy = call.query
    return await chats.list_for_user(call.services.db, call.user_id, cursor=qy.cursor, limit=qy.limit, q=qy.q)


@endpoint(response=ChatResponse, tags=("chats",))
async def get_chat(call: Call[None, None]) -> ChatResponse:
    return ChatResponse(await chats.get(call.services.db, call.user_id, call.path_int("chat_id")))


@endpoint(body=UpdateChat, response=ChatResponse, errors=(403, 404), tags=("chats",), summary="Rename (owner/admin)")
async def update_chat(call: Call[UpdateChat, None]) -> ChatResponse:
    chat = await chats.update(
        call.services.db,
        call.services.hub,
        call.user_id,
        call.path_int("chat_id"),
        title=call.body.title,
        description=call.body.description,
    )
    return ChatResponse(chat)


@endpoint(status=204, errors=(403,), tags=("chats",), summary="Delete the chat (owner)")
async def delete_chat(call: Call[None, None]) -> None:
    await chats.delete(call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"))


@endpoint(query=PageQuery, response=MemberPage, errors=(404,), tags=("chats",), summary="Members in joining order")
async def list_members(call: Call[None, PageQuery]) -> MemberPage:
    return await chats.members(
        call.services.db, call.user_id, call.path_int("chat_id"), cursor=call.query.cursor, limit=call.query.limit
    )


@endpoint(
    body=AddMember,
    response=MemberResponse,
    status=201,
    errors=(403, 404, 409),
    tags=("chats",),
    summary="Add a member (owner/admin; 409 in direct chats or for a member; 422 unknown user)",
)
async def add_member(call: Call[AddMember, None]) -> MemberResponse:
    member = await chats.add_member(
        call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"), call.body.user_id, call.body.role
    )
    return MemberResponse(member)


@endpoint(
    body=ChangeRole,
    response=MemberResponse,
    errors=(403, 404, 409),
    tags=("chats",),
    summary="Change a member's role (owner; role owner transfers ownership)",
)
async def change_role(call: Call[ChangeRole, None]) -> MemberResponse:
    member = await chats.set_role(
        call.services.db,
        call.services.hub,
        call.user_id,
        call.path_int("chat_id"),
        call.path_int("user_id"),
        call.body.role,
    )
    return MemberResponse(member)


@endpoint(
    status=204,
    errors=(403, 409),
    tags=("chats",),
    summary="Leave (yourself) or remove a member (owner; admins remove plain members)",
)
async def remove_member(call: Call[None, None]) -> None:
    await chats.remove_member(
        call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"), call.path_int("user_id")
    )


@endpoint(body=ReadBody, status=204, errors=(404,), tags=("chats",), summary="Move the read marker forward")
async def mark_read(call: Call[ReadBody, None]) -> None:
    request = chats.ReadRequest(call.path_int("chat_id"), call.user_id, call.body.seq)
    await call.services.read_markers.mark(request)
