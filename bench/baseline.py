"""The Python ceiling: a bare pure-ASGI app run under the same uvicorn flags as messenger.

`uvicorn bench.baseline:app --ws websockets-sansio --http httptools --loop uvloop`

- `/echo` (WebSocket): every frame straight back.
- `/v1/ws` (WebSocket): messenger's frame protocol with nothing behind it: no auth, no
  database, no broker. The client names its user and rooms in the query string
  (`?user=7&chats=3,4`); `send_message` gets a per-chat `seq`, an `ack` to the sender and one
  `receive_message` to every member socket, encoded once and handed to each socket's raw ASGI
  `send`; `typing` and `read` go to the chat's other sockets (for `mixed`). The bench runs
  its WebSocket scenarios unchanged against it, so every figure can be
  shown as a fraction of what Python + uvicorn can do at all on the same machine.
- any HTTP path: a small JSON body (`rest` scenario ceiling); `/readyz` answers 200.

`BENCH_BASELINE_FAULT=drop:N` (or `dup:N`) makes every Nth message skip (or repeat) one
member's delivery: the bench's own test uses it to prove the exactly-once check catches both.

Rooms live in this process's memory, so run it with one worker.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Inbound(msgspec.Struct):
    type: str
    chat_id: int | None = None
    client_msg_id: str | None = None
    text: str | None = None
    ref: str | None = None
    seq: int | None = None


class ChatMessage(msgspec.Struct):
    id: int
    chat_id: int
    seq: int
    sender_id: int
    client_msg_id: str
    text: str | None
    reply_to_id: int | None
    attachments: list[int]
    mentions: list[int]
    created_at: str
    edited_at: str | None
    deleted: bool


class ReceiveFrame(msgspec.Struct, tag_field="type", tag="receive_message"):
    cursor: str
    message: ChatMessage


class AckFrame(msgspec.Struct, tag_field="type", tag="ack"):
    client_msg_id: str
    message: ChatMessage


_decode = msgspec.json.Decoder(Inbound).decode
_encode = msgspec.json.Encoder().encode

# chat id -> the raw ASGI `send` of every member socket.
_rooms: dict[int, list[Send]] = {}
_fault_kind, _, _fault_every = (os.environ.get("BENCH_BASELINE_FAULT") or ":0").partition(":")
_FAULT_EVERY = int(_fault_every or 0)
_seqs: dict[int, int] = {}
_pos = 0


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _chat_socket(scope: Scope, receive: Receive, send: Send) -> None:
    global _pos
    query = parse_qs(scope.get("query_string", b"").decode())
    user_id = int(query.get("user", ["0"])[0])
    chats = [int(c) for c in query.get("chats", [""])[0].split(",") if c]
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    for chat in chats:
        _rooms.setdefault(chat, []).append(send)
    await send({"type": "websocket.send", "text": f'{{"type":"ready","user_id":{user_id},"cursor":"{_pos}"}}'})
    try:
        while True:
            message = await receive()
            kind = message["type"]
            if kind == "websocket.disconnect":
                return
            raw = message.get("text") or message.get("bytes") or b""
            try:
                frame = _decode(raw)
            except msgspec.DecodeError:
                await send({"type": "websocket.send", "text": '{"type":"error","code":"bad_frame","message":"?"}'})
                continue
            if frame.type == "ping":
                await send({"type": "websocket.send", "text": _encode({"type": "pong", "ref": frame.ref}).decode()})
                continue
            if frame.type in ("typing", "read") and frame.chat_id in _rooms:
                # Ephemeral signals (bench mixed): to every other member socket, not stored.
                notice: dict[str, Any] = {"type": frame.type, "chat_id": frame.chat_id, "user_id": user_id}
                if frame.type == "read":
                    notice["seq"] = frame.seq
                text = _encode(notice).decode()
                for member_send in list(_rooms[frame.chat_id]):
                    if member_send is not send:
                        with contextlib.suppress(Exception):
                            await member_send({"type": "websocket.send", "text": text})
                continue
            if frame.type != "send_message" or frame.chat_id not in _rooms or frame.client_msg_id is None:
                await send({"type": "websocket.send", "text": '{"type":"error","code":"bad_frame","message":"?"}'})
                continue
            chat = frame.chat_id
            seq = _seqs[chat] = _seqs.get(chat, 0) + 1
            _pos += 1
            msg = ChatMessage(
                _pos, chat, seq, user_id, frame.client_msg_id, frame.text, None, [], [], _now(), None, False
            )
            await send({"type": "websocket.send", "text": _encode(AckFrame(frame.client_msg_id, msg)).decode()})
            out = {"type": "websocket.send", "text": _encode(ReceiveFrame(str(_pos), msg)).decode()}
            members = list(_rooms[chat])
            if _FAULT_EVERY and _pos % _FAULT_EVERY == 0:
                members = members[1:] if _fault_kind == "drop" else [*members, members[-1]]
            for member_send in members:
                # A member that went away mid-fan-out: its own loop removes it.
                with contextlib.suppress(Exception):
                    await member_send(out)
    finally:
        for chat in chats:
            room = _rooms.get(chat)
            if room and send in room:
                room.remove(send)


async def _echo_socket(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


_HTTP_BODY = b'{"ok":true,"items":[{"id":1,"text":"hello"},{"id":2,"text":"world"}]}'
_HTTP_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_HTTP_BODY)).encode())]


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    more = True
    while more:  # drain the request body
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HTTP_HEADERS})
    await send({"type": "http.response.body", "body": _HTTP_BODY})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "websocket":
        if scope["path"] == "/echo":
            await _echo_socket(scope, receive, send)
        else:
            await _chat_socket(scope, receive, send)
    elif kind == "http":
        await _http(scope, receive, send)
    elif kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
