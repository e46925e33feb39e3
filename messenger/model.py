"""Ground floor: the shared Structs, one schema for rows, REST bodies, events and frames.

Layer: ground floor. Everything that more than one area (or the wire format) embeds lives here,
so `realtime.frames`, `events` and the domain modules can all use it without importing one
another. This module imports nothing of the project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

ChatKind = Literal["direct", "group", "channel"]
Role = Literal["owner", "admin", "member"]
NotificationKind = Literal["mention", "message"]


class User(msgspec.Struct, frozen=True):
    """A user as everyone sees them."""

    id: int
    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    created_at: datetime


class MediaOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The contract's `media` object; width/height for images, download_url when fetched."""

    id: int
    filename: str
    content_type: str
    size: int
    status: str
    created_at: datetime
    width: int | None = None
    height: int | None = None
    download_url: str | None = None


class Message(msgspec.Struct, frozen=True):
    id: int
    chat_id: int
    seq: int
    sender_id: int
    client_msg_id: str
    text: str | None
    reply_to_id: int | None
    # The contract's `media` objects, without a download_url (it would expire inside persisted
    # events; clients fetch GET /v1/media/{id} for one).
    attachments: list[MediaOut]
    mentions: list[int]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class Chat(msgspec.Struct, frozen=True):
    id: int
    kind: ChatKind
    title: str | None
    description: str | None
    created_at: datetime
    member_count: int
    # The caller's role and unread count; null and 0 in broadcast events (the shared view).
    role: Role | None
    last_message: Message | None
    last_seq: int
    unread_count: int


class Notification(msgspec.Struct, frozen=True):
    id: int
    kind: NotificationKind
    chat_id: int
    message_id: int
    created_at: datetime
    read: bool


# Bodies of the persisted events: a frame's fields except type/cursor (see events.Draft).
class MessageBody(msgspec.Struct, frozen=True):
    """receive_message, message_edited."""

    message: Message


class MessageDeletedBody(msgspec.Struct, frozen=True):
    chat_id: int
    message_id: int
    seq: int


class ChatBody(msgspec.Struct, frozen=True):
    """chat_updated: `chat` is the shared view (role null, unread_count 0)."""

    chat: Chat


class MemberBody(msgspec.Struct, frozen=True):
    """member_added, member_removed."""

    chat_id: int
    user_id: int


EventBody = MessageBody | MessageDeletedBody | ChatBody | MemberBody
