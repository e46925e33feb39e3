"""The WebSocket gateway, GET /v1/ws, on the raw ASGI interface (docs/protocol.md).

Layer: realtime (the socket edge). One connection = this module's `Connection`: authentication
comes first, then the receive loop (rate limit, decode, dispatch) runs in the ASGI task. Frames
leave through the socket's peer (peer.Peer), which writes wire bytes straight to the transport
through the `messenger.rawsocket` extension of the server's WebSocket protocol (httpd.py), once
per socket per loop turn; under another ASGI server a writer task feeds them to the ASGI `send`.
The hub decides what goes to a peer; this module never touches fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import msgspec
from starlette.types import Receive, Scope, Send

from .. import chats, events
from ..db import Database, Q
from ..errors import AppError, ErrorBody, ErrorResponse
from ..messages import SendRequest, Sent
from ..model import Forward
from ..observability import WS_CONNECTIONS
from ..parse import ascii_int
from ..settings import Settings
from ..tokens import Principal, TokenSigner
from . import frames
from .broker import ChatSignal
from .hub import Hub, ResumeLate
from .peer import CLOSE_INTERNAL, GONE, HOLD, Peer
from .readmarks import ReadMarkerWriter
from .writer import GroupCommitWriter

log = logging.getLogger("messenger.ws")

AUTH_TIMEOUT: Final = 10.0
# Close codes (docs/protocol.md).
CLOSE_UNAUTHORIZED: Final = 4001
CLOSE_POLICY: Final = 1008
CLOSE_IDLE: Final = 1001
# Rejected frames in a row (while the bucket is empty) before the socket is closed.
STRIKES: Final = 20
TYPING_INTERVAL: Final = 2.5


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def origin_allowed(scope: Scope, allowed: tuple[str, ...], public_url: str) -> bool:
    """No Origin: a non-browser client. Otherwise exact match with the server's own origin
    (the Host it was reached at, or PUBLIC_URL) or an entry of ALLOWED_ORIGINS."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    origin = origin.rstrip("/").lower()
    if "*" in allowed or origin in (o.lower() for o in allowed):
        return True
    host = _header(scope, b"host")
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    if host is not None and origin == f"{scheme}://{host}".lower():
        return True
    public = urlsplit(public_url)
    return origin == f"{public.scheme}://{public.netloc}".lower()


# The ASGI extension httpd.py's WebSocket protocol offers: {"socket": <RawSocket>}.
RAW_SOCKET: Final = "messenger.rawsocket"


class RawSocket(Protocol):
    """Direct access to the socket under an ASGI WebSocket (httpd.py implements it): the hot
    path writes frames already framed for the wire (frames.wire_*) straight to the transport,
    without a coroutine, a dict and a frame serialization per frame and socket."""

    def raw_write(self, data: bytes) -> None:
        """Write wire bytes now (nothing once the socket is closing)."""

    def raw_listen(self, peer: Peer | None) -> None:
        """Tell `peer` when the transport pauses and resumes writing, at once if it is paused
        now (None: stop telling)."""


class Services(Protocol):
    """What the gateway reads from the app's service container (`app.state.services`)."""

    settings: Settings
    db: Database
    signer: TokenSigner
    hub: Hub
    writer: GroupCommitWriter
    read_markers: ReadMarkerWriter


