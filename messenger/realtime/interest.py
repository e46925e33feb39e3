"""Which chat buckets this node's users need, for skipping other buckets' positions (cluster).

Layer: realtime. On a Redis Cluster every commit is announced on one shard channel with each
position's chat bucket (keys.chat_bucket), while the events themselves travel on their bucket's
channel, which a node subscribes to only while one of its users needs it (cluster_broker.py).
The hub delivers in position order, so it must know that a position it will never hear of is
of no use to it: it skips a position whose announced bucket nobody here wants (hub._drain).

A bucket is wanted while a chat of `Hub.chat_users` falls in it, or a user still loading has a
membership span (open or closed) in one of its chats: that user's replay of the events
dispatched meanwhile needs them. While a user's spans are not known yet (the first moments of
its first socket) every bucket is wanted: nothing is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..keys import CHAT_BUCKETS, RedisKeys


class BucketInterest:
    __slots__ = ("_notify", "_refs", "_scheduled", "unknown")

    def __init__(self, notify: Callable[[frozenset[int]], None]) -> None:
        # Per bucket, how many (chat, holder) references want it; holders are chat_users'
        # chats and loading users' spans.
        self._refs = [0] * CHAT_BUCKETS
        # Users whose spans are not known yet: while any is, every bucket is wanted.
        self.unknown = 0
        self._notify = notify
        self._scheduled = False

    def wants(self, bucket: int) -> bool:
        return self.unknown > 0 or self._refs[bucket] > 0

    def add(self, chat_id: int) -> None:
        bucket = RedisKeys.chat_bucket(chat_id)
        self._refs[bucket] += 1
        if self._refs[bucket] == 1:
            self._changed()

    def remove(self, chat_id: int) -> None:
        bucket = RedisKeys.chat_bucket(chat_id)
        self._refs[bucket] -= 1
        if self._refs[bucket] == 0:
            self._changed()

    @property
    def buckets(self) -> frozenset[int]:
        """The buckets some chat of a local user falls in (what the broker subscribes to)."""
        return frozenset(b for b, n in enumerate(self._refs) if n)

    def _changed(self) -> None:
        # One notice per turn of the event loop: a user's load adds many chats at once.
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        self._notify(self.buckets)
