"""Client processes: each owns a share of the sockets and runs the phases the parent orders.

The parent (sync code) starts `procs` worker processes (multiprocessing, spawn), each running
a uvloop event loop with its own sockets, and talks to them over a Pipe:

    worker -> ConnectReport                          (all its sockets are authenticated)
    parent -> Phase            worker -> SendReport  (sending stopped, in-flight acks drained)
    parent -> Expect (acked seqs of every chat)      worker -> PhaseResult
    parent -> None (stop)

Latency timestamps are CLOCK_MONOTONIC nanoseconds, which every process on the machine
shares; the intended send time travels inside the message text, so a receiver in another
process computes delivery latency without clock skew. In the open loop, both ack and delivery
latency count from the *intended* send time, so a stalled server is charged for the messages
it kept the client from sending (no coordinated omission).

Exactly-once: each (user, chat) keeps a bitmap of the seqs it received over the socket's
lifetime (a second arrival is a duplicate). After a phase the parent merges every chat's acked
seqs and each worker counts, for its members, acked seqs that never arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

import msgspec

from .client import UNDECODABLE_SAMPLES, HandshakeError, WsConn, describe_undecodable, split_url, ws_connect
from .hist import HistData, Histogram
from .seed import SeedUser

Ranges = list[tuple[int, int]]

# Open-loop scheduling granularity (seconds).
TICK = 0.001


class WorkerPlan(msgspec.Struct):
    index: int
    url: str
    kind: str  # "messenger" | "baseline"
    client: str  # "lean" | "websockets"
    auth: str  # "frame" | "header"
    users: list[SeedUser]
    # (index into users, chat id) for every sender this worker drives.
    senders: list[tuple[int, int]]
    text_size: int = 100
    connect_concurrency: int = 200
    ready_timeout: float = 30.0
    # `--nodes`: every node's URL and, parallel to `users`, the node each user connects to.
    urls: list[str] = []
    nodes: list[int] = []


class ConnectReport(msgspec.Struct):
    connected: int
    failed: int
    errors: dict[str, int]
    seconds: float
    first_ns: int
    last_ns: int
    nofile: int


class Phase(msgspec.Struct):
    mode: str  # "closed" | "open" | "idle"
    t0_ns: int
    duration: float
    warmup: float = 0.0
    rate: float = 0.0  # this worker's share of the offered rate (open loop)
    window: int = 1  # frames in flight per sender (closed loop)
    drain_timeout: float = 10.0
    # Offsets this worker's schedule by a fraction of the interval so workers interleave.
    offset: float = 0.0


class SendReport(msgspec.Struct):
    acked: dict[int, Ranges]


class Expect(msgspec.Struct):
    acked: dict[int, Ranges]
    timeout: float


class PhaseResult(msgspec.Struct):
    sent: int
    sent_window: int
    acked: int
    acked_window: int
    unacked: int
    delivered: int
    delivered_window: int
    missing: int
    duplicates: int
    errors: dict[str, int]
    ack_hist: HistData
    delivery_hist: HistData
    # Deliveries whose sender sat on the receiver's node, and those that crossed nodes.
    same_node_hist: HistData
    cross_node_hist: HistData
    cpu_seconds: float
    wall_seconds: float
    open_sockets: int
    closed_sockets: int
    close_codes: dict[str, int]
    missing_sample: list[tuple[int, int, int]]
    undecodable_sample: list[str] = []


class _Msg(msgspec.Struct):
    seq: int
    chat_id: int | str
    text: str | None = None


class _Frame(msgspec.Struct):
    type: str
    # An object in receive_message and ack frames, the error's text in error frames.
    message: _Msg | str | None = None
    client_msg_id: str | None = None
    code: str | None = None
    ref: str | None = None


_decode_frame = msgspec.json.Decoder(_Frame).decode


def to_ranges(values: list[int]) -> Ranges:
    out: Ranges = []
    for v in sorted(values):
        if out and v <= out[-1][1] + 1:
            if v > out[-1][1]:
                out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def merge_ranges(parts: list[Ranges]) -> Ranges:
    flat = sorted(r for part in parts for r in part)
    out: Ranges = []
    for a, b in flat:
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Sock:
    __slots__ = ("conn", "node", "ready", "seen", "user")

    def __init__(self, user: SeedUser, node: int = 0) -> None:
        self.user = user
        self.node = node
        self.conn: WsConn | None = None
        self.ready: asyncio.Future[None] | None = None
        # chat id -> bitmap of received seqs (index = seq)
        self.seen: dict[int, bytearray] = {c: bytearray(64) for c in user.chats}


class _Worker:
    def __init__(self, plan: WorkerPlan, pipe: Connection) -> None:
        self.plan = plan
        self.pipe = pipe
        self.host, self.port = split_url(plan.url)
        self.addresses = [split_url(u) for u in plan.urls] or [(self.host, self.port)]
        self.multinode = len(self.addresses) > 1
        nodes = plan.nodes or [0] * len(plan.users)
        self.socks = [_Sock(u, n) for u, n in zip(plan.users, nodes, strict=True)]
        self.errors: dict[str, int] = {}
        self.phase: Phase | None = None
        self.t_window = 0
        self.t_end = 0
        self.phase_no = 0
        # The text starts with the intended send time and the sender's node digit.
        self.pad = b"x" * max(0, plan.text_size - 18)
        self.reset()

    def reset(self) -> None:
        self.pending: dict[str, tuple[int, int, int]] = {}  # client_msg_id -> (intended, actual, sender)
        self.ack_hist = Histogram()
        self.delivery_hist = Histogram()
        self.same_node_hist = Histogram()
        self.cross_node_hist = Histogram()
        self.sent = self.sent_window = self.acked = self.acked_window = 0
        self.delivered = self.delivered_window = self.duplicates = 0
        self.acked_seqs: dict[int, list[int]] = {}
        self.errors = {}
        self.undecodable: list[str] = []
        self.counter = 0
        self.on_ack: Callable[[int], None] | None = None
        self.sending = True
        self.drained = asyncio.Event()

    def _error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    # -- frames ----------------------------------------------------------------------------

    def _handler(self, sock: _Sock) -> Callable[[bytes, bool], None]:
        def on_frame(payload: bytes, binary: bool) -> None:
            now = time.monotonic_ns()
            try:
                frame = _decode_frame(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._error("undecodable_frame")
                if len(self.undecodable) < UNDECODABLE_SAMPLES:
                    self.undecodable.append(describe_undecodable(payload, binary, exc))
                return
            kind = frame.type
            if kind == "receive_message":
                msg = frame.message
                if not isinstance(msg, _Msg):
                    self._error("receive_without_message")
                    return
                chat = msg.chat_id if isinstance(msg.chat_id, int) else int(msg.chat_id)
                bitmap = sock.seen.get(chat)
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
                text = msg.text
                if text is not None and len(text) >= 16 and text[16:17] == " ":
                    intended = int(text[:16], 16)
                    if self.t_window <= intended < self.t_end:
                        self.delivered_window += 1
                        latency = (now - intended) // 1000
                        self.delivery_hist.record(latency)
                        if self.multinode:
                            same = text[17:18] == str(sock.node)
                            (self.same_node_hist if same else self.cross_node_hist).record(latency)
            elif kind == "ack":
                cmid = frame.client_msg_id
                entry = self.pending.pop(cmid, None) if cmid is not None else None
                if entry is None:
                    self._error("unexpected_ack")
                    return
                intended, actual, sender = entry
                self.acked += 1
                if isinstance(frame.message, _Msg):
                    raw_chat = frame.message.chat_id
                    self.acked_seqs.setdefault(int(raw_chat), []).append(frame.message.seq)
                if self.t_window <= intended < self.t_end:
                    self.acked_window += 1
                    phase = self.phase
                    start = intended if phase is not None and phase.mode == "open" else actual
                    self.ack_hist.record((now - start) // 1000)
                if self.on_ack is not None:
                    self.on_ack(sender)
                if not self.sending and not self.pending:
                    self.drained.set()
            elif kind == "ready":
                if sock.ready is not None and not sock.ready.done():
                    sock.ready.set_result(None)
            elif kind == "error":
                self._error(f"error:{frame.code}")
                ref = frame.ref
                if ref is not None and self.pending.pop(ref, None) is not None:
                    if self.on_ack is not None:
                        self.on_ack(-1)
                    if not self.sending and not self.pending:
                        self.drained.set()
            # typing, read, presence, pong, member_added ... are not what the bench measures

        return on_frame

    # -- connecting ------------------------------------------------------------------------

    async def _connect_one(self, sock: _Sock, gate: asyncio.Semaphore, stamps: list[int]) -> None:
        plan = self.plan
        async with gate:
            loop = asyncio.get_running_loop()
            sock.ready = loop.create_future()
            headers: dict[str, str] = {}
            if plan.kind == "baseline":
                path = f"/v1/ws?user={sock.user.id}&chats={','.join(map(str, sock.user.chats))}"
            else:
                path = "/v1/ws"
                if plan.auth == "header":
                    headers["Authorization"] = f"Bearer {sock.user.token}"
            host, port = self.addresses[sock.node]
            try:
                conn = await ws_connect(plan.client, host, port, path, self._handler(sock), headers=headers)
                sock.conn = conn
                if plan.kind != "baseline" and plan.auth == "frame":
                    await conn.send(b'{"type":"auth","token":"%s"}' % sock.user.token.encode())
                waits: list[asyncio.Future[Any]] = [sock.ready, conn.closed]
                await asyncio.wait(waits, timeout=plan.ready_timeout, return_when=asyncio.FIRST_COMPLETED)
                if not sock.ready.done():
                    code = conn.closed.result() if conn.closed.done() else "timeout"
                    raise ConnectionError(f"no ready frame (close {code})")
                stamps.append(time.monotonic_ns())
            except HandshakeError as exc:
                self._error(f"handshake_{exc.status}")
                sock.conn = None
            except (OSError, ConnectionError, TimeoutError) as exc:
                self._error(f"connect:{type(exc).__name__}:{str(exc)[:60]}")
                sock.conn = None

    async def connect_all(self) -> ConnectReport:
        from .server import raise_nofile

        nofile = raise_nofile()
        gate = asyncio.Semaphore(self.plan.connect_concurrency)
        stamps: list[int] = []
        start = time.monotonic_ns()
        await asyncio.gather(*(self._connect_one(s, gate, stamps) for s in self.socks))
        ok = sum(1 for s in self.socks if s.conn is not None)
        errors = dict(self.errors)
        self.errors = {}
        return ConnectReport(
            ok,
            len(self.socks) - ok,
            errors,
            (time.monotonic_ns() - start) / 1e9,
            min(stamps, default=start),
            max(stamps, default=start),
            nofile,
        )

    # -- phases ----------------------------------------------------------------------------

    def _send(self, sender: int, intended: int) -> None:
        user_index, chat = self.plan.senders[sender]
        sock = self.socks[user_index]
        conn = sock.conn
        if conn is None or not conn.is_open:
            self._error("sender_socket_closed")
            return
        self.counter += 1
        cmid = f"{self.plan.index:08x}-{self.phase_no & 0xFFFF:04x}-4000-8000-{self.counter:012x}"
        text = b"%016x %d" % (intended, sock.node) + self.pad
        now = time.monotonic_ns()
        self.pending[cmid] = (intended, now, sender)
        conn.send_nowait(
            b'{"type":"send_message","chat_id":%d,"client_msg_id":"%s","text":"%s"}' % (chat, cmid.encode(), text)
        )
        self.sent += 1
        if intended >= self.t_window:
            self.sent_window += 1

    async def _closed_loop(self, phase: Phase) -> None:
        def on_ack(sender: int) -> None:
            if sender >= 0 and time.monotonic_ns() < self.t_end:
                self._send(sender, time.monotonic_ns())

        self.on_ack = on_ack
        for sender in range(len(self.plan.senders)):
            for _ in range(phase.window):
                self._send(sender, time.monotonic_ns())
        await asyncio.sleep(max(0.0, (self.t_end - time.monotonic_ns()) / 1e9))

    async def _open_loop(self, phase: Phase) -> None:
        n = len(self.plan.senders)
        if not n or phase.rate <= 0:
            await asyncio.sleep(max(0.0, (self.t_end - time.monotonic_ns()) / 1e9))
            return
        interval = 1e9 / phase.rate
        start = phase.t0_ns + int(phase.offset * interval)
        k = 0
        while True:
            now = time.monotonic_ns()
            if now >= self.t_end:
                break
            due = int((now - start) / interval) + 1
            while k < due:
                intended = start + int(k * interval)
                if intended >= self.t_end:
                    break
                self._send(k % n, intended)
                k += 1
            next_at = start + int(k * interval)
            # The event loop's timers have 1 ms resolution: a shorter sleep returns at once and
            # the loop would spin. Sends due meanwhile go out together on the next tick, and
            # their latency still counts from their intended time.
            await asyncio.sleep(max(TICK, (next_at - time.monotonic_ns()) / 1e9))

    async def run_phase(self, phase: Phase) -> None:
        self.reset()
        self.phase = phase
        self.phase_no += 1
        self.t_window = phase.t0_ns + int(phase.warmup * 1e9)
        self.t_end = phase.t0_ns + int(phase.duration * 1e9)
        cpu0 = _cpu()
        await asyncio.sleep(max(0.0, (phase.t0_ns - time.monotonic_ns()) / 1e9))
        wall0 = time.monotonic_ns()
        if phase.mode == "closed":
            await self._closed_loop(phase)
        elif phase.mode == "open":
            await self._open_loop(phase)
        else:
            await asyncio.sleep(max(0.0, (self.t_end - time.monotonic_ns()) / 1e9))
        # Let in-flight sends finish: acks (or errors) for everything sent.
        self.sending = False
        if self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drained.wait(), phase.drain_timeout)
        self.on_ack = None
        unacked = len(self.pending)
        acked = {chat: to_ranges(seqs) for chat, seqs in self.acked_seqs.items()}
        loop = asyncio.get_running_loop()
        self.pipe.send(SendReport(acked))
        expect: Expect = await loop.run_in_executor(None, self.pipe.recv)
        missing, sample = self._missing(expect.acked)
        deadline = time.monotonic() + expect.timeout
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            missing, sample = self._missing(expect.acked)
        wall = (time.monotonic_ns() - wall0) / 1e9
        codes: dict[str, int] = {}
        open_sockets = closed = 0
        for s in self.socks:
            if s.conn is None:
                continue
            if s.conn.is_open:
                open_sockets += 1
            else:
                closed += 1
                code = str(s.conn.closed.result()) if s.conn.closed.done() else "?"
                codes[code] = codes.get(code, 0) + 1
        self.pipe.send(
            PhaseResult(
                self.sent,
                self.sent_window,
                self.acked,
                self.acked_window,
                unacked,
                self.delivered,
                self.delivered_window,
                missing,
                self.duplicates,
                self.errors,
                self.ack_hist.data(),
                self.delivery_hist.data(),
                self.same_node_hist.data(),
                self.cross_node_hist.data(),
                _cpu() - cpu0,
                wall,
                open_sockets,
                closed,
                codes,
                sample,
                self.undecodable,
            )
        )

    def _missing(self, acked: dict[int, Ranges]) -> tuple[int, list[tuple[int, int, int]]]:
        missing = 0
        sample: list[tuple[int, int, int]] = []
        for s in self.socks:
            if s.conn is None:
                continue
            for chat, bitmap in s.seen.items():
                for a, b in acked.get(chat, ()):
                    if b >= len(bitmap):
                        bitmap.extend(bytes(b + 1 - len(bitmap)))
                    got = bitmap.count(1, a, b + 1)
                    if got != b - a + 1:
                        missing += b - a + 1 - got
                        if len(sample) < 5:
                            first = next(q for q in range(a, b + 1) if not bitmap[q])
                            sample.append((s.user.id, chat, first))
        return missing, sample

    async def _keepalive(self, every: float = 20.0) -> None:
        """Ping every socket now and then, as a real client does: the server closes sockets
        that stay silent (WS_IDLE_TIMEOUT), and connecting 20,000 of them takes a while."""
        while True:
            await asyncio.sleep(every)
            for s in self.socks:
                if s.conn is not None and s.conn.is_open:
                    s.conn.send_nowait(b'{"type":"ping"}')

    async def main(self) -> None:
        keepalive = asyncio.create_task(self._keepalive())
        report = await self.connect_all()
        self.pipe.send(report)
        loop = asyncio.get_running_loop()
        while True:
            command: Any = await loop.run_in_executor(None, self.pipe.recv)
            if command is None:
                break
            await self.run_phase(command)
        keepalive.cancel()
        await asyncio.gather(*(s.conn.close() for s in self.socks if s.conn is not None), return_exceptions=True)


def _worker_entry(plan: WorkerPlan, pipe: Connection) -> None:
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_Worker(plan, pipe).main())


class Fleet:
    """The parent's handle on the client processes."""

    def __init__(self, plans: Sequence[Any], entry: Callable[[Any, Connection], None] | None = None) -> None:
        """One process per plan running `entry(plan, pipe)` (the message scenarios' worker by default)."""
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for plan in plans:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=entry or _worker_entry, args=(plan, child), daemon=True)
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def recv(self, pipe: Connection, timeout: float) -> Any:
        return self._recv(pipe, timeout)

    def _recv(self, pipe: Connection, timeout: float) -> Any:
        if not pipe.poll(timeout):
            raise RuntimeError("a client process did not answer in time")
        try:
            return pipe.recv()
        except EOFError:
            raise RuntimeError("a client process died (see its traceback above)") from None

    def connect(self, timeout: float = 600) -> list[ConnectReport]:
        return [self._recv(p, timeout) for p in self.pipes]

    def start(self, phases: list[Phase]) -> None:
        """Hand each worker its phase (they all start at the phases' shared t0_ns)."""
        for pipe, phase in zip(self.pipes, phases, strict=True):
            pipe.send(phase)

    def finish(self, phases: list[Phase], expect_timeout: float = 10.0) -> list[PhaseResult]:
        """Collect the acked seqs, hand every worker the merged view, collect the results."""
        budget = max(p.duration + p.drain_timeout for p in phases) + 60
        sends: list[SendReport] = [self._recv(p, budget) for p in self.pipes]
        chats: dict[int, list[Ranges]] = {}
        for report in sends:
            for chat, ranges in report.acked.items():
                chats.setdefault(chat, []).append(ranges)
        merged = Expect({chat: merge_ranges(parts) for chat, parts in chats.items()}, expect_timeout)
        for pipe in self.pipes:
            pipe.send(merged)
        return [self._recv(p, expect_timeout + 120) for p in self.pipes]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self.procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join()