class Gateway:
    """The ASGI app mounted at /v1/ws."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        hub = services.hub
        if not origin_allowed(scope, services.settings.allowed_origins, services.settings.public_url):
            await _refuse(scope, send, 403, "forbidden_origin", "Origin not allowed")
            return
        if not hub.accepting:
            await _refuse(scope, send, 503, "unavailable", "The server is restarting; reconnect")
            return
        binary = frames.MSGPACK_SUBPROTOCOL in scope.get("subprotocols", ())
        await send({"type": "websocket.accept", "subprotocol": frames.MSGPACK_SUBPROTOCOL if binary else None})
        WS_CONNECTIONS.inc()
        try:
            principal = await _authenticate(services, scope, receive, send)
            if principal is not None:
                raw = scope["extensions"].get(RAW_SOCKET) if "extensions" in scope else None
                socket = raw.get("socket") if isinstance(raw, dict) else None
                await Connection(services, hub, receive, send, principal, binary, socket).run(principal)
        finally:
            WS_CONNECTIONS.dec()


async def _refuse(scope: Scope, send: Send, status: int, code: str, text: str) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        body = msgspec.json.encode(ErrorResponse(ErrorBody(code, text)))
        await send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})


async def _close_now(send: Send, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code, "reason": reason})


async def _authenticate(services: Services, scope: Scope, receive: Receive, send: Send) -> Principal | None:
    """The bearer token of the upgrade request, or else a first `auth` frame (close 4001 if not)."""
    header = _header(scope, b"authorization")
    token: str | None = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if token is None:
        try:
            message = await asyncio.wait_for(receive(), AUTH_TIMEOUT)
        except TimeoutError:
            await _close_now(send, CLOSE_UNAUTHORIZED, "authentication timeout")
            return None
        if message["type"] != "websocket.receive":
            return None
        try:
            frame = frames.decode(_data(message))
        except frames.DECODE_ERRORS:
            frame = None
        if not isinstance(frame, frames.Auth):
            await _close_now(send, CLOSE_UNAUTHORIZED, "authenticate first: {type: auth, token}")
            return None
        token = frame.token
    try:
        return services.signer.verify_access(token)
    except AppError as exc:
        await _close_now(send, CLOSE_UNAUTHORIZED, exc.code)
        return None


def _data(message: Mapping[str, Any]) -> str | bytes:
    text: str | None = message.get("text")
    return text if text is not None else (message.get("bytes") or b"")


class Connection:
    """An authenticated socket: its peer in the hub (which writes through this object) and the
    receive loop. With the raw socket extension there is no other task while the socket lives;
    a task exists only to send the close frame, and, without the extension, to send a backlog."""

    __slots__ = (
        "_backlog",
        "_closer",
        "_ended_by_closer",
        "_heartbeat",
        "_main",
        "_writer",
        "burst",
        "hub",
        "last_rx",
        "peer",
        "rate",
        "raw",
        "receive",
        "refilled",
        "send",
        "services",
        "strikes",
        "tokens",
    )

    def __init__(
        self,
        services: Services,
        hub: Hub,
        receive: Receive,
        send: Send,
        principal: Principal,
        binary: bool,
        raw: RawSocket | None,
    ) -> None:
        self.services = services
        self.hub = hub
        self.receive = receive
        self.send = send
        self.raw = raw
        settings = services.settings
        self.rate = float(settings.ws_frame_rate)
        self.burst = float(settings.ws_frame_burst)
        self.tokens = self.burst
        self.refilled = time.monotonic()
        self.strikes = 0
        self.last_rx = self.refilled
        self._main: asyncio.Task[Any] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._ended_by_closer = False
        self._heartbeat: asyncio.TimerHandle | None = None
        # Without the raw socket extension: wire bytes waiting for the ASGI `send`, and its task.
        self._backlog: deque[bytes] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.peer = Peer(principal.user_id, principal.session_id, binary, settings.ws_queue_limit, self)
        if raw is not None:
            raw.raw_listen(self.peer)

    # -- life cycle --------------------------------------------------------------------------

    async def run(self, principal: Principal) -> None:
        peer = self.peer
        cursor = self.hub.attach(peer)
        self._main = asyncio.current_task()
        try:
            # Checked after attach, so a session ended meanwhile is caught either here or by
            # the hub's end_sessions.
            try:
                owner = await self.services.db.fetchval(Q.session_is_live, principal.session_id)
            except Exception:
                log.exception("session check failed")
                await _close_now(self.send, CLOSE_INTERNAL, "internal error: reconnect")
                return
            if owner != principal.user_id:
                await _close_now(self.send, CLOSE_UNAUTHORIZED, "session_ended")
                return
            # `ready` means subscribed: the user's chats are known, so typing, presence and
            # read frames of their chats reach this socket from here on.
            if peer.user is not None and not peer.user.loaded:
                await peer.user.wait_loaded()
            online: list[int] = []
            if not peer.closed:
                # Taken once subscribed: a change after it arrives as a `presence` frame after ready.
                try:
                    online = await self.hub.presence_snapshot(peer.user_id)
                except Exception:
                    log.exception("presence snapshot failed")
            if peer.closed:  # e.g. the memberships could not be loaded (closing 1011)
                await self._send_close()
                return
            # `ready` goes first, then whatever was pushed meanwhile; writes start here.
            self.hub.send_ready(
                peer, frames.wire(frames.Ready(peer.user_id, events.encode_cursor(cursor), online), peer.binary)
            )
            self._schedule_heartbeat()
            try:
                await self._read_loop()
            except asyncio.CancelledError:
                if not self._ended_by_closer:
                    raise
        finally:
            self.hub.detach(peer)
            if self.raw is not None:
                self.raw.raw_listen(None)
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            for task in (self._closer, self._writer):
                if task is not None and not task.done() and task is not asyncio.current_task():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            # The peer and this object point at each other; broken so both are freed by
            # reference counting when the socket's task ends (messenger/collector.py).
            peer.sink = GONE

    # -- peer.Sink: the hub's peer writes through these ----------------------------------------

    def write(self, data: bytes) -> None:
        raw = self.raw
        if raw is not None:
            raw.raw_write(data)
            return
        # Another ASGI server: its `send` takes one payload at a time and must be awaited. The
        # peer counts as paused while a backlog waits, so its limit still bounds what is held.
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.append(data)
        self.peer.writing_paused()
        if self._writer is None:
            self._writer = asyncio.create_task(self._send_backlog(), name=f"ws-writer-{self.peer.id}")

    def close_requested(self) -> None:
        # Before `ready` the run coroutine sends the close itself.
        if self.peer.started and self._closer is None:
            self._closer = asyncio.create_task(self._close(), name=f"ws-close-{self.peer.id}")

    async def _send_backlog(self) -> None:
        backlog = self._backlog
        send = self.send
        assert backlog is not None
        try:
            while True:
                while backlog:
                    for binary, payload in frames.unwire(backlog.popleft()):
                        if binary:
                            await send({"type": "websocket.send", "bytes": payload})
                        else:
                            await send({"type": "websocket.send", "text": payload.decode()})
                self.peer.writing_resumed()  # may write (append) again
                if not backlog:
                    break
        except (OSError, RuntimeError):
            pass  # the socket is gone; the read loop sees the disconnect
        finally:
            self._writer = None

    async def _close(self) -> None:
        try:
            await self._send_close()
        finally:
            # Nothing more to read once the close is sent (or the socket broke).
            main = self._main
            if main is not None and not main.done():
                self._ended_by_closer = True
                main.cancel()

    async def _send_close(self) -> None:
        peer = self.peer
        code, reason = peer.close_reason or (1000, "")
        try:
            # A stuck client may never drain its buffer: do not wait on it for ever.
            async with asyncio.timeout(10):
                await peer.wait_below(1)  # what a flushing close keeps goes out first
                writer = self._writer
                if writer is not None:
                    await writer
                await self.send({"type": "websocket.close", "code": code, "reason": reason})
        except (OSError, RuntimeError, TimeoutError):
            pass  # the socket is gone; the read loop sees the disconnect

    def _schedule_heartbeat(self) -> None:
        interval = self.services.settings.ws_heartbeat
        self._heartbeat = asyncio.get_running_loop().call_later(
            interval * random.uniform(0.8, 1.2), self._beat, interval
        )

    def _beat(self, interval: int) -> None:
        peer = self.peer
        if peer.closed:
            return
        if time.monotonic() - self.last_rx > self.services.settings.ws_idle_timeout:
            peer.close(CLOSE_IDLE, "idle timeout: send ping at least every 30 s")
            return
        peer.push(frames.wire(frames.Heartbeat(interval), peer.binary), True)
        self._schedule_heartbeat()

    # -- frames ------------------------------------------------------------------------------

    def _reply(self, frame: msgspec.Struct) -> None:
        self.peer.push(frames.wire(frame, self.peer.binary))

    def _error(self, code: str, message: str, ref: frames.Ref = None) -> None:
        self._reply(frames.Error(code, message, ref))

    async def _read_loop(self) -> None:
        peer = self.peer
        receive = self.receive
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect (1009 for an oversized frame is sent by the server)
            now = time.monotonic()
            self.last_rx = now
            if not self._allow(now):
                continue
            data = _data(message)
            try:
                frame = frames.decode(data)
            except frames.DECODE_ERRORS as exc:
                raw = frames.decode_any(data)
                ref = raw.get("ref") if isinstance(raw, dict) else None
                if not isinstance(ref, str | int) or isinstance(ref, bool):
                    ref = None
                self._error("bad_frame", str(exc), ref)
                if peer.mode == HOLD:
                    peer.go_live()
                continue
            if peer.mode == HOLD and not isinstance(frame, frames.Resume):
                # The first frame is not a resume: no reason to hold live events any longer.
                peer.go_live()
            await self._dispatch(frame)

    def _allow(self, now: float) -> bool:
        """Token bucket per socket: `rate_limited` errors, then 1008 if the flood goes on."""
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        if self.strikes > STRIKES:
            self.peer.close(CLOSE_POLICY, "rate limit exceeded", flush=True)
        else:
            self._error("rate_limited", f"More than {int(self.rate)} frames per second; slow down")
        return False

    async def _dispatch(self, frame: frames.ClientFrame) -> None:
        match frame:
            case frames.SendMessage():
                self._send_message(frame)
            case frames.Typing(chat_id=chat_id, ref=ref):
                await self._typing(chat_id, ref)
            case frames.Read(chat_id=chat_id, seq=seq, ref=ref):
                self._read(chat_id, seq, ref)
            case frames.Resume(cursor=cursor, ref=ref):
                await self._resume(cursor, ref)
            case frames.Ping(ref=ref):
                self._reply(frames.Pong(ref))
            case frames.Auth(ref=ref):
                self._error("bad_frame", "Already authenticated", ref)

    def _send_message(self, frame: frames.SendMessage) -> None:
        peer = self.peer
        request = SendRequest(
            sender_id=peer.user_id,
            chat_id=frame.chat_id,
            client_msg_id=frame.client_msg_id,
            text=frame.text,
            reply_to_id=frame.reply_to_id,
            attachment_ids=frame.attachment_ids,
            forward=Forward(frame.forward.chat_id, frame.forward.message_id) if frame.forward is not None else None,
        )
        client_msg_id = frame.client_msg_id

        def done(result: Sent | AppError) -> None:
            if isinstance(result, AppError):
                self._error(result.code, result.message, client_msg_id)
            else:
                self._reply(frames.Ack(client_msg_id, result.message))

        self.services.writer.submit(request, done)

    async def _typing(self, chat_id: int, ref: frames.Ref) -> None:
        peer = self.peer
        if not await self.hub.is_member(peer, chat_id):
            self._error("not_found", "Chat not found", ref)
            return
        if not self.hub.typing_due(peer.user_id, chat_id, TYPING_INTERVAL):
            return
        encoded = frames.encode(frames.TypingNotice(chat_id, peer.user_id))
        self.hub.chat_signal(ChatSignal(self.hub.node_id, chat_id, encoded.text, encoded.binary, peer.user_id, True))

    def _read(self, chat_id: int, seq: int, ref: frames.Ref) -> None:
        # Committed with the other markers of this loop turn (readmarks.py); the frame has no
        # reply but its error, which comes after the commit like an ack would.
        def done(result: chats.ReadResult) -> None:
            if result is not None:
                self._error(result.code, result.message, ref)

        self.services.read_markers.submit(chats.ReadRequest(chat_id, self.peer.user_id, seq, origin=self.peer), done)

    async def _resume(self, cursor: str | int, ref: frames.Ref) -> None:
        peer = self.peer
        # ASCII digits only (an integer cursor as well): anything else is a malformed frame.
        position = ascii_int(cursor) if isinstance(cursor, str) else (cursor if cursor >= 0 else None)
        if position is None:
            self._error("bad_frame", "cursor must be a cursor from ready or sync (ASCII digits)", ref)
            return
        try:
            await self.hub.resume(peer, position)
        except ResumeLate:
            self._error(
                "resume_late",
                "resume must come before live events are delivered (send it right after ready); "
                "reconnect to resume from an older cursor",
                ref,
            )
        except AppError as exc:
            self._error(exc.code, exc.message, ref)
