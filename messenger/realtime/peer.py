"""One socket as the hub sees it: its bounded queue, backpressure and hold/replay/live mode.

Layer: realtime. Each socket has a bounded queue drained by its own writer task (gateway.py).
On overflow ephemeral frames (typing, presence) are dropped first; if that is not enough the
socket is closed with 4008, which tells the client to reconnect and resume. `UserState` groups
the sockets of one user on this node with the chats they follow (hub.py keeps the index).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any, Final

from prometheus_client import Counter

from ..events import Event
from ..observability import REGISTRY
from . import frames

# Close codes (docs/protocol.md).
CLOSE_SLOW: Final = 4008
CLOSE_SESSION_ENDED: Final = 1008
CLOSE_RESTART: Final = 1012
CLOSE_INTERNAL: Final = 1011

Message = dict[str, Any]  # an ASGI send message, built once per frame and shared

SERVER_CLOSES = Counter(
    "messenger_ws_server_closes_total", "Sockets closed by the server, by close code", ["code"], registry=REGISTRY
)
DROPPED = Counter("messenger_ws_dropped_frames_total", "Ephemeral frames dropped for slow sockets", registry=REGISTRY)


class Outgoing:
    """One persisted event's ASGI messages, built lazily once per format and shared."""

    __slots__ = ("_binary", "_text", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._text: Message | None = None
        self._binary: Message | None = None

    def message(self, binary: bool) -> Message:
        if binary:
            if self._binary is None:
                self._binary = {"type": "websocket.send", "bytes": frames.event_msgpack(self.event)}
            return self._binary
        if self._text is None:
            self._text = {"type": "websocket.send", "text": self.event.json_frame().decode()}
        return self._text


def ephemeral_messages(encoded: frames.Encoded) -> tuple[Message, Message]:
    return {"type": "websocket.send", "text": encoded.text}, {"type": "websocket.send", "bytes": encoded.binary}


HOLD, REPLAY, LIVE = 0, 1, 2


class Peer:
    """One socket as the hub sees it; the gateway (gateway.py) drains `queue` with a writer task."""

    __slots__ = (
        "binary",
        "close_reason",
        "closed",
        "dropped",
        "floor",
        "half",
        "held",
        "id",
        "limit",
        "mode",
        "queue",
        "room",
        "roomy",
        "sent_persisted",
        "session_id",
        "user",
        "user_id",
        "wake",
    )

    _ids = itertools.count(1)

    def __init__(self, user_id: int, session_id: int, binary: bool, limit: int) -> None:
        self.id = next(self._ids)
        self.user_id = user_id
        self.session_id = session_id
        self.binary = binary
        self.limit = limit
        self.queue: deque[tuple[Message, bool]] = deque()
        self.wake = asyncio.Event()
        # `room` is set while the queue is below half full (replay waits on it).
        self.room = asyncio.Event()
        self.room.set()
        self.roomy = True
        self.half = max(1, limit // 2)
        # Persisted events at or below `floor` are not delivered live (the socket starts there).
        self.floor = 0
        self.mode = HOLD
        self.held: list[Outgoing] = []
        self.sent_persisted = False
        self.closed = False
        self.close_reason: tuple[int, str] | None = None
        self.dropped = 0
        self.user: UserState | None = None

    def push(self, message: Message, ephemeral: bool = False) -> None:
        if self.closed:
            return
        queue = self.queue
        if len(queue) >= self.limit:
            if ephemeral:
                self.dropped += 1
                DROPPED.inc()
                return
            kept = deque(item for item in queue if not item[1])
            self.dropped += len(queue) - len(kept)
            DROPPED.inc(len(queue) - len(kept))
            if len(kept) >= self.limit:
                self.close(CLOSE_SLOW, "slow consumer: reconnect and resume")
                return
            self.queue = queue = kept
        queue.append((message, ephemeral))
        n = len(queue)
        # Event.set/clear only on transitions: this runs once per frame per recipient.
        if n == 1:
            self.wake.set()  # the writer waits only on an empty queue
        elif n >= self.half and self.roomy:
            self.roomy = False
            self.room.clear()

    def push_event(self, out: Outgoing) -> None:
        if out.event.pos <= self.floor or self.closed:
            return
        if self.mode == LIVE:
            self.sent_persisted = True
            self.push(out.message(self.binary))
        else:
            self.held.append(out)
            if len(self.held) > self.limit * 4:
                self.close(CLOSE_SLOW, "slow consumer: reconnect and resume")

    def pop(self) -> Message | None:
        if not self.queue:
            return None
        message = self.queue.popleft()[0]
        if not self.roomy and len(self.queue) < self.half:
            self.roomy = True
            self.room.set()
        return message

    def go_live(self) -> None:
        if self.mode == LIVE:
            return
        self.mode = LIVE
        held, self.held = self.held, []
        for out in held:
            self.push_event(out)

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Ask the writer to close the socket; nothing more is queued after this. With
        `flush` what is queued goes out first (e.g. the errors explaining a policy close)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = (code, reason)
        SERVER_CLOSES.labels(str(code)).inc()
        if not flush:
            self.queue.clear()
        self.held = []
        self.roomy = True
        self.room.set()
        self.wake.set()


class UserState:
    """The users with sockets on this node: their sockets and the chats they follow."""

    __slots__ = ("chats", "dead", "loaded", "loaded_event", "peers", "pending", "user_id")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.peers: set[Peer] = set()
        self.chats: set[int] = set()
        self.loaded = False
        self.loaded_event = asyncio.Event()
        self.dead = False
        # Events dispatched while the spans load (applied once they are known).
        self.pending: list[Event] = []
