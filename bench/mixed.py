"""Client processes of `bench mixed`: people, not a firehose.

Each process owns a share of the users (one socket each) and, in one measured phase, plays
them at human rates: a user sends a message every `msg_interval` seconds on average
(exponential gaps, open loop: the intended time travels in the text), announced by a `typing`
frame `typing_lead` seconds before; chats are picked by kind (direct, group of 10, group of
100) with fixed weights; members who get a message mark it read after 1-3 s with a
probability that falls with the chat's size (people read direct chats, skim big groups).
Meanwhile sockets drop and come back: `reconnects` per minute (a fraction of the sockets)
close and reconnect at once, resuming from their last cursor (within the server's presence
grace, so nobody sees them leave), and `churn` per minute go offline for `offline` seconds
and come back (others get `presence` frames both ways). Sends that were not acknowledged
when a socket closed are sent again after the resume with the same `client_msg_id`, as the
protocol tells clients to.

Latency per event type: messages from the intended send time in their text (live, or
replayed by a resume); typing, read and presence frames carry no time, so each process logs
when it sent or did what causes them, the parent merges the logs and hands them to every
process, and each matches its arrivals to the latest cause before them.

Exactly-once: as in fleet.py, a bitmap of received seqs per user and chat that outlives the
user's sockets: a message replayed by a resume that had already arrived is a duplicate.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import gc
import heapq
import random
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from .client import UNDECODABLE_SAMPLES, HandshakeError, WsConn, describe_undecodable, split_url, ws_connect
from .fleet import ConnectReport, Ranges, _cpu, to_ranges
from .hist import HistData, Histogram
from .seed import SeedUser

TICK = 0.001
KINDS = ("direct", "group10", "group100")


class MixedPlan(msgspec.Struct):
    index: int
    urls: list[str]
    kind: str  # "messenger" | "baseline"
    users: list[SeedUser]
    nodes: list[int]
    # chat id -> "direct" | "group10" | "group100"
    chat_kinds: dict[int, str]
    seed: int
    text_size: int = 100
    connect_concurrency: int = 200
    msg_interval: float = 60.0
    typing_lead: float = 2.0
    # How often a message goes to each kind of chat (of the sender's chats of that kind).
    weights: dict[str, float] = msgspec.field(
        default_factory=lambda: {"direct": 0.5, "group10": 0.35, "group100": 0.15}
    )
    # The chance that a member marks a received message read (1-3 s later).
    read_prob: dict[str, float] = msgspec.field(
        default_factory=lambda: {"direct": 0.9, "group10": 0.4, "group100": 0.05}
    )


class MixedPhase(msgspec.Struct):
    t0_ns: int
    duration: float
    warmup: float
    reconnects_per_min: float  # fraction of the sockets per minute
    churn_per_min: float
    offline: float
    drain_timeout: float = 10.0


class Causes(msgspec.Struct):
    """What a process did that others should see: sent typing, sent read markers, presence."""

    acked: dict[int, Ranges]
    typing: list[tuple[int, int, int]]  # (user, chat, t_ns)
    reads: list[tuple[int, int, int, int]]  # (user, chat, seq, t_ns)
    presence: list[tuple[int, bool, int]]  # (user, online, t_ns)


class MixedExpect(msgspec.Struct):
    causes: Causes
    timeout: float


class MixedResult(msgspec.Struct):
    sent: int
    acked: int
    resent: int
    skipped_offline: int
    unacked: int
    delivered: int
    replayed: int
    missing: int
    duplicates: int
    errors: dict[str, int]
    ack_hist: HistData
    # "message direct", "message group10", "message group100", "message replayed", "typing",
    # "read", "presence online", "presence offline", "reconnect" (close -> ready)
    hists: dict[str, HistData]
    unmatched: dict[str, int]
    reconnects: int
    churned: int
    cpu_seconds: float
    wall_seconds: float
    closed_by_server: int
    close_codes: dict[str, int]
    missing_sample: list[tuple[int, int, int]]
    undecodable_sample: list[str] = []


class _Frame(msgspec.Struct):
    type: str
    # An object in receive_message and ack frames, the error's text in error frames.
    message: _Msg | str | None = None
    client_msg_id: str | None = None
    code: str | None = None
    ref: str | int | None = None
    cursor: str | None = None
    chat_id: int | str | None = None
    user_id: int | str | None = None
    seq: int | None = None
    online: bool | None = None


class _Msg(msgspec.Struct):
    seq: int
    chat_id: int | str
    sender_id: int | str | None = None
    text: str | None = None


_decode = msgspec.json.Decoder(_Frame).decode


class _User:
    __slots__ = (
        "chats_by_kind",
        "conn",
        "cursor",
        "epoch_ns",
        "index",
        "last_seq",
        "node",
        "online",
        "reading",
        "ready",
        "resume_from",
        "seen",
        "user",
    )

    def __init__(self, index: int, user: SeedUser, node: int, kinds: dict[int, str]) -> None:
        self.index = index
        self.user = user
        self.node = node
        self.conn: WsConn | None = None
        self.ready: asyncio.Future[None] | None = None
        # False while we closed the socket on purpose (reconnect, churn).
        self.online = False
        self.cursor = 0
        self.resume_from: int | None = None
        # When the current connection started: a message sent before it arrived by a resume.
        self.epoch_ns = 0
        self.seen: dict[int, bytearray] = {c: bytearray(64) for c in user.chats}
        self.last_seq: dict[int, int] = {}
        self.reading: set[int] = set()
        self.chats_by_kind: dict[str, list[int]] = {}
        for chat in user.chats:
            self.chats_by_kind.setdefault(kinds[chat], []).append(chat)


class MixedWorker:
    def __init__(self, plan: MixedPlan, pipe: Connection) -> None:
        self.plan = plan
        self.pipe = pipe
        self.rng = random.Random(plan.seed)
        self.addresses = [split_url(u) for u in plan.urls]
        self.users = [
            _User(i, u, n, plan.chat_kinds) for i, (u, n) in enumerate(zip(plan.users, plan.nodes, strict=True))
        ]
        self.by_id = {u.user.id: u for u in self.users}
        self.pad = b"x" * max(0, plan.text_size - 18)
        self.errors: dict[str, int] = {}
        self.undecodable: list[str] = []
        self.pending: dict[str, tuple[int, int, int, int, bytes]] = {}  # cmid -> (intended, actual, user, chat, frame)
        self.drained = asyncio.Event()  # set by the frame callback when the last pending send is answered
        self.counter = 0
        self.t_window = 1 << 62
        self.t_end = 1 << 62
        self.measuring = False
        self.ack_hist = Histogram()
        self.hists: dict[str, Histogram] = {}
        self.sent = self.acked = self.resent = self.skipped = 0
        self.delivered = self.replayed = self.duplicates = 0
        self.reconnects = self.churned = 0
        self.acked_seqs: dict[int, list[int]] = {}
        self.typing_sent: list[tuple[int, int, int]] = []
        self.reads_sent: list[tuple[int, int, int, int]] = []
        self.presence_done: list[tuple[int, bool, int]] = []
        self.typing_got: list[tuple[int, int, int]] = []
        self.reads_got: list[tuple[int, int, int, int]] = []
        self.presence_got: list[tuple[int, bool, int]] = []
        self.closed_by_server = 0
        self.close_codes: dict[str, int] = {}
        self.busy: set[int] = set()  # users in the middle of a reconnect or offline
        self.tasks: set[asyncio.Task[None]] = set()

    def _error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def _hist(self, name: str) -> Histogram:
        h = self.hists.get(name)
        if h is None:
            h = self.hists[name] = Histogram()
        return h

    # -- frames ------------------------------------------------------------------------------

    def _handler(self, u: _User, conn_box: list[WsConn | None]) -> Callable[[bytes, bool], None]:
        def on_frame(payload: bytes, binary: bool) -> None:
            now = time.monotonic_ns()
            try:
                f = _decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._error("undecodable_frame")
                if len(self.undecodable) < UNDECODABLE_SAMPLES:
                    self.undecodable.append(describe_undecodable(payload, binary, exc))
                return
            kind = f.type
            if f.cursor is not None and f.cursor.isdigit():
                u.cursor = max(u.cursor, int(f.cursor))
            if kind == "receive_message":
                self._on_message(u, f, now)
            elif kind == "ack":
                entry = self.pending.pop(f.client_msg_id or "", None)
                if entry is None:
                    self._error("unexpected_ack")
                    return
                if not self.pending:
                    self.drained.set()
                self.acked += 1
                if isinstance(f.message, _Msg):
                    self.acked_seqs.setdefault(int(f.message.chat_id), []).append(f.message.seq)
                if self.measuring and entry[0] >= self.t_window:
                    self.ack_hist.record((now - entry[1]) // 1000)
            elif kind == "typing":
                if self.measuring and f.user_id is not None and f.chat_id is not None:
                    self.typing_got.append((int(f.user_id), int(f.chat_id), now))
            elif kind == "read":
                if self.measuring and f.user_id is not None and f.chat_id is not None and f.seq is not None:
                    self.reads_got.append((int(f.user_id), int(f.chat_id), f.seq, now))
            elif kind == "presence":
                if self.measuring and f.user_id is not None and f.online is not None:
                    self.presence_got.append((int(f.user_id), f.online, now))
            elif kind == "ready":
                conn = conn_box[0]
                if u.resume_from is not None and conn is not None:
                    # The resume must be the first frame after ready.
                    conn.send_nowait(b'{"type":"resume","cursor":"%d","ref":"resume"}' % u.resume_from)
                    u.resume_from = None
                if u.ready is not None and not u.ready.done():
                    u.ready.set_result(None)
            elif kind == "error":
                self._error(f"error:{f.code}")
                ref = f.ref
                if isinstance(ref, str):
                    self.pending.pop(ref, None)
                    if not self.pending:
                        self.drained.set()

        return on_frame

    def _on_message(self, u: _User, f: _Frame, now: int) -> None:
        msg = f.message
        if not isinstance(msg, _Msg):
            self._error("receive_without_message")
            return
        chat = int(msg.chat_id)
        bitmap = u.seen.get(chat)
        if bitmap is None:
            self._error("frame_for_foreign_chat")
            return
        seq = msg.seq
        if seq >= len(bitmap):
            bitmap.extend(bytes(max(seq + 1 - len(bitmap), len(bitmap))))
        if bitmap[seq]:
            self.duplicates += 1
            return
        bitmap[seq] = 1
        self.delivered += 1
        if seq > u.last_seq.get(chat, 0):
            u.last_seq[chat] = seq
        text = msg.text
        if text is None or len(text) < 17 or text[16:17] != " ":
            return
        intended = int(text[:16], 16)
        if intended < u.epoch_ns:
            self.replayed += 1
            name = "message replayed"
        else:
            name = f"message {self.plan.chat_kinds.get(chat, '?')}"
        if self.measuring and intended >= self.t_window:
            self._hist(name).record((now - intended) // 1000)
        # A member (not the sender) may read it a moment later.
        if (
            self.measuring
            and msg.sender_id is not None
            and int(msg.sender_id) != u.user.id
            and chat not in u.reading
            and self.rng.random() < self.plan.read_prob.get(self.plan.chat_kinds.get(chat, ""), 0.0)
        ):
            u.reading.add(chat)
            self._at(now + int(self.rng.uniform(1.0, 3.0) * 1e9), "read", u.index, chat)

    # -- connecting --------------------------------------------------------------------------

    async def _connect(self, u: _User, resume_from: int | None) -> None:
        plan = self.plan
        loop = asyncio.get_running_loop()
        u.ready = loop.create_future()
        u.resume_from = resume_from
        u.epoch_ns = time.monotonic_ns()
        box: list[WsConn | None] = [None]
        host, port = self.addresses[u.node]
        path = (
            f"/v1/ws?user={u.user.id}&chats={','.join(map(str, u.user.chats))}" if plan.kind == "baseline" else "/v1/ws"
        )
        conn = await ws_connect("lean", host, port, path, self._handler(u, box))
        box[0] = conn
        u.conn = conn
        if plan.kind != "baseline":
            await conn.send(b'{"type":"auth","token":"%s"}' % u.user.token.encode())
        await asyncio.wait([u.ready, conn.closed], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not u.ready.done():
            code = conn.closed.result() if conn.closed.done() else "timeout"
            raise ConnectionError(f"no ready frame (close {code})")
        u.online = True
        self._watch(u, conn)

    def _watch(self, u: _User, conn: WsConn) -> None:
        def closed(fut: asyncio.Future[int]) -> None:
            # Closed while we meant it open: the server (or the network) closed it.
            if u.conn is conn and u.online:
                u.online = False
                self.closed_by_server += 1
                code = str(fut.result()) if not fut.cancelled() else "?"
                self.close_codes[code] = self.close_codes.get(code, 0) + 1

        conn.closed.add_done_callback(closed)

    async def connect_all(self) -> ConnectReport:
        from .server import raise_nofile

        nofile = raise_nofile()
        gate = asyncio.Semaphore(self.plan.connect_concurrency)
        stamps: list[int] = []
        start = time.monotonic_ns()

        async def one(u: _User) -> None:
            async with gate:
                try:
                    await self._connect(u, None)
                    stamps.append(time.monotonic_ns())
                except HandshakeError as exc:
                    self._error(f"handshake_{exc.status}")
                except (OSError, ConnectionError, TimeoutError) as exc:
                    self._error(f"connect:{type(exc).__name__}:{str(exc)[:60]}")

        await asyncio.gather(*(one(u) for u in self.users))
        ok = sum(1 for u in self.users if u.online)
        errors, self.errors = dict(self.errors), {}
        return ConnectReport(
            ok,
            len(self.users) - ok,
            errors,
            (time.monotonic_ns() - start) / 1e9,
            min(stamps, default=start),
            max(stamps, default=start),
            nofile,
        )

    async def _drop(self, u: _User, offline: float) -> None:
        """Close the user's socket; after `offline` seconds connect again and resume."""
        self.busy.add(u.index)
        try:
            u.online = False
            t_close = time.monotonic_ns()
            if u.conn is not None:
                await u.conn.close()
            if offline > 0:
                self.churned += 1
                self.presence_done.append((u.user.id, False, t_close))
                await asyncio.sleep(offline)
            else:
                self.reconnects += 1
            t_open = time.monotonic_ns()
            if offline > 0:
                self.presence_done.append((u.user.id, True, t_open))
            for attempt in range(5):
                try:
                    await self._connect(u, u.cursor)
                    break
                except (OSError, ConnectionError, TimeoutError, HandshakeError) as exc:
                    if attempt == 4:
                        self._error(f"reconnect:{type(exc).__name__}")
                        return
                    await asyncio.sleep(0.2 * (attempt + 1))
            if self.measuring and offline == 0:
                self._hist("reconnect").record((time.monotonic_ns() - t_close) // 1000)
            # Sends that were not acknowledged go again with the same client_msg_id.
            for cmid, (intended, _, user, chat, frame) in list(self.pending.items()):
                if user == u.index and u.conn is not None:
                    self.pending[cmid] = (intended, time.monotonic_ns(), user, chat, frame)
                    u.conn.send_nowait(frame)
                    self.resent += 1
        finally:
            self.busy.discard(u.index)

    # -- the schedule ------------------------------------------------------------------------

    def _at(self, t_ns: int, what: str, user: int, chat: int = 0) -> None:
        self.counter += 1
        heapq.heappush(self.heap, (t_ns, self.counter, what, user, chat))

    def _next_message(self, u: _User, after: int) -> None:
        gap = self.rng.expovariate(1.0 / self.plan.msg_interval)
        kinds = [k for k in KINDS if u.chats_by_kind.get(k)]
        if not kinds:
            return
        kind = self.rng.choices(kinds, [self.plan.weights.get(k, 0.0) for k in kinds])[0]
        chat = self.rng.choice(u.chats_by_kind[kind])
        at = after + int(gap * 1e9)
        self._at(at - int(self.plan.typing_lead * 1e9), "typing", u.index, chat)
        self._at(at, "send", u.index, chat)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _fire(self, t: int, what: str, ui: int, chat: int) -> None:
        u = self.users[ui]
        conn = u.conn
        live = u.online and conn is not None and conn.is_open and ui not in self.busy
        if what == "send":
            self._next_message(u, t)
            if not live:
                self.skipped += 1
                return
            assert conn is not None
            self.counter += 1
            cmid = f"{self.plan.index:08x}-0000-4000-8000-{self.counter:012x}"
            text = b"%016x %d" % (t, u.node) + self.pad
            frame = b'{"type":"send_message","chat_id":%d,"client_msg_id":"%s","text":"%s"}' % (
                chat,
                cmid.encode(),
                text,
            )
            self.pending[cmid] = (t, time.monotonic_ns(), ui, chat, frame)
            conn.send_nowait(frame)
            self.sent += 1
        elif what == "typing":
            if live and t >= self.t0:
                assert conn is not None
                # Stamped before the write: a receiver in another process may see the frame
                # before this process gets the CPU back.
                self.typing_sent.append((u.user.id, chat, time.monotonic_ns()))
                conn.send_nowait(b'{"type":"typing","chat_id":%d}' % chat)
        elif what == "read":
            u.reading.discard(chat)
            seq = u.last_seq.get(chat, 0)
            if live and seq:
                assert conn is not None
                self.reads_sent.append((u.user.id, chat, seq, time.monotonic_ns()))
                conn.send_nowait(b'{"type":"read","chat_id":%d,"seq":%d,"ref":"read"}' % (chat, seq))
        elif what == "drop" or what == "churn":
            # Next one, then this one (an online socket not already busy).
            phase = self.phase
            rate = (phase.reconnects_per_min if what == "drop" else phase.churn_per_min) * len(self.users) / 60.0
            self._at(t + int(self.rng.expovariate(rate) * 1e9), what, 0)
            candidates = [x for x in self.rng.sample(self.users, min(8, len(self.users))) if x.online]
            candidates = [x for x in candidates if x.index not in self.busy]
            if candidates and self.plan.kind != "baseline":
                self._spawn(self._drop(candidates[0], self.phase.offline if what == "churn" else 0.0))

    async def run(self, phase: MixedPhase) -> None:
        self.phase = phase
        self.t0 = phase.t0_ns
        self.t_window = phase.t0_ns + int(phase.warmup * 1e9)
        self.t_end = phase.t0_ns + int(phase.duration * 1e9)
        self.heap: list[tuple[int, int, str, int, int]] = []
        for u in self.users:
            self._next_message(u, phase.t0_ns)
        for what, per_min in (("drop", phase.reconnects_per_min), ("churn", phase.churn_per_min)):
            rate = per_min * len(self.users) / 60.0
            if rate > 0 and self.plan.kind != "baseline":
                self._at(phase.t0_ns + int(self.rng.expovariate(rate) * 1e9), what, 0)
        cpu0 = _cpu()
        # The arrival logs grow to hundreds of thousands of tuples: a full collection of the
        # cyclic GC over them (and the bitmaps) stalled the client for hundreds of ms and
        # showed up as p99.9 of every event type, the baseline's too. Nothing here makes cycles.
        gc.collect()
        gc.freeze()
        gc.disable()
        await asyncio.sleep(max(0.0, (phase.t0_ns - time.monotonic_ns()) / 1e9))
        wall0 = time.monotonic_ns()
        self.measuring = True
        heap = self.heap
        while True:
            now = time.monotonic_ns()
            if now >= self.t_end:
                break
            while heap and heap[0][0] <= now:
                t, _, what, ui, chat = heapq.heappop(heap)
                if t >= self.t_end:
                    break
                self._fire(t, what, ui, chat)
            await asyncio.sleep(TICK)
        # Bring everybody back, then let outstanding acks arrive.
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=phase.offline + 30)
        if self.pending:
            self.drained.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), phase.drain_timeout)
        unacked = len(self.pending)
        # Frames still in flight (read markers, typing) land in the settle wait below.
        causes = Causes(
            {c: to_ranges(s) for c, s in self.acked_seqs.items()},
            self.typing_sent,
            self.reads_sent,
            self.presence_done,
        )
        loop = asyncio.get_running_loop()
        # Sent from a thread: the causes run to hundreds of thousands of tuples, more than a
        # pipe holds, and the parent reads the processes' pipes one after another, so a send
        # on the loop blocked it (seconds) while frames caused in the window still arrived; they
        # were stamped late when it woke (presence p99 of 5-13 s, bench/README.md).
        await loop.run_in_executor(None, self.pipe.send, causes)
        expect: MixedExpect = await loop.run_in_executor(None, self.pipe.recv)
        missing, sample = self._missing(expect.causes.acked)
        deadline = time.monotonic() + expect.timeout
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            missing, sample = self._missing(expect.causes.acked)
        self.measuring = False
        gc.enable()
        unmatched = self._match(expect.causes)
        self.pipe.send(
            MixedResult(
                self.sent,
                self.acked,
                self.resent,
                self.skipped,
                unacked,
                self.delivered,
                self.replayed,
                missing,
                self.duplicates,
                self.errors,
                self.ack_hist.data(),
                {k: h.data() for k, h in self.hists.items()},
                unmatched,
                self.reconnects,
                self.churned,
                _cpu() - cpu0,
                (time.monotonic_ns() - wall0) / 1e9,
                self.closed_by_server,
                self.close_codes,
                sample,
                self.undecodable,
            )
        )

    def _match(self, causes: Causes) -> dict[str, int]:
        """Latency of typing, read and presence frames: from the latest cause before arrival."""
        unmatched = {"typing": 0, "read": 0, "presence": 0}
        typing: dict[tuple[int, int], list[int]] = {}
        for user, chat, t in causes.typing:
            typing.setdefault((user, chat), []).append(t)
        for times in typing.values():
            times.sort()
        for user, chat, t in self.typing_got:
            times = typing.get((user, chat), [])
            i = bisect.bisect_right(times, t)
            if i and times[i - 1] >= self.t_window:
                self._hist("typing").record((t - times[i - 1]) // 1000)
            elif not i:
                unmatched["typing"] += 1
        reads: dict[tuple[int, int, int], int] = {}
        for user, chat, seq, t in causes.reads:
            key = (user, chat, seq)
            reads[key] = min(t, reads.get(key, t))
        for user, chat, seq, t in self.reads_got:
            sent = reads.get((user, chat, seq))
            if sent is None:
                unmatched["read"] += 1
            elif sent >= self.t_window:
                self._hist("read").record(max(0, t - sent) // 1000)
        presence: dict[tuple[int, bool], list[int]] = {}
        for user, online, t in causes.presence:
            presence.setdefault((user, online), []).append(t)
        for times in presence.values():
            times.sort()
        for user, online, t in self.presence_got:
            times = presence.get((user, online), [])
            i = bisect.bisect_right(times, t)
            if i and times[i - 1] >= self.t_window:
                self._hist(f"presence {'online' if online else 'offline'}").record((t - times[i - 1]) // 1000)
            elif not i:
                unmatched["presence"] += 1
        return unmatched

    def _missing(self, acked: dict[int, Ranges]) -> tuple[int, list[tuple[int, int, int]]]:
        missing = 0
        sample: list[tuple[int, int, int]] = []
        for u in self.users:
            for chat, bitmap in u.seen.items():
                for a, b in acked.get(chat, ()):
                    if b >= len(bitmap):
                        bitmap.extend(bytes(b + 1 - len(bitmap)))
                    got = bitmap.count(1, a, b + 1)
                    if got != b - a + 1:
                        missing += b - a + 1 - got
                        if len(sample) < 5:
                            first = next(q for q in range(a, b + 1) if not bitmap[q])
                            sample.append((u.user.id, chat, first))
        return missing, sample

    async def _keepalive(self, every: float = 20.0) -> None:
        while True:
            await asyncio.sleep(every)
            for u in self.users:
                if u.online and u.conn is not None and u.conn.is_open:
                    u.conn.send_nowait(b'{"type":"ping"}')

    async def main(self) -> None:
        keepalive = asyncio.create_task(self._keepalive())
        self.pipe.send(await self.connect_all())
        loop = asyncio.get_running_loop()
        while True:
            command: Any = await loop.run_in_executor(None, self.pipe.recv)
            if command is None:
                break
            await self.run(command)
        keepalive.cancel()
        for u in self.users:
            u.online = False
        await asyncio.gather(*(u.conn.close() for u in self.users if u.conn is not None), return_exceptions=True)


def mixed_entry(plan: MixedPlan, pipe: Connection) -> None:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(MixedWorker(plan, pipe).main())
