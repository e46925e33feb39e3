"""Search endpoints: messages the caller may read, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from .. import search
from ..http import Call, endpoint
from ..messages import MAX_ID
from ..search import Filters, SearchPage

Id = Annotated[int, Meta(ge=1, le=MAX_ID)]


class SearchQuery(msgspec.Struct):
    # Length and content are checked by the domain (one error code, invalid_query, for all).
    q: str
    chat_id: Id | None = None
    sender_id: Id | None = None
    before: datetime | None = None
    after: datetime | None = None
    cursor: str | None = None
    limit: Annotated[int, Meta(ge=1, le=search.LIMIT_MAX)] = search.LIMIT_DEFAULT


@endpoint(
    query=SearchQuery,
    response=SearchPage,
    tags=("search",),
    errors=(404,),
    summary='Search messages in the caller\'s chats: prefix words and "phrases", newest first, with '
    "highlight offsets (code points, end exclusive); a chat_id the caller is not in: 404",
)
async def search_messages(call: Call[None, SearchQuery]) -> SearchPage:
    qy = call.query
    filters = Filters(chat_id=qy.chat_id, sender_id=qy.sender_id, before=qy.before, after=qy.after)
    return await search.messages(call.services.db, call.user_id, qy.q, filters, cursor=qy.cursor, limit=qy.limit)
