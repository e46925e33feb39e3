"""Every WebSocket frame of the contract as a msgspec Struct, and the codecs built once.

Layer: realtime (the wire format). It embeds the ground floor's Structs (model.py) and imports
no domain module.

Client frames form one tagged union (`type` is the tag), decoded in one pass from JSON text or
MessagePack; an unknown `type` or a missing/mistyped field is a `msgspec.ValidationError`, which
the gateway answers with `error bad_frame` without closing. Server frames are encoded once per
format. Persisted server frames (receive_message, ...) never pass through these Structs on the
hot path: their payload is stored pre-encoded in the event stream (`Event.json_frame()`); the
Structs below describe them for the AsyncAPI document and for clients.
"""

from __future__ import annotations

import struct
from typing import Annotated, Any, Final

import msgspec

from ..events import Event
from ..model import Chat, Message, ReactionCount
from ..model import Notification as NotificationItem

MSGPACK_SUBPROTOCOL: Final = "messenger.msgpack"

# IDs are integers today; clients only echo them back. `ref` is any short client token.
Ref = Annotated[str, msgspec.Meta(max_length=128)] | int | None
# Integers reach PostgreSQL as bigint; JSON integers are unbounded (and msgspec's `int` takes up
# to 2**64-1), so anything wider is a bad frame here, not an OverflowError in the database layer.
BigInt = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

# Everything decoding a client frame may raise: msgspec's own errors, UnicodeDecodeError for
# invalid UTF-8 in a MessagePack string, RecursionError for nesting past msgspec's depth limit.
DECODE_ERRORS: Final = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class _Client(msgspec.Struct, tag_field="type", forbid_unknown_fields=False):
    pass


class Auth(_Client, tag="auth"):
    token: str
    ref: Ref = None


class ForwardOf(msgspec.Struct, forbid_unknown_fields=False):
    chat_id: BigInt
    message_id: BigInt


class SendMessage(_Client, tag="send_message"):
    chat_id: BigInt
    client_msg_id: ClientMsgId
    text: str | None = None
    reply_to_id: BigInt | None = None
    attachment_ids: list[BigInt] = []
    # Instead of text/attachment_ids: a copy of that message (docs/api.md, "Forwarding").
    forward: ForwardOf | None = None
    ref: Ref = None


class Typing(_Client, tag="typing"):
    chat_id: BigInt
    ref: Ref = None


class Read(_Client, tag="read"):
    chat_id: BigInt
    seq: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    ref: Ref = None


class Resume(_Client, tag="resume"):
    # Cursors are opaque strings (`ready.cursor`); an integer is accepted too.
    cursor: str | BigInt
    ref: Ref = None


class Ping(_Client, tag="ping"):
    ref: Ref = None


ClientFrame = Auth | SendMessage | Typing | Read | Resume | Ping
CLIENT_FRAMES: tuple[type[msgspec.Struct], ...] = (Auth, SendMessage, Typing, Read, Resume, Ping)


