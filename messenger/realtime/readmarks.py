"""Group commit for read markers: every marker of a loop turn in one statement, one commit.

Layer: realtime (it calls the domain's `chats.mark_read_batch` through the `MarkBatch` it is
given). The WebSocket `read` frame and `POST /v1/chats/{id}/read` both come through here.

Read markers are most of what a realistic client sends (every message someone reads moves one),
and alone each is a commit of its own: a WAL flush and a transaction's fixed cost for one row.
Markers that arrive in the same loop turn, or while the previous batch commits, go to the
database together as one statement (see `mark_read_batch` in sql/chats.sql). As with sends
(writer.py) there is no timer: a batch starts at the end of the loop turn that queued its first
marker, so a lone marker is not delayed.

One batch is in flight at a time, so batches commit, and their `read` frames go out, in the
order they were taken: a (user, chat) marker that moves twice in a row is announced in the
order it moved, never the higher value first. Each request learns its own outcome only after
the commit (`done`, or `mark` returning).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from prometheus_client import Counter, Histogram

from ..chats import ReadRequest, ReadResult
from ..errors import Unavailable
from ..observability import REGISTRY

log = logging.getLogger("messenger.readmarks")

MarkBatch = Callable[[Sequence[ReadRequest]], Awaitable[list[ReadResult]]]
Done = Callable[[ReadResult], None]

MAX_BATCH: Final = 1024

BATCH_SIZE = Histogram(
    "messenger_read_marker_batch_size",
    "Read markers (WebSocket and REST) committed per statement",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
    registry=REGISTRY,
)
MARKERS = Counter("messenger_read_markers", "Read-marker requests committed (group commit)", registry=REGISTRY)
COMMIT_SECONDS = Histogram(
    "messenger_read_marker_commit_seconds",
    "Time to commit one batch of read markers (statement and `read` frames hand-off)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)


class ReadMarkerWriter:
    def __init__(self, mark_batch: MarkBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._mark_batch = mark_batch
        self.max_batch = max_batch
        self._queue: list[tuple[ReadRequest, Done]] = []
        self._task: asyncio.Task[None] | None = None
        self._scheduled = False
        self._closing = False

    def submit(self, request: ReadRequest, done: Done) -> None:
        """Queue a marker; `done` is called with its outcome after commit (None: accepted)."""
        if self._closing:
            done(Unavailable("The server is shutting down; try again after reconnecting", code="shutting_down"))
            return
        self._queue.append((request, done))
        self._schedule()

    async def mark(self, request: ReadRequest) -> None:
        """Queue a marker and wait for its commit; raises the request's own error."""
        outcome: asyncio.Future[ReadResult] = asyncio.get_running_loop().create_future()

        def done(result: ReadResult) -> None:
            if not outcome.done():
                outcome.set_result(result)

        self.submit(request, done)
        error = await outcome
        if error is not None:
            raise error

    def _schedule(self) -> None:
        # At the end of this loop turn, so markers read in the same turn (many sockets' frames)
        # share a batch instead of the first one going alone.
        if not self._scheduled and self._task is None:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        if self._task is not None or not self._queue:
            return
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        self._task = asyncio.create_task(self._commit(batch), name="read-markers")

    async def _commit(self, batch: list[tuple[ReadRequest, Done]]) -> None:
        started = time.perf_counter()
        try:
            results = await self._mark_batch([request for request, _ in batch])
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing of the batch is known to be committed; a marker is safe to send again.
            log.exception("read-marker batch of %d failed", len(batch))
            failed: ReadResult = Unavailable("Marking read failed; try again", code="read_failed")
            results = [failed] * len(batch)
        finally:
            COMMIT_SECONDS.observe(time.perf_counter() - started)
            self._task = None
            if self._queue:
                self._schedule()
        MARKERS.inc(len(batch))
        BATCH_SIZE.observe(len(batch))
        for (_, done), result in zip(batch, results, strict=True):
            try:
                done(result)
            except Exception:
                log.exception("read-marker completion callback failed")

    async def close(self) -> None:
        """Commit everything queued (drain), then refuse new markers."""
        self._closing = True
        while self._queue or self._task is not None or self._scheduled:
            task = self._task
            if task is not None:
                await asyncio.wait([task])
            else:
                await asyncio.sleep(0)  # the scheduled dispatch runs
