"""The link between nodes: committed events and ephemeral signals, in-process or over Redis.

Layer: realtime.

Redis only signals; PostgreSQL holds the truth. A lost or late Redis message costs latency,
never data: the hub fills gaps and polls the stream head from PostgreSQL (see hub.py). So the
Redis broker publishes in the background (a send is acknowledged without waiting for Redis),
drops what it cannot publish, and reconnects its subscriber with backoff.

Wire format on Redis: MessagePack of the `Packet` union below, one PUBLISH per batch of events
(a whole group commit) on `<prefix>events`, signals on `<prefix>signals` (keys.py). On a Redis
Cluster the same packets travel on sharded channels instead (cluster_broker.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final, Protocol

import msgspec

from ..events import Event
from ..keys import RedisKeys

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("messenger.broker")


class WireEvent(msgspec.Struct, array_like=True, frozen=True):
    pos: int
    chat_id: int
    type: str
    payload: bytes
    user_id: int | None


class EventBatch(msgspec.Struct, tag="e", array_like=True, frozen=True):
    origin: str
    events: list[WireEvent]


class Positions(msgspec.Struct, tag="a", array_like=True, frozen=True):
    """A commit's positions `first`, `first + 1`, ... and each one's chat bucket (a byte each),
    with the events any node may need whatever buckets it hears (cluster_broker.py): on a Redis
    Cluster a node skips the positions of buckets none of its users needs."""

    origin: str
    first: int
    buckets: bytes
    events: list[WireEvent]


class ChatSignal(msgspec.Struct, tag="c", array_like=True, frozen=True):
    """An ephemeral frame (typing, read) for the members of a chat; pre-encoded both ways."""

    origin: str
    chat_id: int
    text: str
    binary: bytes
    exclude_user: int | None
    # Typing may be dropped for a slow socket; read markers may not.
    droppable: bool


class UsersSignal(msgspec.Struct, tag="u", array_like=True, frozen=True):
    """An ephemeral frame for the sockets of some users (notifications)."""

    origin: str
    user_ids: list[int]
    text: str
    binary: bytes


class PresenceSignal(msgspec.Struct, tag="p", array_like=True, frozen=True):
    """`user_id` came online/went offline; goes to local users sharing one of `chat_ids`."""

    origin: str
    user_id: int
    online: bool
    chat_ids: list[int]


class EndSessions(msgspec.Struct, tag="s", array_like=True, frozen=True):
    origin: str
    session_ids: list[int]


Signal = ChatSignal | UsersSignal | PresenceSignal | EndSessions
Packet = EventBatch | Positions | ChatSignal | UsersSignal | PresenceSignal | EndSessions

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(Packet)


def encode_packet(packet: Packet) -> bytes:
    return _encoder.encode(packet)


def _events(wire: list[WireEvent]) -> list[Event]:
    return [Event(w.pos, w.chat_id, w.type, w.payload, w.user_id) for w in wire]


def hand_over(data: bytes, channel: object, node_id: str, receiver: Receiver) -> None:
    """Decode a packet heard on `channel` and give it to the receiver, unless this node sent it."""
    try:
        packet = _decoder.decode(data)
    except msgspec.DecodeError:
        log.warning("undecodable broker packet on %s", channel)
        return
    if packet.origin == node_id:
        return
    if isinstance(packet, EventBatch):
        receiver.feed(_events(packet.events))
    elif isinstance(packet, Positions):
        receiver.announce(packet.first, packet.buckets, _events(packet.events))
    else:
        receiver.on_signal(packet)


class Receiver(Protocol):
    """What the broker calls with what other nodes sent (the hub)."""

    def feed(self, events: Sequence[Event]) -> None: ...

    def announce(self, first: int, buckets: bytes, events: Sequence[Event]) -> None:
        """Positions `first`... were committed in these chat buckets (Positions)."""

    def on_signal(self, signal: Signal) -> None: ...


class Broker(Protocol):
    node_id: str

    async def start(self, receiver: Receiver) -> None: ...

    def publish_events(self, events: Sequence[Event]) -> None:
        """Queue committed events for the other nodes (never blocks, never raises)."""

    def publish_signal(self, signal: Signal) -> None: ...

    def subscribe_buckets(self, buckets: frozenset[int]) -> None:
        """The chat buckets this node's users need now (only a cluster broker uses it)."""

    async def close(self) -> None: ...