class _Server(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class Ready(_Server, tag="ready"):
    user_id: int
    cursor: str
    # Online users among the members of your direct chats and of groups/channels with at most
    # 100 members, never you, at most 1,000 ids; later changes come as `presence` frames.
    presence: list[int]


class Ack(_Server, tag="ack"):
    client_msg_id: str
    # The committed message: the same object as `receive_message.message`.
    message: Message


class ReadMarker(_Server, tag="read"):
    chat_id: int
    user_id: int
    seq: int


class TypingNotice(_Server, tag="typing"):
    chat_id: int
    user_id: int


class Presence(_Server, tag="presence"):
    user_id: int
    online: bool


class Notification(_Server, tag="notification"):
    # The same object as an item of GET /v1/notifications.
    notification: NotificationItem


class Error(_Server, tag="error"):
    code: str
    message: str
    ref: Ref = None


class Pong(_Server, tag="pong"):
    ref: Ref = None


class Heartbeat(_Server, tag="heartbeat"):
    """Server → client keep-alive (an extension): sent when the socket was quiet for a while."""

    interval: int


# Persisted frames (documentation and typed clients; the server splices stored payloads).
class ReceiveMessage(_Server, tag="receive_message"):
    cursor: str
    message: Message


class MessageEdited(_Server, tag="message_edited"):
    cursor: str
    message: Message


class MessageDeleted(_Server, tag="message_deleted"):
    cursor: str
    chat_id: int
    message_id: int
    seq: int


class ChatUpdated(_Server, tag="chat_updated"):
    """`chat` is the shared view: `role` null, `unread_count` 0 (fetch the chat for yours).

    Its `last_read_seq` and `others_read_seq` are floors true for every member (the lowest
    marker, the second highest): keep the higher of yours and the frame's.
    """

    cursor: str
    chat: Chat


class MemberAdded(_Server, tag="member_added"):
    cursor: str
    chat_id: int
    user_id: int


class MemberRemoved(_Server, tag="member_removed"):
    cursor: str
    chat_id: int
    user_id: int


class ReactionsChanged(_Server, tag="reactions_changed"):
    cursor: str
    chat_id: int
    message_id: int
    seq: int
    user_id: int
    emoji: str
    added: bool
    # Every emoji's count after this change, in order of first use.
    reactions: list[ReactionCount]


class PinsChanged(_Server, tag="pins_changed"):
    cursor: str
    chat_id: int
    message_id: int
    pinned: bool
    by_user_id: int


SERVER_FRAMES: tuple[type[msgspec.Struct], ...] = (
    Ready,
    Ack,
    ReceiveMessage,
    MessageEdited,
    MessageDeleted,
    ChatUpdated,
    MemberAdded,
    MemberRemoved,
    ReactionsChanged,
    PinsChanged,
    ReadMarker,
    TypingNotice,
    Presence,
    Notification,
    Error,
    Pong,
    Heartbeat,
)

# Built once: decoding is the per-frame hot path.
json_decoder: Final = msgspec.json.Decoder(ClientFrame)
msgpack_decoder: Final = msgspec.msgpack.Decoder(ClientFrame)
_json_encoder: Final = msgspec.json.Encoder()
_msgpack_encoder: Final = msgspec.msgpack.Encoder()
_any_json_decoder: Final = msgspec.json.Decoder()


class Encoded(msgspec.Struct, frozen=True):
    """One frame in both wire formats. Text frames are `str` because ASGI's text send takes
    str; each is built once and the same object is handed to every recipient."""

    text: str
    binary: bytes


def decode(data: str | bytes) -> ClientFrame:
    """A client frame from a text (JSON) or binary (MessagePack) message; raises DECODE_ERRORS."""
    frame: ClientFrame = json_decoder.decode(data) if isinstance(data, str) else msgpack_decoder.decode(data)
    return frame


def encode(frame: msgspec.Struct) -> Encoded:
    return Encoded(_json_encoder.encode(frame).decode(), _msgpack_encoder.encode(frame))


def encode_json(frame: msgspec.Struct) -> str:
    return _json_encoder.encode(frame).decode()


def encode_msgpack(frame: msgspec.Struct) -> bytes:
    return _msgpack_encoder.encode(frame)


def event_msgpack(event: Event) -> bytes:
    """A persisted event as a MessagePack frame of the same shape as its JSON frame."""
    body = _any_json_decoder.decode(event.payload)
    frame = {"type": event.type, "cursor": event.cursor}
    if isinstance(body, dict):
        frame.update(body)
    return _msgpack_encoder.encode(frame)


# -- the wire -----------------------------------------------------------------------------------
# A server frame is never masked (RFC 6455, 5.1), so a frame's bytes on the wire are the same for
# every recipient: built once per fan-out and written to each socket as they are (peer.py).
# Whole frames only (FIN set, no fragmentation, no compression: `ws_per_message_deflate` is off).

_SHORT: Final = struct.Struct("!BB")
_MEDIUM: Final = struct.Struct("!BBH")
_LONG: Final = struct.Struct("!BBQ")


def _wire(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return _SHORT.pack(0x80 | opcode, n) + payload
    if n < 65536:
        return _MEDIUM.pack(0x80 | opcode, 126, n) + payload
    return _LONG.pack(0x80 | opcode, 127, n) + payload


def wire_text(payload: bytes) -> bytes:
    """A text frame (its payload is UTF-8 JSON) ready for the socket."""
    return _wire(0x1, payload)


def wire_binary(payload: bytes) -> bytes:
    """A binary frame (MessagePack) ready for the socket."""
    return _wire(0x2, payload)


def wire(frame: msgspec.Struct, binary: bool) -> bytes:
    """A server frame in the socket's format, framed for the wire."""
    if binary:
        return _wire(0x2, _msgpack_encoder.encode(frame))
    return _wire(0x1, _json_encoder.encode(frame))


def wire_pair(encoded: Encoded) -> tuple[bytes, bytes]:
    """Both wire forms of a frame encoded once (text, binary)."""
    return _wire(0x1, encoded.text.encode()), _wire(0x2, encoded.binary)


def unwire(data: bytes) -> list[tuple[bool, bytes]]:
    """The frames in wire bytes as (binary, payload): for an ASGI server without the raw
    socket extension, whose `send` takes payloads (gateway.py)."""
    out: list[tuple[bool, bytes]] = []
    i, end = 0, len(data)
    while i < end:
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, i)
            i += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, i)
            i += 8
        out.append((opcode == 0x2, data[i : i + n]))
        i += n
    return out


def decode_any(data: str | bytes) -> Any:
    """Best-effort untyped decode of a frame that failed typed decoding (to echo its `ref`)."""
    try:
        if isinstance(data, bytes):
            return msgspec.msgpack.decode(data)
        return _any_json_decoder.decode(data)
    except DECODE_ERRORS:
        return None
