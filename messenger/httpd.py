"""The HTTP/1.1 protocol `messenger serve` runs: uvicorn's httptools protocol, bounded.

uvicorn with httptools puts no cap on header size (httptools buffers a header line until it
ends, so one request with a 64 MiB header holds 64 MiB), no deadline on slow headers and no
cap on connections. This subclass adds, per the contract's "Conventions, tightened":

- at most `MAX_HEADER_BYTES` from the end of one request to the end of the next one's headers
  (request line included): bytes are fed to the parser in slices of what is still allowed, so
  the parser never holds more; beyond it, 431 and close;
- headers complete within `HTTP_HEADER_TIMEOUT` seconds of the connection opening or of the
  previous response (trickling bytes does not extend it); else the connection is closed;
- no `Host` or more than one: 400 and close;
- at most `HTTP_MAX_CONNECTIONS` open connections (WebSockets included) per process: one more
  is answered 503 and closed at once, before it costs anything but the accept. There is
  deliberately no per-address cap: behind a load balancer every client has the same address.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any, ClassVar, Literal, TypedDict, cast

import httptools
from uvicorn._types import ASGIReceiveEvent, ASGISendEvent
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from . import settings as settings_mod
from .errors import AppError, BadRequest, Unavailable
from .http import encode
from .realtime.gateway import RAW_SOCKET
from .realtime.peer import Peer

log = logging.getLogger("messenger.httpd")

MAX_HEADER_BYTES = 16 * 1024
# Descriptors kept back from the connection cap for the database pool, Redis, media and logs.
FD_RESERVE = 128


class HeadersTooLarge(AppError):
    status, code, message = 431, "headers_too_large", "Request headers exceed 16 KiB"


def connection_cap(settings: settings_mod.Settings) -> int:
    """HTTP_MAX_CONNECTIONS, or (0, the default) the descriptor limit less a reserve."""
    if settings.http_max_connections > 0:
        return settings.http_max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(32, soft - FD_RESERVE)


def raise_descriptor_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard one (as Synapse does), so the cap can be high."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the descriptor limit from %s to %s: %s", soft, hard, exc)


def _response(exc: AppError) -> bytes:
    body = encode(exc.body())
    return b"".join(
        (
            STATUS_LINE[exc.status],
            b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n" % len(body),
            b"retry-after: 1\r\n\r\n" if exc.status == 503 else b"\r\n",
            body,
        )
    )


_FULL = _response(Unavailable("The server has as many connections as it takes; retry shortly"))
_TOO_LARGE = _response(HeadersTooLarge())
_BAD_HOST = _response(BadRequest("A request needs exactly one Host header"))


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request that was answered and closed."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # Read once per process (each `--workers` process loads its settings the same way).
    _limits: ClassVar[tuple[int, float] | None] = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if BoundedHttpToolsProtocol._limits is None:
            settings = settings_mod.load()
            BoundedHttpToolsProtocol._limits = (connection_cap(settings), float(settings.http_header_timeout))
        self.max_connections, self.header_timeout = BoundedHttpToolsProtocol._limits
        self.refused = False
        # Waiting for (the rest of) a request's headers, and how many more bytes they may take.
        self.awaiting_headers = True
        self.header_budget = MAX_HEADER_BYTES
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio.Protocol's signature. A stream server hands a stream transport; the narrowing is a
        # cast, not an isinstance check, because uvloop's TCPTransport does not subclass
        # asyncio.Transport (it only behaves like one).
        stream = cast(asyncio.Transport, transport)
        if len(self.connections) >= self.max_connections:
            self.transport = stream
            self.refuse(_FULL)
            return
        super().connection_made(stream)
        self.arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        self._unset_keepalive_if_required()
        while data:
            if self.awaiting_headers:
                if self.header_budget <= 0:
                    self.refuse(_TOO_LARGE)
                    return
                chunk, data = data[: self.header_budget], data[self.header_budget :]
                self.header_budget -= len(chunk)
            else:
                chunk, data = data, b""
            try:
                self.parser.feed_data(chunk)
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError:
                if not self.refused:
                    self.logger.warning("Invalid HTTP request received.")
                    self.send_400_response("Invalid HTTP request received.")
                return

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The WebSocket protocol owns the transport from here on and this object is dropped. Its
        # parser holds its callbacks (bound methods of this object): uvicorn breaks that cycle in
        # connection_lost, which an upgraded connection never calls here. Broken now, so the
        # object is freed by reference counting, not left for the collector (messenger/collector.py).
        del self.parser

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self.cancel_header_timer()
        if sum(1 for name, _ in self.headers if name == b"host") != 1:
            self.refuse(_BAD_HOST)
            raise _Refused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # The next request's headers may take a fresh budget from here on.
        self.awaiting_headers = True
        self.header_budget = MAX_HEADER_BYTES
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.awaiting_headers and not self.transport.is_closing():
            self.arm_header_timer()

    def refuse(self, response: bytes) -> None:
        self.refused = True
        self.cancel_header_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def arm_header_timer(self) -> None:
        self.cancel_header_timer()
        self.header_timer = self.loop.call_later(self.header_timeout, self.headers_too_slow)

    def cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def headers_too_slow(self) -> None:
        self.header_timer = None
        if self.awaiting_headers and not self.transport.is_closing():
            self.transport.close()


class _Inbox(asyncio.Queue[ASGIReceiveEvent]):
    """The part of asyncio.Queue uvicorn's WebSocket protocol uses (put_nowait, get, empty), for
    one consumer: asyncio.Queue allocates four deques and an Event per socket (~3.5 KB of an idle
    socket's memory, bench connections); this holds a list only while messages wait."""

    def __init__(self) -> None:  # no super().__init__(): none of its structures are used
        self._items: list[ASGIReceiveEvent] | None = None
        self._getter: asyncio.Future[None] | None = None

    def put_nowait(self, item: ASGIReceiveEvent) -> None:
        if self._items is None:
            self._items = [item]
        else:
            self._items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def get(self) -> ASGIReceiveEvent:
        while self._items is None:
            getter = self._getter = asyncio.get_running_loop().create_future()
            await getter
        items = self._items
        item = items.pop(0)
        if not items:
            self._items = None
        return item

    def empty(self) -> bool:
        return self._items is None

    def qsize(self) -> int:
        return 0 if self._items is None else len(self._items)


class _Flag(asyncio.Event):
    """asyncio.Event without its per-instance deque of waiters (created only when one waits):
    uvicorn keeps one per socket to know whether the transport takes writes."""

    def __init__(self) -> None:  # no super().__init__(): its deque is what this avoids
        self._value = True
        self._flag_waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiters, self._flag_waiters = self._flag_waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> Literal[True]:
        if self._value:
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._flag_waiters is None:
            self._flag_waiters = [waiter]
        else:
            self._flag_waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._flag_waiters is not None and waiter in self._flag_waiters:
                self._flag_waiters.remove(waiter)


class RawWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol plus the `messenger.rawsocket` ASGI extension
    (realtime/gateway.py's RawSocket): the gateway writes pre-framed bytes straight to the
    transport and hears when the transport pauses and resumes. Through the ASGI `send` every
    frame costs a coroutine, a message dict, Starlette's exception wrapper, a frame
    serialization and a syscall, per recipient socket; measured as the largest item of the
    fan-out profile (bench/README.md). Everything else (handshake, receive, close, ping) is
    uvicorn's, with lighter per-socket structures (an idle socket's memory, bench connections)."""

    listener: Peer | None = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.queue = _Inbox()
        self.writable = _Flag()

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if self.handshake_complete and len(self.request.headers):
            # The handshake's request and response are not needed any more. websockets' parser
            # keeps them for the connection's life: their headers (~1.7 KB) go.
            self.request.headers.clear()
            self.response.headers.clear()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            # Set before the ASGI task (created just now) first runs.
            self.scope["extensions"][RAW_SOCKET] = {"socket": self}

    def raw_write(self, data: bytes) -> None:
        if not self.close_sent and not self.transport.is_closing():
            self.transport.write(data)

    def raw_listen(self, peer: Peer | None) -> None:
        self.listener = peer
        if peer is not None and not self.writable.is_set():
            peer.writing_paused()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.listener is not None:
            self.listener.writing_paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.listener is not None:
            self.listener.writing_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # The scope holds this object (handle_connect): without this, every closed socket's
        # objects would form a reference cycle only the collector can free (messenger/collector.py).
        # The gateway took the socket from the scope when the connection started.
        if hasattr(self, "scope"):
            self.scope["extensions"].pop(RAW_SOCKET, None)
        # A frame the parser refused (too large, malformed) is kept as an exception whose
        # traceback holds the parser's frame, which holds the parser: a cycle, dropped here.
        self.conn.parser_exc = None
        listener = self.listener
        if listener is not None:
            # Nothing will be written any more: release whoever waits for the buffer to drain.
            self.listener = None
            listener.writing_resumed()


class ProtocolOptions(TypedDict):
    """uvicorn's protocol options: `messenger serve`'s (cli.py), and the tests' that run the
    server in their own process."""

    http: type[BoundedHttpToolsProtocol]
    h11_max_incomplete_event_size: int
    ws: type[RawWebSocketProtocol]
    ws_max_size: int
    ws_per_message_deflate: bool
    ws_ping_interval: float | None


def protocol_options() -> ProtocolOptions:
    return ProtocolOptions(
        # httptools, with bounded headers, header deadline, Host check and connection cap.
        http=BoundedHttpToolsProtocol,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        # websockets-sansio, with the raw socket extension the gateway writes frames through.
        ws=RawWebSocketProtocol,
        ws_max_size=64 * 1024,
        # Compression would deflate every fan-out frame once per recipient: the opposite of
        # "encode once, write many". Frames are small JSON; the CPU is better spent elsewhere.
        ws_per_message_deflate=False,
        ws_ping_interval=None,  # the app sends its own randomized heartbeats
    )
