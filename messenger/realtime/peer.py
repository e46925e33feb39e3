"""One socket as the hub sees it: its pending frames, backpressure and hold/replay/live mode.

Layer: realtime. Frames reach a peer already framed for the wire (frames.wire: a server frame is
unmasked, so its bytes are the same for every recipient and are built once per fan-out). A peer
collects what is pushed to it during one turn of the event loop and writes it to its socket in
one write at the end of that turn: no task per socket, no wake-up per frame, one syscall per
socket per turn however many frames went to it. While the socket's transport is paused (its
kernel and transport buffers are full) frames wait in the same list, bounded by `limit`: on
overflow ephemeral frames (typing, presence) are dropped first; if that is not enough the socket
is closed with 4008, which tells the client to reconnect and resume. `UserState` groups the
sockets of one user on this node with the chats they follow (hub.py keeps the index).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Final, Protocol

from prometheus_client import Counter

from ..events import Event
from ..observability import REGISTRY
from . import frames

# Close codes (docs/protocol.md).
CLOSE_SLOW: Final = 4008
CLOSE_SESSION_ENDED: Final = 1008
CLOSE_RESTART: Final = 1012
CLOSE_INTERNAL: Final = 1011

SERVER_CLOSES = Counter(
    "messenger_ws_server_closes_total", "Sockets closed by the server, by close code", ["code"], registry=REGISTRY
)
DROPPED = Counter("messenger_ws_dropped_frames_total", "Ephemeral frames dropped for slow sockets", registry=REGISTRY)


class Sink(Protocol):
    """Where a peer's bytes go: the gateway's connection (gateway.py)."""

    def write(self, data: bytes) -> None:
        """Hand wire bytes to the socket now (the transport buffers what the kernel does not take)."""

    def close_requested(self) -> None:
        """The peer was closed: send the close frame (after what is pending, if it is kept)."""


class _Gone:
    """The sink of a peer whose connection has ended: writes go nowhere."""

    def write(self, data: bytes) -> None:
        pass

    def close_requested(self) -> None:
        pass


# A peer's connection swaps its sink for this when it ends: the two point at each other, and a
# cycle is only freed by the collector (messenger/collector.py), not by reference counting.
GONE: Sink = _Gone()


class Outgoing:
    """One persisted event's wire frames, built lazily once per format and shared."""

    __slots__ = ("_binary", "_text", "event")

    def __init__(self, event: Event) -> None:
        self.event = event
        self._text: bytes | None = None
        self._binary: bytes | None = None

    def frame(self, binary: bool) -> bytes:
        if binary:
            if self._binary is None:
                self._binary = frames.wire_binary(frames.event_msgpack(self.event))
            return self._binary
        if self._text is None:
            self._text = frames.wire_text(self.event.json_frame())
        return self._text


HOLD, REPLAY, LIVE = 0, 1, 2

# Peers with frames pushed during this turn of the loop, written by one callback at its end.
_dirty: list[Peer] = []


def _flush_dirty() -> None:
    global _dirty
    dirty, _dirty = _dirty, []
    for peer in dirty:
        peer.flush()


