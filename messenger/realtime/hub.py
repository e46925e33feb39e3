"""The per-node hub: local sockets by user and chat, in-order delivery, resume, and the broker.

Layer: realtime. The hub implements `ports.Publisher`, the one way domain code reaches live
sockets; per-socket queues and backpressure are in peer.py.

Delivery guarantee. Events carry commit-ordered positions (events.py). The hub delivers them to
its sockets strictly in position order: it keeps `delivered_upto`, buffers arrivals that skip a
position, fills a gap that persists for GAP_WAIT from PostgreSQL, and polls the stream head every
POLL_INTERVAL so it catches up even when Redis lost (or never carried) a message. Every socket
therefore sees persisted events in cursor order, each once. On a Redis Cluster a node hears only
the chat buckets its users need, plus every commit's positions and buckets: it skips a position
whose bucket nobody here wants, deciding when it reaches that position (interest.py).

Who gets what. A user's visibility is their membership spans (sql/schema/0002_events.sql). When
a user's first socket connects, the hub reads their spans together with the stream head in one
snapshot, replays the events it dispatched meanwhile against those spans, and from then on
follows member_added / member_removed events as they are dispatched, so membership changes take
effect for live sockets exactly at the event that makes them.

Resume. A new socket holds persisted events from its attach until briefly after its `ready`
(HOLD_WINDOW, or until its first frame) so a client that sends `resume` right after `ready` gets
a clean switch: events up to H (the node's `delivered_upto` when the replay starts) come from
PostgreSQL in pages, live events (all > H) queue meanwhile and are flushed after the replay,
with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Sequence
from typing import Any, Final

from prometheus_client import Counter

from .. import events
from ..db import Database, Q
from ..events import Event
from ..model import Notification
from ..observability import REGISTRY
from ..redisconn import AnyRedis
from . import frames, signals
from .broker import Broker, ChatSignal, EndSessions, PresenceSignal, Signal, UsersSignal
from .interest import BucketInterest
from .peer import (
    CLOSE_INTERNAL,
    CLOSE_RESTART,
    HOLD,
    REPLAY,
    Outgoing,
    Peer,
    UserState,
)
from .presence import PresenceTracker

log = logging.getLogger("messenger.hub")

GAP_WAIT: Final = 0.03
POLL_INTERVAL: Final = 0.5
CATCHUP_PAGE: Final = 2000
HOLD_WINDOW: Final = 0.3
REPLAY_PAGE: Final = 500
CAUGHT_UP = Counter(
    "messenger_hub_caught_up_events_total",
    "Events this node read from PostgreSQL because the broker did not bring them (in time)",
    registry=REGISTRY,
)


class ResumeLate(Exception):
    """`resume` after live events were already delivered, to a cursor before them."""


class Hub:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        *,
        redis: AnyRedis | None,
        redis_prefix: str,
        presence_ttl: float,
        presence_grace: float = 0.0,
    ) -> None:
        self.db = db
        self.broker = broker
        self.node_id = broker.node_id
        self.users: dict[int, UserState] = {}
        self.presence = PresenceTracker(
            db,
            self.announce_presence,
            redis=redis,
            prefix=redis_prefix,
            node_id=self.node_id,
            local_users=self.users,
            ttl=presence_ttl,
            grace=presence_grace,
        )
        self.delivered_upto = 0
        self.chat_users: dict[int, set[UserState]] = {}
        self.sessions: dict[int, set[Peer]] = {}
        self.loading: set[UserState] = set()
        self._pending: dict[int, Event] = {}
        # Announced positions not reached yet: position -> chat bucket (cluster only).
        self._announced: dict[int, int] = {}
        self.interest = BucketInterest(broker.subscribe_buckets)
        self._recent: deque[Event] = deque(maxlen=4096)
        self._progress = asyncio.Event()
        self._filling = False
        self._gap_timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.accepting = True
        self._typing: dict[tuple[int, int], float] = {}

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        state = await self.db.fetchrow(Q.stream_state)
        assert state is not None
        self.delivered_upto = state["pos"]
        await self.broker.start(self)
        self._tasks.append(asyncio.create_task(self._poll(), name="hub-poll"))
        await self.presence.start()

    def close_sockets(self) -> None:
        """Stop accepting and close every socket with 1012 (reconnect and resume): the first
        step of a shutdown, before the writer commits what it holds."""
        self.accepting = False
        for state in list(self.users.values()):
            for peer in list(state.peers):
                peer.close(CLOSE_RESTART, "service restart: reconnect and resume")

    async def close(self) -> None:
        """After `close_sockets`: publish the last presence changes, stop tasks, leave the broker."""
        await self.presence.close()
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._gap_timer is not None:
            self._gap_timer.cancel()
        await self.broker.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- ports.Publisher, and what the notification jobs use ----------------------------------

    async def publish(self, events_: Sequence[Event]) -> None:
        """Fan committed events out to every node's sockets. Call only after commit."""
        if not events_:
            return
        first = events_[0]
        if first.pos <= self.delivered_upto and self._reused(first):
            # A fresh commit at or below what this node delivered: the stream went back (a
            # restored backup, or a test suite rewinding it). Follow it at once.
            self._rewind(first.pos - 1)
        self.feed(events_)
        self.broker.publish_events(events_)

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        """Close (1008) every socket of these sessions, on every node. Call after commit."""
        if not session_ids:
            return
        signal = EndSessions(self.node_id, list(session_ids))
        self.on_signal(signal)
        self.broker.publish_signal(signal)

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        """Which of these users have a live socket on any node (notifications use this)."""
        return await self.presence.online(user_ids)

    async def presence_snapshot(self, user_id: int) -> list[int]:
        """The `ready` frame's presence: online peers of the user's direct and small chats."""
        return await self.presence.snapshot(user_id)

    async def publish_read(self, chat_id: int, user_id: int, seq: int, *, origin: object = None) -> None:
        """A read marker moved: members' sockets get `read {chat_id, user_id, seq}`."""
        encoded = frames.encode(frames.ReadMarker(chat_id, user_id, seq))
        self.chat_signal(ChatSignal(self.node_id, chat_id, encoded.text, encoded.binary, None, False), origin)

    async def notify(self, user_ids: Sequence[int], notification: Notification) -> None:
        """Send a `notification {notification}` frame to every socket of these users."""
        encoded = frames.encode(frames.Notification(notification))
        signal = UsersSignal(self.node_id, list(user_ids), encoded.text, encoded.binary)
        self.on_signal(signal)
        self.broker.publish_signal(signal)

    def chat_signal(self, signal: ChatSignal, origin: object = None) -> None:
        signals.deliver_chat(signal, self.chat_users.get(signal.chat_id), origin)
        self.broker.publish_signal(signal)

    def announce_presence(self, user_id: int, online: bool, chat_ids: list[int]) -> None:
        signal = PresenceSignal(self.node_id, user_id, online, chat_ids)
        self.on_signal(signal)
        self.broker.publish_signal(signal)

    # -- sockets -----------------------------------------------------------------------------

    def attach(self, peer: Peer) -> int:
        """Register a socket; returns its start cursor (it gets persisted events after it)."""
        peer.floor = self.delivered_upto
        state = self.users.get(peer.user_id)
        if state is None:
            state = self.users[peer.user_id] = UserState(peer.user_id)
            self.loading.add(state)
            self.interest.unknown += 1
            self._spawn(self._load(state, self.delivered_upto))
            self.presence.changed(peer.user_id, True)
        state.peers.add(peer)
        peer.user = state
        self.sessions.setdefault(peer.session_id, set()).add(peer)
        return peer.floor

    def send_ready(self, peer: Peer, ready: bytes) -> None:
        """Write `ready` (then what was pushed meanwhile) and open the hold window from there.

        The window is the client's time to answer `ready` with `resume`, so it starts when
        `ready` goes out, not at attach: the session check, the membership load and the
        presence snapshot between the two can take longer than the window on a busy node, and a
        window that had run out by then let live events through before the client could resume
        (`resume_late` for a client that did everything right, and the events between its cursor
        and the socket's start never delivered)."""
        peer.start(ready)
        asyncio.get_running_loop().call_later(HOLD_WINDOW, self._hold_expired, peer)

    def _hold_expired(self, peer: Peer) -> None:
        if peer.mode == HOLD:
            peer.go_live()

    def detach(self, peer: Peer) -> None:
        peer.closed = True
        peer.pending = None
        state = peer.user
        if state is None:
            return
        peer.user = None
        state.peers.discard(peer)
        session = self.sessions.get(peer.session_id)
        if session is not None:
            session.discard(peer)
            if not session:
                del self.sessions[peer.session_id]
        if state.peers:
            return
        state.dead = True
        self.users.pop(state.user_id, None)
        self.loading.discard(state)
        for chat_id in state.chats:
            members = self.chat_users.get(chat_id)
            if members is not None:
                self._unfollow(chat_id, state, members)
        self.presence.changed(state.user_id, False)

    def typing_due(self, user_id: int, chat_id: int, interval: float) -> bool:
        """Coalesce typing: at most one notice per user and chat every `interval` seconds."""
        now = asyncio.get_running_loop().time()
        key = (user_id, chat_id)
        last = self._typing.get(key)
        if last is not None and now - last < interval:
            return False
        if len(self._typing) > 10_000:
            self._typing = {k: t for k, t in self._typing.items() if now - t < interval}
        self._typing[key] = now
        return True

    async def is_member(self, peer: Peer, chat_id: int) -> bool:
        """Whether the socket's user belongs to the chat (as of the last dispatched event)."""
        state = peer.user
        if state is None:
            return False
        if not state.loaded:
            await state.wait_loaded()
        return state.loaded and chat_id in state.chats

    async def resume(self, peer: Peer, cursor: int) -> None:
        """Replay persisted events after `cursor` from PostgreSQL, then switch to live."""
        if peer.sent_persisted:
            # Live events already went out: everything after the socket's start is delivered
            # or queued, so a cursor at or after it needs nothing; an older one cannot be
            # served in order on this connection.
            if cursor >= peer.floor:
                return
            raise ResumeLate()
        peer.mode = REPLAY
        upto = self.delivered_upto
        since = cursor
        try:
            while not peer.closed:
                page = await events.read(self.db, peer.user_id, since, limit=REPLAY_PAGE, upto=upto)
                for event in page.events:
                    if peer.closed:
                        return
                    await peer.wait_below(max(1, peer.limit // 2))
                    if peer.closed:
                        return
                    peer.sent_persisted = True
                    peer.push(Outgoing(event).frame(peer.binary))
                if not page.has_more:
                    break
                since = int(page.cursor)
        except BaseException:
            peer.go_live()
            raise
        # Live events up to `upto` came from the database; later ones (and none at or below
        # the client's cursor) are flushed in order and delivery continues live.
        peer.floor = max(peer.floor, upto, cursor)
        peer.held = [out for out in peer.held if out.event.pos > peer.floor]
        peer.go_live()

    # -- membership loading ------------------------------------------------------------------

    async def _load(self, state: UserState, since: int) -> None:
        spanned: set[int] = set()
        try:
            await self._load_spans(state, since, spanned)
        finally:
            for chat_id in spanned:
                self.interest.remove(chat_id)
            self._drain()  # positions held back for this user may be skippable now

    async def _load_spans(self, state: UserState, since: int, spanned: set[int]) -> None:
        try:
            try:
                records = await self.db.fetch(Q.realtime_spans_at, state.user_id, since)
            finally:
                self.interest.unknown -= 1
            head: int = records[0]["head"]
            # The user's chats are known (nothing was skipped until now): from here on the
            # replay below needs only the buckets of the chats they have a span in.
            spanned.update(r["chat_id"] for r in records if r["chat_id"] is not None)
            for chat_id in spanned:
                self.interest.add(chat_id)
            self._drain()
            # The snapshot includes membership changes up to `head`: wait until this node has
            # dispatched that far so none of them is applied twice or missed.
            while self.delivered_upto < head and not state.dead:
                progress = self._progress
                try:
                    await asyncio.wait_for(progress.wait(), GAP_WAIT)
                except TimeoutError:
                    self._kick_fill()  # normally the broker brings them first
        except Exception:
            log.exception("loading memberships of user %d failed", state.user_id)
            for peer in list(state.peers):
                peer.close(CLOSE_INTERNAL, "internal error: reconnect")
            state.finish_loading()
            return
        if state.dead:
            state.finish_loading()
            return
        spans: dict[int, list[tuple[int, int | None]]] = {}
        for r in records:
            if r["chat_id"] is not None:
                spans.setdefault(r["chat_id"], []).append((r["from_pos"], r["to_pos"]))
        state.chats = {c for c, ss in spans.items() if any(t is None for _, t in ss)}
        pending, state.pending = state.pending, []
        for i, event in enumerate(pending):
            if event.pos <= head:
                # Already reflected in the snapshot: visible if a span covers it.
                ss = spans.get(event.chat_id)
                if ss and any(f < event.pos and (t is None or event.pos <= t) for f, t in ss):
                    self._to_user(state, Outgoing(event))
                continue
            self._apply_for_user(state, event, pending, i)
        self.loading.discard(state)
        state.loaded = True
        state.finish_loading()
        for chat_id in state.chats:
            self._follow(chat_id, state)

    def _follow(self, chat_id: int, state: UserState) -> None:
        members = self.chat_users.get(chat_id)
        if members is None:
            members = self.chat_users[chat_id] = set()
            self.interest.add(chat_id)
        members.add(state)

    def _unfollow(self, chat_id: int, state: UserState, members: set[UserState]) -> None:
        members.discard(state)
        if not members:
            del self.chat_users[chat_id]
            self.interest.remove(chat_id)

    def _apply_for_user(self, state: UserState, event: Event, seq: Sequence[Event], index: int) -> None:
        """The incremental rule for one not-yet-indexed user (mirrors `_dispatch`)."""
        chat_id = event.chat_id
        if event.type == events.MEMBER_ADDED and event.user_id == state.user_id and chat_id not in state.chats:
            state.chats.add(chat_id)
            for earlier in self._span_prefix(seq, index):
                self._to_user(state, Outgoing(earlier))
        if chat_id in state.chats:
            self._to_user(state, Outgoing(event))
            if event.type == events.MEMBER_REMOVED and event.user_id == state.user_id:
                state.chats.discard(chat_id)

    @staticmethod
    def _span_prefix(seq: Sequence[Event], index: int) -> list[Event]:
        """The events of the same transaction just before a member_added that the new member's
        span also covers (chats.py opens a new chat's spans at its first event: chat_updated
        and the other members' member_added)."""
        event = seq[index]
        out: list[Event] = []
        j = index - 1
        expected = event.pos - 1
        while j >= 0:
            prev = seq[j]
            if prev.pos != expected or prev.chat_id != event.chat_id:
                break
            if prev.type not in (events.CHAT_UPDATED, events.MEMBER_ADDED):
                break
            out.append(prev)
            expected -= 1
            j -= 1
        out.reverse()
        return out

    @staticmethod
    def _to_user(state: UserState, out: Outgoing) -> None:
        for peer in state.peers:
            peer.push_event(out)

    # -- ordered delivery --------------------------------------------------------------------

    def feed(self, events_: Sequence[Event]) -> None:
        """Committed events from anywhere (local writers, the broker, gap fills), any order."""
        upto = self.delivered_upto
        pending = self._pending
        for event in events_:
            if event.pos > upto:
                pending[event.pos] = event
        if pending:
            self._drain()

    def announce(self, first: int, buckets: bytes, events_: Sequence[Event]) -> None:
        """Positions `first`... committed elsewhere, their buckets, some events in full (cluster)."""
        upto = self.delivered_upto
        announced = self._announced
        for pos, bucket in enumerate(buckets, first):
            if pos > upto:
                announced[pos] = bucket
        self._pending.update((e.pos, e) for e in events_ if e.pos > upto)
        self._drain()

    def _drain(self) -> None:
        pending = self._pending
        announced = self._announced
        wants = self.interest.wants
        advanced = False
        while pending or announced:
            pos = self.delivered_upto + 1
            event = pending.pop(pos, None)
            if event is not None:
                if announced:
                    announced.pop(pos, None)
                self._dispatch(event)
            else:
                # Decided now, not when announced: an event dispatched just before (a local
                # user's member_added) may have made the bucket wanted.
                bucket = announced.get(pos)
                if bucket is None or wants(bucket):
                    break
                del announced[pos]
                self._skip(pos)
            advanced = True
        if advanced:
            progress, self._progress = self._progress, asyncio.Event()
            progress.set()
        if (pending or announced) and self._gap_timer is None:
            self._gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT, self._gap_expired)

    def _skip(self, pos: int) -> None:
        # A placeholder that matches no event: a local commit reusing `pos` is a rewind.
        self.delivered_upto = pos
        self._recent.append(Event(pos, -1, "", b""))

    def _gap_expired(self) -> None:
        self._gap_timer = None
        if self._pending or self._announced:
            self._kick_fill()

    def _kick_fill(self) -> None:
        if not self._filling:
            self._filling = True
            self._spawn(self._fill())

    async def _fill(self) -> None:
        """Read what this node is missing from PostgreSQL, up to the committed head."""
        try:
            state = await self.db.fetchrow(Q.stream_state)
            assert state is not None
            head: int = state["pos"]
            while self.delivered_upto < head:
                start = self.delivered_upto
                records = await self.db.fetch(Q.realtime_events_after, start, head, CATCHUP_PAGE)
                batch = [Event(r["pos"], r["chat_id"], r["type"], r["payload"], r["user_id"]) for r in records]
                # Every position up to the committed head is committed, so a missing row was
                # deleted by retention: skip it so delivery never stalls on it.
                skip_to = batch[0].pos - 1 if batch else head
                if skip_to > self.delivered_upto:
                    self.delivered_upto = skip_to
                    for stale in [p for p in self._pending if p <= skip_to]:
                        del self._pending[stale]
                    for stale in [p for p in self._announced if p <= skip_to]:
                        del self._announced[stale]
                before = self.delivered_upto
                self.feed(batch)
                CAUGHT_UP.inc(self.delivered_upto - before)
                if self.delivered_upto == start:
                    break
        except Exception as exc:
            log.warning("catching up from the database failed: %s", exc)
        finally:
            self._filling = False
        if (self._pending or self._announced) and self._gap_timer is None:
            self._gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT, self._gap_expired)

    async def _poll(self) -> None:
        """Catch up on whatever the broker did not bring (Redis down, lost messages)."""
        seen_head = self.delivered_upto
        while True:
            await asyncio.sleep(POLL_INTERVAL * random.uniform(0.8, 1.2))
            # Captured before the query: events dispatched while it runs must not look like
            # the stream going back.
            before = self.delivered_upto
            try:
                state = await self.db.fetchrow(Q.stream_state)
            except Exception as exc:
                log.warning("polling the stream head failed: %s", exc)
                continue
            if state is None:
                # Only if the counter row is missing (an emptied table); an
                # assert here would end the poll task, and with it Redis-outage recovery.
                continue
            head = state["pos"]
            if head < before:
                # The stream went back (a restored backup): follow it rather than wait for
                # positions this node believes it already delivered.
                self._rewind(head)
            # Only what was committed a whole interval ago counts as missed; newer events are
            # normally still on their way through the broker.
            elif self.delivered_upto < seen_head:
                self._kick_fill()
            seen_head = head

    def _reused(self, event: Event) -> bool:
        """Whether a freshly committed event's position was already dispatched with another
        event. (The same event may legitimately have been dispatched already: a catch-up read
        can overtake its writer's publish.) Positions older than the recent window are left to
        the head poll, which sees the head itself go back."""
        recent = self._recent
        if not recent or event.pos < recent[0].pos:
            return False
        for seen in reversed(recent):
            if seen.pos == event.pos:
                return seen.payload != event.payload or seen.chat_id != event.chat_id
            if seen.pos < event.pos:
                break
        return False

    def _rewind(self, to: int) -> None:
        log.warning("event stream rewound from %d to %d", self.delivered_upto, to)
        self.delivered_upto = to
        self._pending.clear()
        self._announced.clear()
        self._recent.clear()

    def _dispatch(self, event: Event) -> None:
        self.delivered_upto = event.pos
        for state in self.loading:
            state.pending.append(event)
        recent = self._recent
        recent.append(event)
        chat_id = event.chat_id
        kind = event.type
        if kind == events.MEMBER_ADDED and event.user_id is not None:
            added = self.users.get(event.user_id)
            if added is not None and added.loaded and chat_id not in added.chats:
                added.chats.add(chat_id)
                self._follow(chat_id, added)
                for earlier in self._span_prefix(recent, len(recent) - 1):
                    self._to_user(added, Outgoing(earlier))
        members = self.chat_users.get(chat_id)
        if members:
            out = Outgoing(event)
            for state in members:
                for peer in state.peers:
                    peer.push_event(out)
            if kind == events.MEMBER_REMOVED and event.user_id is not None:
                removed = self.users.get(event.user_id)
                if removed is not None and removed.loaded and chat_id in removed.chats:
                    removed.chats.discard(chat_id)
                    self._unfollow(chat_id, removed, members)

    # -- ephemeral signals -------------------------------------------------------------------

    def on_signal(self, signal: Signal) -> None:
        signals.deliver(signal, self.chat_users, self.users, self.sessions)


def new_node_id() -> str:
    return f"{random.getrandbits(48):012x}"
