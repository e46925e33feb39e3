"""Message endpoints: send, page, edit, delete.

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .. import messages
from ..http import Call, Reply, endpoint
from ..messages import MAX_CLIENT_MSG_ID, MAX_ID, MAX_TEXT, PAGE_MAX, MessagePage, SendRequest
from ..model import Forward, Message

Seq = Annotated[int, Meta(ge=0, le=MAX_ID)]
Id = Annotated[int, Meta(ge=1, le=MAX_ID)]


class ForwardBody(msgspec.Struct):
    chat_id: Id
    message_id: Id


class SendBody(msgspec.Struct):
    client_msg_id: Annotated[str, Meta(min_length=1, max_length=MAX_CLIENT_MSG_ID)]
    text: Annotated[str, Meta(max_length=MAX_TEXT)] | None = None
    reply_to_id: Id | None = None
    attachment_ids: list[Id] = []
    # Instead of text/attachment_ids: a copy of that message (which the sender must be able to read).
    forward: ForwardBody | None = None


class EditBody(msgspec.Struct):
    text: Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]


class MessageResponse(msgspec.Struct):
    message: Message


class PageQuery(msgspec.Struct):
    before: Seq | None = None
    after: Seq | None = None
    limit: Annotated[int, Meta(ge=1, le=PAGE_MAX)] = messages.PAGE_DEFAULT


@endpoint(
    body=SendBody,
    response=MessageResponse,
    status=201,
    extra_statuses=(200,),
    errors=(403, 404, 409, 422),
    tags=("messages",),
    summary="Send a message (the same client_msg_id again: 200 and the original message)",
)
async def send_message(call: Call[SendBody, None]) -> Reply:
    b = call.body
    request = SendRequest(
        sender_id=call.user_id,
        chat_id=call.path_int("chat_id"),
        client_msg_id=b.client_msg_id,
        text=b.text,
        reply_to_id=b.reply_to_id,
        attachment_ids=b.attachment_ids,
        forward=Forward(b.forward.chat_id, b.forward.message_id) if b.forward is not None else None,
    )
    sent = await messages.send(call.services.db, call.services.hub, call.services.jobs, request)
    return Reply(201 if sent.created else 200, MessageResponse(sent.message))


@endpoint(
    query=PageQuery,
    response=MessagePage,
    errors=(404,),
    tags=("messages",),
    summary="A page ascending by seq: newest without bounds, else just below `before` / above `after`",
)
async def list_messages(call: Call[None, PageQuery]) -> MessagePage:
    q = call.query
    return await messages.page(
        call.services.db, call.user_id, call.path_int("chat_id"), before=q.before, after=q.after, limit=q.limit
    )


@endpoint(
    body=EditBody,
    response=MessageResponse,
    errors=(403, 404, 409),
    tags=("messages",),
    summary="Edit a message (sender only; 409 once deleted)",
)
async def edit_message(call: Call[EditBody, None]) -> MessageResponse:
    message = await messages.edit(
        call.services.db,
        call.services.hub,
        call.services.jobs,
        call.user_id,
        call.path_int("chat_id"),
        call.path_int("message_id"),
        call.body.text,
    )
    return MessageResponse(message)


@endpoint(status=204, errors=(403,), tags=("messages",), summary="Delete a message (sender, owner or admin)")
async def delete_message(call: Call[None, None]) -> None:
    await messages.delete(
        call.services.db, call.services.hub, call.user_id, call.path_int("chat_id"), call.path_int("message_id")
    )
