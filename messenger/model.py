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
    # None once the account is deleted (the name is released; display_name says "Deleted account").
    username: str | None
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


class ReplyPreview(msgspec.Struct, frozen=True):
    """What a reply shows of the replied message, drawn from its current row: `text` is its
    first 200 characters, null once it is deleted."""

    id: int
    seq: int
    sender_id: int
    text: str | None
    deleted: bool
    has_attachments: bool


class Reaction(msgspec.Struct, frozen=True):
    """One emoji's count on a message, in order of first use; `me`: the reader reacted with it
    (always false in persisted events, which every reader shares)."""

    emoji: str
    count: int
    me: bool = False


class ForwardedFrom(msgspec.Struct, frozen=True):
    """The origin of a forwarded copy; chat_id/message_id only for members of that chat."""

    sender_id: int
    sender_name: str
    chat_id: int | None
    message_id: int | None
    created_at: datetime


class Forward(msgspec.Struct, frozen=True):
    """A send that copies this message (instead of text/attachment_ids)."""

    chat_id: int
    message_id: int


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
    reply_to: ReplyPreview | None = None
    reactions: list[Reaction] = []
    forwarded_from: ForwardedFrom | None = None
    pinned: bool = False


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
    # The caller's read marker and the highest marker of any other member (in a direct chat
    # the peer's): "seen" and the unread divider survive a reload. In broadcast events, floors
    # true for every member: the lowest marker and the second highest.
    last_read_seq: int
    others_read_seq: int


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
    """chat_updated: `chat` is the shared view (role null, unread_count 0, read-marker floors)."""

    chat: Chat


class MemberBody(msgspec.Struct, frozen=True):
    """member_added, member_removed."""

    chat_id: int
    user_id: int


class ReactionCount(msgspec.Struct, frozen=True):
    emoji: str
    count: int


class ReactionsChangedBody(msgspec.Struct, frozen=True):
    """reactions_changed: `reactions` are the message's counts after this change."""

    chat_id: int
    message_id: int
    seq: int
    user_id: int
    emoji: str
    added: bool
    reactions: list[ReactionCount]


class PinsChangedBody(msgspec.Struct, frozen=True):
    chat_id: int
    message_id: int
    pinned: bool
    by_user_id: int


EventBody = MessageBody | MessageDeletedBody | ChatBody | MemberBody | ReactionsChangedBody | PinsChangedBody
