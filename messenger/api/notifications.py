"""HTTP endpoints of notifications (contract: Notifications) and notification settings.

Layer: edge.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .. import notifications
from ..errors import Unprocessable
from ..http import Call, endpoint
from ..messages import MAX_ID

NotificationId = Annotated[int, Meta(ge=1, le=MAX_ID)]


class PageQuery(msgspec.Struct, frozen=True):
    cursor: Annotated[str, Meta(max_length=32)] | None = None
    limit: Annotated[int, Meta(ge=1, le=notifications.PAGE_MAX)] = notifications.PAGE_DEFAULT
    # `unread=1` (or true): only unread notifications.
    unread: bool = False


class ReadBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Either `ids` (yours; others' are ignored) or `all: true`."""

    ids: Annotated[list[NotificationId], Meta(max_length=notifications.MAX_READ_IDS)] | None = None
    all: bool = False


class UserSettingsPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email_mentions: bool | None = None
    email_direct_messages: bool | None = None
    email_group_messages: bool | None = None
    show_last_seen: bool | None = None


class UserSettingsBody(msgspec.Struct, frozen=True):
    settings: notifications.UserSettings


class ChatSettingsPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    muted: bool | None = None
    # Groups and channels: a notification for every message (direct chats always notify).
    notify_all: bool | None = None


class ChatSettingsBody(msgspec.Struct, frozen=True):
    settings: notifications.ChatSettings


@endpoint(
    query=PageQuery,
    response=notifications.NotificationPage,
    tags=("notifications",),
    summary="Your notifications, newest first",
)
async def list_notifications(call: Call[None, PageQuery]) -> notifications.NotificationPage:
    q = call.query
    return await notifications.page(call.services.db, call.user_id, cursor=q.cursor, limit=q.limit, unread=q.unread)


@endpoint(body=ReadBody, status=204, tags=("notifications",), summary="Mark notifications read")
async def mark_read(call: Call[ReadBody, None]) -> None:
    b = call.body
    if not b.all and not b.ids:
        raise Unprocessable("Give ids or all: true", code="validation_error")
    await notifications.mark_read(call.services.db, call.user_id, ids=b.ids, everything=b.all)


@endpoint(response=UserSettingsBody, tags=("notifications",), summary="Your email notification settings")
async def get_user_settings(call: Call[None, None]) -> UserSettingsBody:
    return UserSettingsBody(await notifications.user_settings(call.services.db, call.user_id))


@endpoint(
    body=UserSettingsPatch,
    response=UserSettingsBody,
    tags=("notifications",),
    summary="Change email notifications, last-seen privacy",
)
async def patch_user_settings(call: Call[UserSettingsPatch, None]) -> UserSettingsBody:
    b = call.body
    settings = await notifications.update_user_settings(
        call.services.db,
        call.user_id,
        email_mentions=b.email_mentions,
        email_direct_messages=b.email_direct_messages,
        email_group_messages=b.email_group_messages,
        show_last_seen=b.show_last_seen,
    )
    return UserSettingsBody(settings)


@endpoint(
    response=ChatSettingsBody, tags=("notifications",), errors=(404,), summary="Your notification settings of a chat"
)
async def get_chat_settings(call: Call[None, None]) -> ChatSettingsBody:
    settings = await notifications.chat_settings(call.services.db, call.user_id, call.path_int("chat_id"))
    return ChatSettingsBody(settings)


@endpoint(
    body=ChatSettingsPatch,
    response=ChatSettingsBody,
    tags=("notifications",),
    errors=(404,),
    summary="Mute a chat, or ask for every message of a group",
)
async def patch_chat_settings(call: Call[ChatSettingsPatch, None]) -> ChatSettingsBody:
    b = call.body
    settings = await notifications.update_chat_settings(
        call.services.db, call.user_id, call.path_int("chat_id"), muted=b.muted, notify_all=b.notify_all
    )
    return ChatSettingsBody(settings)
