"""Group commit for WebSocket sends: one writer task per node, one transaction per batch.

Layer: realtime (it calls the domain's `messages.send_batch` through the `SendBatch` it is given).

Requests that arrive while a batch is committing wait and go together in the next one, so the
cost of a commit (and of the event-stream row lock, see sql/schema/0002_events.sql) is shared by
everything that arrived meanwhile. There is no timer: an idle writer starts a batch at once, so a
single message is not delayed at low load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from prometheus_client import Counter, Histogram

from ..errors import AppError, Unavailable
from ..messages import SendRequest, SendResult
from ..observability import REGISTRY

log = logging.getLogger("messenger.writer")

SendBatch = Callable[[Sequence[SendRequest]], Awaitable[list[SendResult]]]
Done = Callable[[SendResult], None]

MAX_BATCH: Final = 512

BATCH_SIZE = Histogram(
    "messenger_group_commit_batch_size",
    "WebSocket sends committed per transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)

SENDS = Counter("messenger_ws_sends", "WebSocket sends committed (group commit)", registry=REGISTRY)
COMMIT_SECONDS = Histogram(
    "messenger_group_commit_seconds",
    "Time to commit one batch of WebSocket sends (transaction and fan-out hand-off)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)


class GroupCommitWriter:
    def __init__(self, send_batch: SendBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._send_batch = send_batch
        self.max_batch = max_batch
        self._queue: list[tuple[SendRequest, Done]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._inflight = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    def submit(self, request: SendRequest, done: Done) -> None:
        """Queue a send; `done` is called with its result after commit (or with its error)."""
        if self._closing:
            done(Unavailable("The server is shutting down; resend after reconnecting", code="shutting_down"))
            return
        self._queue.append((request, done))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[SendRequest, Done]]) -> None:
        self._inflight += 1
        started = time.perf_counter()
        try:
            results = await self._send_batch([request for request, _ in batch])
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing of the batch is acknowledged; clients resend with the same client_msg_id.
            log.exception("send batch of %d failed", len(batch))
            error: SendResult = AppError("Sending failed; retry with the same client_msg_id", code="send_failed")
            results = [error] * len(batch)
        finally:
            self._inflight -= 1
            COMMIT_SECONDS.observe(time.perf_counter() - started)
        SENDS.inc(len(batch))
        BATCH_SIZE.observe(len(batch))
        for (_, done), result in zip(batch, results, strict=True):
            try:
                done(result)
            except Exception:
                log.exception("send completion callback failed")

    async def close(self) -> None:
        """Commit everything queued (drain), then stop."""
        self._closing = True
        for _ in range(200):
            if not self._queue and not self._inflight:
                break
            await asyncio.sleep(0.05)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