class Outbox:
    """Packets waiting to be published, and the loop that sends them: everything queued while a
    send runs goes in the next one (one round trip). Bounded: if Redis is down, old signals are
    worthless and events are recovered from PostgreSQL anyway, so the oldest half goes."""

    MAX_BACKLOG: Final = 10_000

    def __init__(self, send: Callable[[list[tuple[str, bytes]]], Awaitable[None]], name: str) -> None:
        self._send = send
        self._name = name
        self._out: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()

    def put(self, channel: str, data: bytes) -> None:
        if len(self._out) >= self.MAX_BACKLOG:
            del self._out[: len(self._out) // 2]
        self._out.append((channel, data))
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                out, self._out = self._out, []
                try:
                    await self._send(out)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis down: drop; PostgreSQL polling recovers events
                    log.warning("%s: publish failed (%d dropped): %s", self._name, len(out), exc)
                    await asyncio.sleep(0.5)

    async def flush(self) -> None:
        """Wait briefly for what is queued to go (e.g. the last presence changes at shutdown)."""
        for _ in range(20):
            if not self._out:
                return
            await asyncio.sleep(0.05)


class LocalBroker:
    """A single node: there is nobody else to tell (the hub delivers locally itself)."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id

    async def start(self, receiver: Receiver) -> None:
        return None

    def publish_events(self, events: Sequence[Event]) -> None:
        return None

    def publish_signal(self, signal: Signal) -> None:
        return None

    def subscribe_buckets(self, buckets: frozenset[int]) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisBroker:
    def __init__(self, make_redis: Callable[[], Redis], prefix: str, node_id: str) -> None:
        self.node_id = node_id
        self._make_redis = make_redis
        keys = RedisKeys(prefix)
        self._events_channel = keys.events_channel
        self._signals_channel = keys.signals_channel
        self._outbox = Outbox(self._send, "redis")
        self._tasks: list[asyncio.Task[None]] = []
        self._receiver: Receiver | None = None
        self._pub: Redis | None = None
        self.subscribed = asyncio.Event()

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._pub = self._make_redis()
        self._tasks = [
            asyncio.create_task(self._outbox.run(), name="broker-publisher"),
            asyncio.create_task(self._subscriber(), name="broker-subscriber"),
        ]
        # Wait briefly for the subscription so a node does not miss its first seconds of
        # traffic; if Redis is down the node still starts (PostgreSQL polling covers it).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 3)

    def publish_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        batch = EventBatch(self.node_id, [WireEvent(e.pos, e.chat_id, e.type, e.payload, e.user_id) for e in events])
        self._outbox.put(self._events_channel, _encoder.encode(batch))

    def publish_signal(self, signal: Signal) -> None:
        self._outbox.put(self._signals_channel, _encoder.encode(signal))

    def subscribe_buckets(self, buckets: frozenset[int]) -> None:
        return None  # one Redis: every node hears every event on one channel

    async def _send(self, out: list[tuple[str, bytes]]) -> None:
        assert self._pub is not None
        async with self._pub.pipeline(transaction=False) as pipe:
            for channel, data in out:
                pipe.publish(channel, data)
            await pipe.execute()

    async def _subscriber(self) -> None:
        assert self._receiver is not None
        receiver = self._receiver
        delay = 0.1
        while True:
            client = self._make_redis()
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._events_channel, self._signals_channel)
                self.subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        hand_over(message["data"], message["channel"], self.node_id, receiver)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis subscription lost (%s); retrying in %.1fs", exc, delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.reset()  # typed alias of PubSub.aclose
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        if self._tasks:
            await self._outbox.flush()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pub is not None:
            await self._pub.aclose()