class Peer:
    """One socket as the hub sees it. Everything per socket is in these slots; the list of
    pending frames and the replay waiter exist only while needed (an idle socket has neither)."""

    __slots__ = (
        "binary",
        "close_reason",
        "closed",
        "dropped",
        "ephemeral",
        "floor",
        "held",
        "id",
        "limit",
        "mode",
        "paused",
        "pending",
        "sent_persisted",
        "session_id",
        "sink",
        "started",
        "user",
        "user_id",
        "waiter",
    )

    _ids = itertools.count(1)

    def __init__(self, user_id: int, session_id: int, binary: bool, limit: int, sink: Sink) -> None:
        self.id = next(self._ids)
        self.user_id = user_id
        self.session_id = session_id
        self.binary = binary
        self.limit = limit
        self.sink = sink
        # Frames not yet written, in order; None when there are none.
        self.pending: list[bytes] | None = None
        # The ephemeral frames among `pending` (droppable on overflow); None when there are none.
        self.ephemeral: list[bytes] | None = None
        # Nothing is written before `ready` (start), nor while the transport is paused.
        self.started = False
        self.paused = False
        # A replay waiting for room (wait_room).
        self.waiter: asyncio.Future[None] | None = None
        # Persisted events at or below `floor` are not delivered live (the socket starts there).
        self.floor = 0
        self.mode = HOLD
        self.held: list[Outgoing] = []
        self.sent_persisted = False
        self.closed = False
        self.close_reason: tuple[int, str] | None = None
        self.dropped = 0
        self.user: UserState | None = None

    # -- pushing (synchronous: the hub calls this once per frame per recipient) --------------

    def push(self, frame: bytes, ephemeral: bool = False) -> None:
        if self.closed:
            return
        pending = self.pending
        if pending is None:
            self.pending = [frame]
            if ephemeral:
                self.ephemeral = [frame]
            if self.started and not self.paused:
                if not _dirty:
                    asyncio.get_running_loop().call_soon(_flush_dirty)
                _dirty.append(self)
            return
        if len(pending) >= self.limit:
            if self.started and not self.paused:
                # A turn that pushes this much to one writable socket: write it out now.
                self.flush()
                self.push(frame, ephemeral)
                return
            if not self._overflow(ephemeral):
                return
            pending = self.pending
            if pending is None:  # everything pending was dropped
                self.push(frame, ephemeral)
                return
        pending.append(frame)
        if ephemeral:
            if self.ephemeral is None:
                self.ephemeral = [frame]
            else:
                self.ephemeral.append(frame)

    def _overflow(self, ephemeral: bool) -> bool:
        """The pending list is full while the socket cannot take more: drop ephemeral frames,
        or close the socket. Whether `frame` may still be appended."""
        if ephemeral:
            self.dropped += 1
            DROPPED.inc()
            return False
        droppable = self.ephemeral
        pending = self.pending
        assert pending is not None
        if droppable:
            drop = {id(f) for f in droppable}
            kept = [f for f in pending if id(f) not in drop]
            self.dropped += len(pending) - len(kept)
            DROPPED.inc(len(pending) - len(kept))
            self.ephemeral = None
            self.pending = kept or None
            if len(kept) < self.limit:
                return True
        self.close(CLOSE_SLOW, "slow consumer: reconnect and resume")
        return False

    def push_event(self, out: Outgoing) -> None:
        if out.event.pos <= self.floor or self.closed:
            return
        if self.mode == LIVE:
            self.sent_persisted = True
            self.push(out.frame(self.binary))
        else:
            self.held.append(out)
            if len(self.held) > self.limit * 4:
                self.close(CLOSE_SLOW, "slow consumer: reconnect and resume")

    def go_live(self) -> None:
        if self.mode == LIVE:
            return
        self.mode = LIVE
        held, self.held = self.held, []
        for out in held:
            self.push_event(out)

    # -- writing -----------------------------------------------------------------------------

    def start(self, first: bytes) -> None:
        """Write `first` (the ready frame), then what was pushed meanwhile; writes begin here."""
        pending = self.pending
        self.pending = [first] if pending is None else [first, *pending]
        self.started = True
        self.flush()

    def flush(self) -> None:
        """Write everything pending in one write, unless the socket cannot take it now."""
        pending = self.pending
        if pending is None or not self.started or self.paused:
            return
        self.pending = None
        self.ephemeral = None
        # One write (one syscall when the kernel takes it all) for the whole turn's frames.
        self.sink.write(pending[0] if len(pending) == 1 else b"".join(pending))
        self._wake()

    def writing_paused(self) -> None:
        """The transport's buffer went above its high-water mark: keep frames here."""
        self.paused = True

    def writing_resumed(self) -> None:
        """The transport drained below its low-water mark: write what waited."""
        self.paused = False
        self.flush()
        self._wake()

    def queued(self) -> int:
        pending = self.pending
        return 0 if pending is None else len(pending)

    async def wait_below(self, count: int) -> None:
        """Wait until fewer than `count` frames are pending: replay paces itself with half the
        limit, a flushing close waits for everything (1)."""
        while True:
            pending = self.pending
            if pending is None or len(pending) < count:
                return
            if self.started and not self.paused:
                self.flush()
                continue
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = asyncio.get_running_loop().create_future()
            # Shared by a replay and a flushing close: one's cancellation must not end the other's wait.
            await asyncio.shield(waiter)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def close(self, code: int, reason: str, *, flush: bool = False) -> None:
        """Close the socket; nothing more is queued after this. With `flush` what is pending
        goes out first (e.g. the errors explaining a policy close)."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = (code, reason)
        SERVER_CLOSES.labels(str(code)).inc()
        if not flush:
            self.pending = None
            self.ephemeral = None
        self.held = []
        self._wake()
        self.sink.close_requested()


class UserState:
    """The users with sockets on this node: their sockets and the chats they follow."""

    __slots__ = ("_waiter", "chats", "dead", "load_done", "loaded", "peers", "pending", "user_id")

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.peers: set[Peer] = set()
        self.chats: set[int] = set()
        # `loaded`: the spans are known; `load_done`: loading ended, with success or not.
        self.loaded = False
        self.load_done = False
        # Created only if someone waits for the load (most users' loads end before anyone does).
        self._waiter: asyncio.Future[None] | None = None
        self.dead = False
        # Events dispatched while the spans load (applied once they are known).
        self.pending: list[Event] = []

    def finish_loading(self) -> None:
        self.load_done = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait_loaded(self) -> None:
        if self.load_done:
            return
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        # Shared by every socket of the user: one's cancellation must not end the others' wait.
        await asyncio.shield(waiter)
