"""The link between nodes over a Redis Cluster: sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7).

Layer: realtime. Same contract as broker.RedisBroker (Redis only signals, PostgreSQL is the
truth: a lost or late message costs latency, the hub fills gaps and polls the stream head from
PostgreSQL), same wire format (broker.Packet), different channels (keys.py):
- committed events are split by chat bucket (`chat_id % CHAT_BUCKETS`) and each part goes to
  its bucket's shard channel, one SPUBLISH per bucket per batch; typing and read signals go to
  their chat's bucket channel too. Each bucket channel lives on the shard owning its slot, so
  the fan-out traffic spreads over the shards instead of passing through one server;
- every batch is also announced on the one shard channel `<prefix>positions`: its positions and
  each one's bucket (broker.Positions), so a node that does not hear a bucket can still deliver
  past its positions in order (hub._drain). A member_added, and the chat_updated of its
  transaction, travel there in full instead of on their bucket: the node of the user added must
  get it although it does not hear that chat's bucket yet;
- presence changes, notifications and session ends (about users, not one chat) go to the one
  shard channel `<prefix>signals`.

Subscribing. A node subscribes to the positions and signals channels and to the buckets of the
chats its users are in (hub.interest); a bucket nobody needs any more is left after
UNSUBSCRIBE_GRACE, so a user who reconnects does not make it churn. Until a new subscription is
confirmed that bucket's events come from PostgreSQL (the hub's gap fill): slower, not lost.

A shard channel can only be subscribed on the master owning its slot, one SSUBSCRIBE per slot,
so the subscriber keeps one connection per master holding wanted channels (the slot map comes
from the cluster client) and reads from each in its own task; channels are added and removed on
that connection as the wanted set changes. A reader that loses its master (restart, failover,
slot moved: Redis then ends the subscription with `sunsubscribe`) stops; the supervisor re-reads
the slot map and starts readers again with backoff, leaving the other masters' readers alone.

redis-py's asyncio RedisCluster (5.x) has no pub/sub, and its newer ClusterPubSub multiplexes
the per-node connections by polling them in turn; a blocking read per master is cheaper and
delivers at once, so the subscription side is written here on redis-py's Connection.

Publishing goes to each master on its own outbox and connection: a master that is down delays
and drops only its own channels' packets, never the healthy shards'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection

from .. import events
from ..events import Event
from ..keys import RedisKeys
from ..redisconn import ClusterAddress, connect, parse_cluster_url
from .broker import (
    ChatSignal,
    EventBatch,
    Outbox,
    Positions,
    Receiver,
    Signal,
    WireEvent,
    encode_packet,
    hand_over,
)

log = logging.getLogger("messenger.broker")

# How long a bucket nobody here needs stays subscribed (a user reconnecting meanwhile keeps it).
UNSUBSCRIBE_GRACE: Final = 30.0
# The slot map is re-read this often even when nothing failed (slots can move quietly).
REPLAN_INTERVAL: Final = 30.0


def _wire(e: Event) -> WireEvent:
    return WireEvent(e.pos, e.chat_id, e.type, e.payload, e.user_id)


def _announced_in_full(batch: Sequence[Event]) -> set[int]:
    """Positions every node gets in full: member_added (the added user's node may not hear the
    chat's bucket yet) and the chat_updated of its transaction (the new member's span starts
    there, hub._span_prefix). member_removed needs no such care: the node of the user removed
    hears, or waits for, that chat's bucket until the event is dispatched."""
    added = {e.chat_id for e in batch if e.type == events.MEMBER_ADDED}
    if not added:
        return set()
    return {
        e.pos for e in batch if e.chat_id in added and (e.type == events.MEMBER_ADDED or e.type == events.CHAT_UPDATED)
    }


class _Reader:
    """One master's subscription connection: its channels change while it reads."""

    def __init__(self, host: str, port: int, address: ClusterAddress, cluster: RedisCluster, node_id: str) -> None:
        self.name = f"{host}:{port}"
        self._cluster = cluster
        self.conn = Connection(
            host=host,
            port=port,
            username=address.username,
            password=address.password,
            # CLIENT LIST then shows which node holds which subscriptions (the bench counts them).
            client_name=f"messenger-node-{node_id}",
            socket_connect_timeout=2,
            socket_keepalive=True,
        )
        self.wanted: frozenset[str] = frozenset()
        self._sent: set[str] = set()
        # SUNSUBSCRIBEs sent whose reply has not come: that reply is not Redis ending it.
        self.leaving: set[str] = set()
        self._lock = asyncio.Lock()
        self.connected = False
        self.task: asyncio.Task[None] | None = None

    async def sync(self) -> None:
        """Bring the connection's subscriptions to `wanted` (one command per slot)."""
        async with self._lock:
            if not self.connected:
                return
            add = self.wanted - self._sent
            drop = self._sent - self.wanted
            for group in self._by_slot(add):
                await self.conn.send_command("SSUBSCRIBE", *group, check_health=False)
            self._sent |= add
            self.leaving |= drop
            self._sent -= drop
            for group in self._by_slot(drop):
                await self.conn.send_command("SUNSUBSCRIBE", *group, check_health=False)

    def _by_slot(self, channels: Iterable[str]) -> list[list[str]]:
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(self._cluster.keyslot(channel), []).append(channel)
        return list(by_slot.values())


