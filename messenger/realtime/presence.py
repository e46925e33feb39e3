"""Presence: who has a live socket anywhere, and `presence` frames when that changes.

Layer: realtime.

The hub reports per-node transitions (a user's first socket on this node opened, their last
one closed). Without Redis this node is the cluster. With Redis each node keeps the set of its
users under `{<prefix>presence}:node:<id>` and a heartbeat score in `{<prefix>presence}:nodes`
(keys.py: one hash tag, so on a Redis Cluster every presence pipeline is one shard's); a
user is online while some live node's set holds them. A node that stops heartbeating (crashed)
is reaped by any other node: its users that are not online elsewhere go offline. Transitions
are processed in order by one task, so a quick connect/disconnect never reorders; what queued
meanwhile is handled in one pass (a query and a Redis round trip for all of it).

A user whose last socket here closed lingers for `grace` seconds (still online, here too) before
going offline, so a reload or a reconnect shows no offline/online flicker. `last_seen_at` is
written with the transitions that are announced, at most once a minute per user (the SQL says
so), never per frame. `snapshot` is the `ready` frame's presence: one query for the candidates,
then one in-process lookup, plus one pipelined Redis round trip when other nodes are alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from ..db import Database, Q
from ..keys import RedisKeys

if TYPE_CHECKING:
    from ..redisconn import AnyRedis

log = logging.getLogger("messenger.presence")

Announce = Callable[[int, bool, list[int]], None]

# The `ready` snapshot covers direct chats and groups/channels up to this many members, looks at
# the peers of the most recently active chats up to CANDIDATES, and names at most SNAPSHOT_MAX.
SNAPSHOT_GROUP_MAX: Final = 100
SNAPSHOT_CANDIDATES: Final = 2000
SNAPSHOT_MAX: Final = 1000
# Transitions handled in one pass of the worker (one query, one Redis round trip).
BATCH_MAX: Final = 1000


class PresenceTracker:
    def __init__(
        self,
        db: Database,
        announce: Announce,
        *,
        redis: AnyRedis | None,
        prefix: str,
        node_id: str,
        local_users: Mapping[int, object],
        ttl: float = 15.0,
        grace: float = 0.0,
    ) -> None:
        self.db = db
        self.announce = announce
        self.redis = redis
        self.node_id = node_id
        self.local_users = local_users
        self.ttl = ttl
        self.heartbeat = ttl / 3
        self.grace = grace
        # Users whose last local socket closed less than `grace` ago: the timer sends them offline.
        self._lingering: dict[int, asyncio.TimerHandle] = {}
        self._keys = RedisKeys(prefix)
        self._nodes_key = self._keys.presence_nodes
        self._queue: asyncio.Queue[tuple[int, bool]] = asyncio.Queue()
        self._alive: list[str] = [node_id]
        # Users this node has announced/registered as present (so a connect/disconnect pair
        # that both ran before the worker saw them produces nothing at all).
        self._registered: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def _node_key(self, node_id: str) -> str:
        return self._keys.presence_node(node_id)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._worker(), name="presence-worker"))
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self._heartbeat_once()
            self._tasks.append(asyncio.create_task(self._heartbeat(), name="presence-heartbeat"))

    async def close(self) -> None:
        # Nobody lingers past shutdown: their offline transitions go out with the rest.
        for user_id, handle in list(self._lingering.items()):
            handle.cancel()
            self._queue.put_nowait((user_id, False))
        self._lingering.clear()
        # Let the transitions of the sockets that just closed go out before leaving.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), 3)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.redis is not None:
            with contextlib.suppress(Exception):
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.delete(self._node_key(self.node_id))
                    pipe.zrem(self._nodes_key, self.node_id)
                    await pipe.execute()

    def changed(self, user_id: int, online: bool) -> None:
        """This node's first socket of the user opened (True) or its last one closed (False)."""
        handle = self._lingering.pop(user_id, None)
        if handle is not None:
            handle.cancel()
        if online or self.grace <= 0:
            self._queue.put_nowait((user_id, online))
        else:
            self._lingering[user_id] = asyncio.get_running_loop().call_later(self.grace, self._linger_over, user_id)

    def _linger_over(self, user_id: int) -> None:
        self._lingering.pop(user_id, None)
        self._queue.put_nowait((user_id, False))

    def queued(self) -> int:
        """Transitions waiting for the worker (messenger_presence_queued on /metrics)."""
        return self._queue.qsize()

    def _here(self, user_id: int) -> bool:
        return user_id in self.local_users or user_id in self._lingering

    async def snapshot(self, user_id: int) -> list[int]:
        """Who is online among the user's direct-chat peers and small groups' members (not them)."""
        records = await self.db.fetch(Q.realtime_presence_candidates, user_id, SNAPSHOT_GROUP_MAX, SNAPSHOT_CANDIDATES)
        candidates = [r["user_id"] for r in records]
        found = await self.online(candidates)
        return [u for u in candidates if u in found][:SNAPSHOT_MAX]

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        local = self.local_users
        lingering = self._lingering
        found = {u for u in user_ids if u in local or u in lingering}
        rest = [u for u in user_ids if u not in found]
        if not rest or self.redis is None:
            return found
        try:
            others = [n for n in self._alive if n != self.node_id]
            if others:
                names = [str(u) for u in rest]
                async with self.redis.pipeline(transaction=False) as pipe:
                    for node in others:
                        pipe.smismember(self._node_key(node), names)
                    replies = await pipe.execute()
                for reply in replies:
                    found.update(u for u, hit in zip(rest, reply, strict=True) if hit)
        except Exception as exc:
            log.warning("presence lookup in redis failed, answering for this node only: %s", exc)
        return found

    async def _worker(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Everything queued meanwhile goes in the same pass: one query and one Redis round
            # trip for all of it. One at a time, a node's restart (every user connecting at
            # once) queued thousands of transitions at a query each, and any offline or online
            # behind them was announced seconds late (bench/README.md, "Presence in batches").
            while len(batch) < BATCH_MAX and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._transitions(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence transitions of %d user(s) failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _transitions(self, batch: list[tuple[int, bool]]) -> None:
        # Only where each user stands now counts: a transition superseded by a later one (still
        # queued, or already in this batch) is checked against the present state and dropped.
        went: dict[bool, list[int]] = {True: [], False: []}
        for user_id in dict.fromkeys(user_id for user_id, _ in batch):
            online = self._here(user_id)
            if online == (user_id in self._registered):
                continue
            if online:
                self._registered.add(user_id)
            else:
                self._registered.discard(user_id)
            went[online].append(user_id)
        if not went[True] and not went[False]:
            return
        if self.redis is not None:
            elsewhere = await self._register(went[True], went[False])
            went = {online: [u for u in users if u not in elsewhere] for online, users in went.items()}
        for online, users in went.items():
            if users:
                await self._announce(users, online)

    async def _register(self, online: list[int], offline: list[int]) -> set[int]:
        """This node's set in Redis follows the transitions; returns the users whose presence
        another live node holds (their transition here changes nothing for others)."""
        assert self.redis is not None
        elsewhere: set[int] = set()
        try:
            key = self._node_key(self.node_id)
            others = [n for n in self._alive if n != self.node_id]
            users = [*online, *offline]
            names = [str(u) for u in users]
            async with self.redis.pipeline(transaction=False) as pipe:
                if online:
                    pipe.sadd(key, *names[: len(online)])
                if offline:
                    pipe.srem(key, *names[len(online) :])
                for node in others:
                    pipe.smismember(self._node_key(node), names)
                replies = await pipe.execute()
            for reply in replies[bool(online) + bool(offline) :]:
                elsewhere.update(u for u, hit in zip(users, reply, strict=True) if hit)
        except Exception as exc:
            log.warning("presence update in redis failed: %s", exc)
        return elsewhere

    async def _announce(self, user_ids: list[int], online: bool) -> None:
        records = await self.db.fetch(Q.realtime_went, user_ids)
        chats = {r["user_id"]: list(r["chat_ids"]) for r in records}
        for uid in user_ids:
            if chats.get(uid):
                self.announce(uid, online, chats[uid])

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._heartbeat_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("presence heartbeat failed: %s", exc)

    async def _heartbeat_once(self) -> None:
        assert self.redis is not None
        now = time.time()
        key = self._node_key(self.node_id)
        local = [str(u) for u in (*self.local_users, *self._lingering)]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._nodes_key, {self.node_id: now + self.ttl})
            # Re-assert our users (a Redis restart loses them) and keep the set a while after
            # a crash so a reaper can still read it.
            if local:
                pipe.sadd(key, *local)
            pipe.expire(key, int(self.ttl * 10))
            pipe.zrangebyscore(self._nodes_key, now, "+inf")
            pipe.zrangebyscore(self._nodes_key, "-inf", now)
            replies = await pipe.execute()
        alive, dead = replies[-2], replies[-1]
        self._alive = [n.decode() for n in alive]
        for raw in dead:
            await self._reap(raw.decode())

    async def _reap(self, node: str) -> None:
        """A node stopped heartbeating: its users go offline unless online elsewhere."""
        assert self.redis is not None
        if not await self.redis.set(self._keys.presence_reap(node), self.node_id, nx=True, ex=60):
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self._node_key(node))
            pipe.delete(self._node_key(node))
            pipe.zrem(self._nodes_key, node)
            members, _, _ = await pipe.execute()
        user_ids = [int(m) for m in members]
        if not user_ids:
            return
        still = await self.online(user_ids)
        gone = [u for u in user_ids if u not in still]
        if gone:
            log.info("node %s stopped heartbeating: %d user(s) offline", node, len(gone))
            await self._announce(gone, False)
