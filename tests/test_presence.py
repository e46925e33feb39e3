"""The presence tracker (messenger/realtime/presence.py) against the real database, one node
without Redis: what it announces, and that transitions queued together go out in one pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from messenger.db import Database, Q
from messenger.realtime.presence import PresenceTracker

from .factories import User, make_user


class CountingDatabase(Database):
    """The real database, counting the presence queries it runs."""

    went_queries = 0

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if sql == Q.realtime_went:
            self.went_queries += 1
        return await super().fetch(sql, *args)


@dataclass
class Node:
    tracker: PresenceTracker
    db: CountingDatabase
    # Who has a socket on the node (the hub's users), and what the tracker announced.
    local: dict[int, object] = field(default_factory=dict)
    announced: list[tuple[int, bool, list[int]]] = field(default_factory=list)

    def connect(self, user: User) -> None:
        self.local[user.id] = object()
        self.tracker.changed(user.id, True)

    def disconnect(self, user: User) -> None:
        del self.local[user.id]
        self.tracker.changed(user.id, False)

    async def settled(self) -> None:
        await asyncio.wait_for(self.tracker._queue.join(), 10)


@pytest.fixture
async def node(database: str) -> AsyncIterator[Node]:
    db = CountingDatabase((await Database.connect(database, min_size=1, max_size=2)).pool)
    local: dict[int, object] = {}
    announced: list[tuple[int, bool, list[int]]] = []
    tracker = PresenceTracker(
        db,
        lambda user_id, online, chats: announced.append((user_id, online, chats)),
        redis=None,
        prefix="test:",
        node_id="n1",
        local_users=local,
    )
    await tracker.start()
    try:
        yield Node(tracker, db, local, announced)
    finally:
        await tracker.close()
        await db.close()


async def _two_in_a_group(db: asyncpg.Pool) -> tuple[User, User, int]:
    alice, bob = await make_user(db), await make_user(db)
    return alice, bob, await _group(db, alice, bob)


async def _group(db: asyncpg.Pool, *members: User) -> int:
    chat: int = await db.fetchval("INSERT INTO chats (kind, title) VALUES ('group', 'g') RETURNING id")
    for m in members:
        await db.execute("INSERT INTO member_spans (chat_id, user_id, from_pos) VALUES ($1, $2, 0)", chat, m.id)
    return chat


async def test_users_coming_online_together_are_announced_with_one_query(node: Node, db: asyncpg.Pool) -> None:
    users = [await make_user(db) for _ in range(50)]
    chat = await _group(db, *users)
    for user in users:
        node.connect(user)
    await node.settled()
    assert sorted(node.announced) == sorted((u.id, True, [chat]) for u in users)
    assert node.db.went_queries == 1


async def test_a_user_who_connects_and_disconnects_before_the_worker_runs_is_not_announced(
    node: Node, db: asyncpg.Pool
) -> None:
    alice, bob, chat = await _two_in_a_group(db)
    node.connect(alice)
    node.connect(bob)
    node.disconnect(bob)
    await node.settled()
    assert node.announced == [(alice.id, True, [chat])]


async def test_an_announced_user_flapping_within_one_batch_goes_where_they_ended(node: Node, db: asyncpg.Pool) -> None:
    alice, bob, chat = await _two_in_a_group(db)
    node.connect(alice)
    node.connect(bob)
    await node.settled()
    node.announced.clear()
    node.disconnect(alice)
    node.connect(alice)
    node.disconnect(bob)
    await node.settled()
    # Alice is back before anyone was told she left: nothing. Bob is gone.
    assert node.announced == [(bob.id, False, [chat])]


async def test_online_and_offline_in_one_batch_are_both_announced(node: Node, db: asyncpg.Pool) -> None:
    alice, bob, chat = await _two_in_a_group(db)
    node.connect(alice)
    await node.settled()
    node.announced.clear()
    node.connect(bob)
    node.disconnect(alice)
    await node.settled()
    assert sorted(node.announced) == sorted([(bob.id, True, [chat]), (alice.id, False, [chat])])
    assert node.db.went_queries == 3  # alice's online, then one for each direction of the batch