class ClusterBroker:
    def __init__(self, url: str, prefix: str, node_id: str) -> None:
        self.node_id = node_id
        self._url = url
        self._address = parse_cluster_url(url)
        self._keys = RedisKeys(prefix)
        self._bucket_channels = self._keys.bucket_channels
        self._positions_channel = self._keys.positions_channel
        self._tasks: list[asyncio.Task[None]] = []
        self._readers: dict[str, _Reader] = {}
        self._lanes: dict[str, tuple[Outbox, asyncio.Task[None]]] = {}
        self._publishers: dict[str, Redis] = {}
        self._slots: dict[str, int] = {}
        self._refresh = asyncio.Event()
        self._replan = asyncio.Event()
        self._receiver: Receiver | None = None
        self._cluster: RedisCluster | None = None
        self.subscribed = asyncio.Event()
        # The buckets the hub needs, and those it no longer needs with when to leave them.
        self._wanted: frozenset[int] = frozenset()
        self._leaving: dict[int, float] = {}

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver
        cluster = connect(self._url, socket_connect_timeout=2, socket_timeout=5, socket_keepalive=True)
        assert isinstance(cluster, RedisCluster)
        self._cluster = cluster
        self._tasks = [asyncio.create_task(self._supervisor(), name="broker-supervisor")]
        # As RedisBroker: wait briefly for the subscriptions, start anyway if Redis is down.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 3)

    # -- publishing --------------------------------------------------------------------------

    def _queue(self, channel: str, data: bytes) -> None:
        """Hand a packet to the outbox of the master owning its channel (cached slot map)."""
        assert self._cluster is not None
        slot = self._slots.get(channel)
        if slot is None:
            slot = self._slots[channel] = self._cluster.keyslot(channel)
        try:
            node = self._cluster.nodes_manager.get_node_from_slot(slot)
        except Exception as exc:  # no slot map yet, or the slot is not covered: drop
            log.warning("redis cluster publish on %s dropped: %s", channel, exc)
            self._refresh.set()
            return
        lane = self._lanes.get(node.name)
        if lane is None:
            lane = self._lane(node.name, str(node.host), int(node.port))
        lane[0].put(channel, data)

    def _lane(self, name: str, host: str, port: int) -> tuple[Outbox, asyncio.Task[None]]:
        client = Redis(
            host=host,
            port=port,
            username=self._address.username,
            password=self._address.password,
            socket_connect_timeout=2,
            socket_timeout=5,
            socket_keepalive=True,
        )
        self._publishers[name] = client

        async def send(out: list[tuple[str, bytes]]) -> None:
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for channel, data in out:
                        pipe.execute_command("SPUBLISH", channel, data)
                    replies = await pipe.execute(raise_on_error=False)
            except Exception:
                self._refresh.set()  # the master may have moved: re-read the slot map
                raise
            failed = sum(1 for r in replies if isinstance(r, Exception))
            if failed:  # e.g. MOVED: a slot left this master
                self._refresh.set()
                log.warning("redis cluster publish to %s: %d of %d dropped", name, failed, len(out))

        outbox = Outbox(send, f"redis cluster {name}")
        lane = self._lanes[name] = (outbox, asyncio.create_task(outbox.run(), name=f"broker-publisher-{name}"))
        return lane

    def publish_events(self, events_: Sequence[Event]) -> None:
        if not events_:
            return
        bucket = self._keys.chat_bucket
        everyone = _announced_in_full(events_)
        by_bucket: dict[int, list[WireEvent]] = {}
        full: list[WireEvent] = []
        for e in events_:
            if e.pos in everyone:
                full.append(_wire(e))
            else:
                by_bucket.setdefault(bucket(e.chat_id), []).append(_wire(e))
        for b, part in by_bucket.items():
            self._queue(self._bucket_channels[b], encode_packet(EventBatch(self.node_id, part)))
        # One announcement per run of consecutive positions (a commit's are consecutive).
        start = 0
        for i in range(1, len(events_) + 1):
            if i == len(events_) or events_[i].pos != events_[i - 1].pos + 1:
                run = events_[start:i]
                first, last = run[0].pos, run[-1].pos
                buckets = bytes(bucket(e.chat_id) for e in run)
                mine = [w for w in full if first <= w.pos <= last]
                self._queue(self._positions_channel, encode_packet(Positions(self.node_id, first, buckets, mine)))
                start = i

    def publish_signal(self, signal: Signal) -> None:
        if isinstance(signal, ChatSignal):
            channel = self._bucket_channels[self._keys.chat_bucket(signal.chat_id)]
        else:
            channel = self._keys.signals_channel
        self._queue(channel, encode_packet(signal))

    # -- subscribing -------------------------------------------------------------------------

    def subscribe_buckets(self, buckets: frozenset[int]) -> None:
        now = asyncio.get_running_loop().time()
        for b in self._wanted - buckets:
            self._leaving[b] = now + UNSUBSCRIBE_GRACE
        for b in buckets:
            self._leaving.pop(b, None)
        self._wanted = buckets
        self._replan.set()

    def _channels(self, now: float) -> set[str]:
        for b in [b for b, until in self._leaving.items() if until <= now]:
            del self._leaving[b]
        buckets = self._wanted | self._leaving.keys()
        return {
            self._keys.signals_channel,
            self._positions_channel,
            *(self._bucket_channels[b] for b in buckets),
        }

    async def _supervisor(self) -> None:
        """Keep one reader per master for the wanted channels it owns; re-plan on failure, on a
        change of the wanted buckets, and now and then anyway."""
        assert self._cluster is not None
        cluster = self._cluster
        loop = asyncio.get_running_loop()
        delay = 0.1
        reread_at = 0.0
        while True:
            now = loop.time()
            failed = False
            try:
                if self._refresh.is_set() or now >= reread_at:
                    self._refresh.clear()
                    await cluster.initialize()  # (re)reads the slot map
                    reread_at = now + REPLAN_INTERVAL
                self._replan.clear()
                await self._plan(self._channels(now))
                if all(r.task is not None and not r.task.done() for r in self._readers.values()):
                    self.subscribed.set()
                    delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis cluster slot map unavailable (%s); retrying in %.1fs", exc, delay)
                failed = True
            if failed or self._refresh.is_set():
                self._refresh.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            wake = min([reread_at, *self._leaving.values()])
            replan = asyncio.ensure_future(self._replan.wait())
            refresh = asyncio.ensure_future(self._refresh.wait())
            try:
                await asyncio.wait(
                    [replan, refresh], timeout=max(0.0, wake - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                replan.cancel()
                refresh.cancel()
            if self._refresh.is_set():
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _plan(self, channels: set[str]) -> None:
        assert self._cluster is not None
        plan: dict[str, set[str]] = {}
        addresses: dict[str, tuple[str, int]] = {}
        for channel in channels:
            node = self._cluster.get_node_from_key(channel)
            if node is None:
                raise ConnectionError(f"no master holds the slot of {channel}")
            plan.setdefault(node.name, set()).add(channel)
            addresses[node.name] = (str(node.host), int(node.port))
        for name in list(self._readers):
            reader = self._readers[name]
            if reader.task is None or reader.task.done() or name not in plan:
                await self._stop_reader(reader)
                del self._readers[name]
        started: list[asyncio.Future[None]] = []
        for name, wanted in plan.items():
            existing = self._readers.get(name)
            if existing is None:
                host, port = addresses[name]
                reader = self._readers[name] = _Reader(host, port, self._address, self._cluster, self.node_id)
                reader.wanted = frozenset(wanted)
                ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                reader.task = asyncio.create_task(self._read(reader, ready), name=f"broker-{name}")
                started.append(ready)
            elif existing.wanted != wanted:
                existing.wanted = frozenset(wanted)
                await existing.sync()
        if started:
            await asyncio.wait(started, timeout=3)

    @staticmethod
    async def _stop_reader(reader: _Reader) -> None:
        if reader.task is not None:
            reader.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader.task

    async def _read(self, reader: _Reader, ready: asyncio.Future[None]) -> None:
        assert self._receiver is not None
        receiver = self._receiver
        conn = reader.conn
        confirming: set[str] = set()
        try:
            reader.connected = True
            await reader.sync()  # the first command connects
            confirming = set(reader.wanted)
            while True:
                reply = await conn.read_response()
                if not isinstance(reply, list) or len(reply) != 3:
                    continue
                kind = reply[0]
                if kind == b"smessage":
                    hand_over(reply[2], reply[1], self.node_id, receiver)
                elif kind == b"ssubscribe":
                    if confirming:
                        confirming.discard(reply[1].decode())
                        if not confirming and not ready.done():
                            ready.set_result(None)
                elif kind == b"sunsubscribe":
                    channel = reply[1].decode()
                    if channel in reader.leaving:
                        reader.leaving.discard(channel)
                        continue
                    # The slot moved (or the shard is leaving): re-plan from the slot map.
                    raise ConnectionError(f"{reader.name} ended the subscription of {channel!r}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("redis cluster subscription on %s lost (%s)", reader.name, exc)
            self._refresh.set()
        finally:
            reader.connected = False
            if not ready.done():
                ready.set_result(None)
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def close(self) -> None:
        for outbox, _ in self._lanes.values():
            await outbox.flush()
        tasks = [
            *self._tasks,
            *(r.task for r in self._readers.values() if r.task is not None),
            *(task for _, task in self._lanes.values()),
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in self._publishers.values():
            await client.aclose()
        if self._cluster is not None:
            await self._cluster.aclose()
