"""Notification frames and presence as the notification jobs see them (`notifications.Notifier`).

Layer: realtime. In-process (no Redis) this node's hub is the whole cluster; the worker (Redis)
reads the nodes' presence sets and publishes the frames on the broker's signal channel, as a
node's hub would.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from ..keys import RedisKeys
from ..notifications import Created
from ..redisconn import AnyRedis, publish_command
from . import frames
from .broker import UsersSignal
from .hub import Hub


class HubNotifier:
    """In-process jobs (no Redis)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        return await self.hub.online(user_ids)

    async def deliver(self, created: Sequence[Created]) -> None:
        for c in created:
            await self.hub.notify([c.user_id], c.notification)


class RedisNotifier:
    """The worker's view (the key layout presence.py and broker.py use, from keys.py)."""

    def __init__(self, redis: AnyRedis, prefix: str) -> None:
        self.redis = redis
        self.keys = RedisKeys(prefix)
        self.publish = publish_command(redis)

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        if not user_ids:
            return set()
        # A node is alive while its heartbeat score (its expiry time) is in the future.
        nodes = await self.redis.zrangebyscore(self.keys.presence_nodes, time.time(), "+inf")
        if not nodes:
            return set()
        wanted = [str(u) for u in user_ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for node in nodes:
                pipe.smismember(self.keys.presence_node(node.decode()), wanted)
            replies = await pipe.execute()
        found: set[int] = set()
        for reply in replies:
            found.update(u for u, hit in zip(user_ids, reply, strict=True) if hit)
        return found

    async def deliver(self, created: Sequence[Created]) -> None:
        if not created:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for c in created:
                encoded = frames.encode(frames.Notification(c.notification))
                signal = UsersSignal("worker", [c.user_id], encoded.text, encoded.binary)
                pipe.execute_command(self.publish, self.keys.signals_channel, msgspec.msgpack.encode(signal))
            await pipe.execute()
