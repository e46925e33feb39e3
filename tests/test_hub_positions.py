"""The hub's ordered delivery past positions it never hears (a Redis Cluster node hears only
the chat buckets its users need, plus every commit's positions and buckets).

A real hub on the real database, in process: commits are made by the domain functions with a
recording publisher standing in for the other nodes, and announced to the hub the way the
cluster broker does (hub.announce). The checks run right after `announce`, before anything
awaits, so they show the decision the hub made for each position, not a later gap fill."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest

from messenger import chats, jobs, messages
from messenger.db import Database
from messenger.events import Event
from messenger.keys import RedisKeys
from messenger.messages import SendRequest
from messenger.realtime.broker import LocalBroker
from messenger.realtime.hub import Hub
from messenger.realtime.peer import Peer

from .factories import make_user


class OtherNodes:
    """Stands in for the other nodes' hubs (not storage): records what writers publish."""

    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)

    async def publish_read(self, chat_id: int, user_id: int, seq: int, *, origin: object = None) -> None:
        return None

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        return None


class Discard:
    """A socket's transport that takes whatever is written (the frames are not checked here)."""

    def write(self, data: bytes) -> None:
        return None

    def close_requested(self) -> None:
        return None


@pytest.fixture
async def hub(database: str) -> AsyncIterator[Hub]:
    db = await Database.connect(database, min_size=1, max_size=4)
    hub = Hub(db, LocalBroker("test"), redis=None, redis_prefix="test:", presence_ttl=30)
    await hub.start()
    try:
        yield hub
    finally:
        hub.close_sockets()
        await hub.close()
        await db.close()


def announce(hub: Hub, committed: Sequence[Event], *, full: Sequence[Event] = ()) -> None:
    """What the cluster broker does with another node's Positions packet."""
    buckets = bytes(RedisKeys.chat_bucket(e.chat_id) for e in committed)
    hub.announce(committed[0].pos, buckets, list(full))


async def connect(hub: Hub, user_id: int) -> Peer:
    peer = Peer(user_id, 1, False, 1000, Discard())
    hub.attach(peer)
    assert peer.user is not None
    await peer.user.wait_loaded()
    return peer


async def send(hub: Hub, others: OtherNodes, sender: int, chat_id: int, text: str) -> list[Event]:
    others.published.clear()
    await messages.send(hub.db, others, jobs.InProcessJobs([]), SendRequest(sender, chat_id, text, text))
    return list(others.published)


async def group(hub: Hub, others: OtherNodes, owner: int, *members: int) -> int:
    chat, _ = await chats.create(
        hub.db, others, owner, kind="group", title="t", description=None, member_ids=list(members)
    )
    return chat.id


async def test_a_position_in_a_bucket_no_local_user_needs_is_passed_without_its_event(
    hub: Hub, db: asyncpg.Pool
) -> None:
    others = OtherNodes()
    alice, bob = await make_user(db), await make_user(db)
    chat = await group(hub, others, alice.id, bob.id)
    hub.feed(others.published)
    committed = await send(hub, others, alice.id, chat, "m")
    announce(hub, committed)
    assert hub.delivered_upto == committed[-1].pos


async def test_a_position_in_the_bucket_of_a_local_users_chat_waits_for_its_event(hub: Hub, db: asyncpg.Pool) -> None:
    others = OtherNodes()
    alice, bob = await make_user(db), await make_user(db)
    chat = await group(hub, others, alice.id, bob.id)
    hub.feed(others.published)
    await connect(hub, bob.id)
    before = hub.delivered_upto
    committed = await send(hub, others, alice.id, chat, "m")
    announce(hub, committed)
    assert hub.delivered_upto == before
    hub.feed(committed)
    assert hub.delivered_upto == committed[-1].pos


async def test_nothing_is_skipped_while_a_connecting_users_chats_are_unknown(hub: Hub, db: asyncpg.Pool) -> None:
    others = OtherNodes()
    alice, bob, carol = await make_user(db), await make_user(db), await make_user(db)
    chat = await group(hub, others, alice.id, bob.id)
    hub.feed(others.published)
    committed = await send(hub, others, alice.id, chat, "m")
    before = hub.delivered_upto
    # carol's first socket: her spans are being read, so any bucket may be hers.
    hub.attach(Peer(carol.id, 1, False, 1000, Discard()))
    announce(hub, committed)
    assert hub.delivered_upto == before


async def test_a_member_added_just_before_a_position_makes_its_bucket_needed(hub: Hub, db: asyncpg.Pool) -> None:
    others = OtherNodes()
    alice, bob = await make_user(db), await make_user(db)
    chat = await group(hub, others, alice.id)
    hub.feed(others.published)
    await connect(hub, bob.id)
    others.published.clear()
    await chats.add_member(hub.db, others, alice.id, chat, bob.id, "member")
    added = list(others.published)
    message = await send(hub, others, alice.id, chat, "m")
    assert message[0].pos == added[-1].pos + 1
    # Both commits' announcements arrive before either event; member_added travels in full.
    announce(hub, added, full=added)
    announce(hub, message)
    assert hub.delivered_upto == added[-1].pos
    assert chat in hub.chat_users
