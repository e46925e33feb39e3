"""GET /v1/sync: the persisted events after a cursor, as the WebSocket's frames.

Layer: edge.

The stored payloads are spliced into the response as they are (`Event.json_frame`), so sync and
the socket send byte-identical frames and nothing is decoded or re-encoded here. The persisted
frame Structs of realtime/frames.py describe those bytes for OpenAPI.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.responses import Response

from .. import events
from ..http import Call, encode, endpoint
from ..realtime import frames

PersistedFrame = (
    frames.ReceiveMessage
    | frames.MessageEdited
    | frames.MessageDeleted
    | frames.ChatUpdated
    | frames.MemberAdded
    | frames.MemberRemoved
    | frames.ReactionsChanged
    | frames.PinsChanged
)


class SyncResponse(msgspec.Struct):
    events: list[PersistedFrame]
    cursor: str
    has_more: bool


class SyncQuery(msgspec.Struct):
    since: str | None = None
    limit: Annotated[int, Meta(ge=1, le=500)] = 100


@endpoint(
    query=SyncQuery,
    response=SyncResponse,
    errors=(410,),
    tags=("sync",),
    summary="Persisted events after `since` (none without it: just the current cursor); 410 cursor_expired",
)
async def sync(call: Call[None, SyncQuery]) -> Response:
    q = call.query
    if q.since is None:
        body = b'{"events":[],"cursor":%s,"has_more":false}' % encode(await events.current_cursor(call.services.db))
        return Response(body, media_type="application/json")
    page = await events.read(call.services.db, call.user_id, events.decode_cursor(q.since), limit=q.limit)
    body = b"".join(
        (
            b'{"events":[',
            b",".join(e.json_frame() for e in page.events),
            b'],"cursor":',
            encode(page.cursor),
            b',"has_more":',
            b"true" if page.has_more else b"false",
            b"}",
        )
    )
    return Response(body, media_type="application/json")
