"""The link between nodes over a Redis Cluster: sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7).

Layer: realtime. Same contract as broker.RedisBroker (Redis only signals, PostgreSQL is the
truth: a lost or late message costs latency, the hub fills gaps and polls the stream head from
PostgreSQL), same wire format (broker.Packet), different channels (keys.py):
- committed events are split by chat bucket (`chat_id % CHAT_BUCKETS`) and each part goes to
  its bucket's shard channel, one SPUBLISH per bucket per batch; typing and read signals go to
  their chat's bucket channel too. Each bucket channel lives on the shard owning its slot, so
  the fan-out traffic spreads over the shards instead of passing through one server;
- presence changes, notifications and session ends (about users, not one chat) go to the one
  shard channel `<prefix>signals`.

Subscribing. A shard channel can only be subscribed on the master owning its slot, one
SSUBSCRIBE per slot, so the subscriber keeps one connection per master holding wanted channels
(the slot map comes from the cluster client) and reads from each in its own task. A reader that
loses its master (restart, failover, slot moved: Redis then ends the subscription with
`sunsubscribe`) stops; the supervisor re-reads the slot map and starts readers again with
backoff, leaving the other masters' readers alone.

redis-py's asyncio RedisCluster (5.x) has no pub/sub, and its newer ClusterPubSub multiplexes
the per-node connections by polling them in turn; a blocking read per master is cheaper and
delivers at once, so the subscription side is written here on redis-py's Connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final

import msgspec
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection

from ..events import Event
from ..keys import RedisKeys
from ..redisconn import connect, parse_cluster_url
from .broker import ChatSignal, EventBatch, Receiver, Signal, WireEvent, decode_packet, encode_packet

log = logging.getLogger("messenger.broker")


class ClusterBroker:
    # Bounded outgoing backlog, as RedisBroker's.
    MAX_BACKLOG: Final = 10_000

    def __init__(self, url: str, prefix: str, node_id: str) -> None:
        self.node_id = node_id
        self._url = url
        self._keys = RedisKeys(prefix)
        self._out: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._readers: dict[str, tuple[frozenset[str], asyncio.Task[None]]] = {}
        self._refresh = asyncio.Event()
        self._receiver: Receiver | None = None
        self._cluster: RedisCluster | None = None
        self.subscribed = asyncio.Event()
        # Every bucket: each node still hears every chat's events, but each shard carries only
        # its buckets' share of them.
        self._channels = frozenset([*self._keys.bucket_channels, self._keys.signals_channel])

    async def start(self, receiver: Receiver) -> None:
        self._receiver = receiver
        cluster = connect(self._url, socket_connect_timeout=2, socket_timeout=5, socket_keepalive=True)
        assert isinstance(cluster, RedisCluster)
        self._cluster = cluster
        self._tasks = [
            asyncio.create_task(self._publisher(), name="broker-publisher"),
            asyncio.create_task(self._supervisor(), name="broker-supervisor"),
        ]
        # As RedisBroker: wait briefly for the subscriptions, start anyway if Redis is down.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 3)

    # -- publishing --------------------------------------------------------------------------

    def _queue(self, channel: str, data: bytes) -> None:
        if len(self._out) >= self.MAX_BACKLOG:
            del self._out[: len(self._out) // 2]
        self._out.append((channel, data))
        self._wake.set()

    def publish_events(self, events: Sequence[Event]) -> None:
        if not events:
            return
        by_bucket: dict[int, list[WireEvent]] = {}
        bucket = self._keys.chat_bucket
        for e in events:
            wire = WireEvent(e.pos, e.chat_id, e.type, e.payload, e.user_id)
            by_bucket.setdefault(bucket(e.chat_id), []).append(wire)
        for b, part in by_bucket.items():
            self._queue(self._keys.bucket_channel(b), encode_packet(EventBatch(self.node_id, part)))

    def publish_signal(self, signal: Signal) -> None:
        if isinstance(signal, ChatSignal):
            channel = self._keys.bucket_channel(self._keys.chat_bucket(signal.chat_id))
        else:
            channel = self._keys.signals_channel
        self._queue(channel, encode_packet(signal))

    async def _publisher(self) -> None:
        assert self._cluster is not None
        cluster = self._cluster
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._out:
                out, self._out = self._out, []
                try:
                    # One pipeline for everything queued: the cluster client sends each
                    # master its commands in one round trip, the masters in parallel.
                    async with cluster.pipeline(transaction=False) as pipe:
                        for channel, data in out:
                            pipe.execute_command("SPUBLISH", channel, data)
                        replies = await pipe.execute(raise_on_error=False)
                    failed = sum(1 for r in replies if isinstance(r, Exception))
                    if failed:
                        log.warning("redis cluster publish: %d of %d dropped", failed, len(out))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a shard down: drop; PostgreSQL polling recovers events
                    log.warning("redis cluster publish failed (%d dropped): %s", len(out), exc)
                    await asyncio.sleep(0.5)

    # -- subscribing -------------------------------------------------------------------------

    async def _supervisor(self) -> None:
        """Keep one reader per master for the wanted channels it owns; re-plan on failure."""
        assert self._cluster is not None
        cluster = self._cluster
        delay = 0.1
        while True:
            self._refresh.clear()
            try:
                await cluster.initialize()  # (re)reads the slot map
                plan: dict[str, set[str]] = {}
                addresses: dict[str, tuple[str, int]] = {}
                for channel in self._channels:
                    node = cluster.get_node_from_key(channel)
                    if node is None:
                        raise ConnectionError(f"no master holds the slot of {channel}")
                    plan.setdefault(node.name, set()).add(channel)
                    addresses[node.name] = (str(node.host), int(node.port))
                for name in list(self._readers):
                    channels, task = self._readers[name]
                    if task.done() or frozenset(plan.get(name, ())) != channels:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                        del self._readers[name]
                started = []
                for name, wanted in plan.items():
                    if name not in self._readers:
                        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                        host, port = addresses[name]
                        task = asyncio.create_task(self._reader(host, port, wanted, ready), name=f"broker-{name}")
                        self._readers[name] = (frozenset(wanted), task)
                        started.append(ready)
                if started:
                    await asyncio.wait(started, timeout=3)
                if all(not task.done() for _, task in self._readers.values()):
                    self.subscribed.set()
                    delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis cluster slot map unavailable (%s); retrying in %.1fs", exc, delay)
                self._refresh.set()
            if self._refresh.is_set():
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            # Re-plan when a reader fails, and now and then anyway (slots can move quietly).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._refresh.wait(), 30)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _reader(self, host: str, port: int, channels: set[str], ready: asyncio.Future[None]) -> None:
        assert self._receiver is not None and self._cluster is not None
        receiver, cluster = self._receiver, self._cluster
        address = parse_cluster_url(self._url)
        conn = Connection(
            host=host,
            port=port,
            username=address.username,
            password=address.password,
            socket_connect_timeout=2,
            socket_keepalive=True,
        )
        try:
            # send_command connects first.
            by_slot: dict[int, list[str]] = {}
            for channel in channels:
                by_slot.setdefault(cluster.keyslot(channel), []).append(channel)
            for group in by_slot.values():
                # One SSUBSCRIBE per slot: a command's channels must share a slot.
                await conn.send_command("SSUBSCRIBE", *group)
                for _ in group:
                    reply = await conn.read_response()
                    if not isinstance(reply, list) or reply[0] != b"ssubscribe":
                        raise ConnectionError(f"unexpected SSUBSCRIBE reply {reply!r}")
            if not ready.done():
                ready.set_result(None)
            while True:
                reply = await conn.read_response()
                if not isinstance(reply, list) or len(reply) != 3:
                    continue
                kind = reply[0]
                if kind == b"sunsubscribe":
                    # The slot moved (or the shard is leaving): re-plan from the slot map.
                    raise ConnectionError(f"{host}:{port} ended the subscription of {reply[1]!r}")
                if kind != b"smessage":
                    continue
                try:
                    packet = decode_packet(reply[2])
                except msgspec.DecodeError:
                    log.warning("undecodable broker packet on %s", reply[1])
                    continue
                if packet.origin == self.node_id:
                    continue
                if isinstance(packet, EventBatch):
                    receiver.feed([Event(w.pos, w.chat_id, w.type, w.payload, w.user_id) for w in packet.events])
                else:
                    receiver.on_signal(packet)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("redis cluster subscription on %s:%d lost (%s)", host, port, exc)
            self._refresh.set()
        finally:
            if not ready.done():
                ready.set_result(None)
            with contextlib.suppress(Exception):
                await conn.disconnect()

    async def close(self) -> None:
        if self._out and self._tasks:
            for _ in range(20):
                if not self._out:
                    break
                await asyncio.sleep(0.05)
        tasks = [*self._tasks, *(task for _, task in self._readers.values())]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._cluster is not None:
            await self._cluster.aclose()
