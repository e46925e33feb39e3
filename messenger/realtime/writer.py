"""Group commit for WebSocket sends: batches of what arrived, several transactions in flight.

Layer: realtime (it calls the domain's `messages.send_batch` through the `SendBatch` it is given).

Requests that arrive within one turn of the event loop go together in one batch, one
transaction, so the cost of a commit (and of the event-stream row lock, see
sql/schema/0002_events.sql) is shared. There is no timer: the batch starts at the end of the
loop turn that queued its first request, so a single message is not delayed at low load.

Pipelining: up to `max_inflight` batches commit at once, each on its own connection. A commit
is mostly the wait for the WAL flush (fsync), and PostgreSQL flushes concurrent commits
together, so a request that arrives while one batch commits starts its own at once instead of
waiting a whole commit for its turn. Two rules keep what a single serial writer guaranteed:

- A chat is in at most one batch in flight. Its later requests wait, in arrival order, for the
  next batch after that one, so a sender's messages in one chat get `seq`s in the order they
  were sent (the database alone would order two concurrent batches of one chat arbitrarily).
- Each batch publishes after its own commit, without waiting for the others. Event positions
  are taken at commit (the event-stream row lock), and the hub delivers in position order
  whatever order the batches publish in.

Acks before the fan-out: what `send_batch` leaves for after the acks (the hub publish, then the
notification job's enqueue, a Redis round trip with arq) runs in that order once the batch's
acks are handed out and written, its slot already free for the next batch. So an ack waits for
its commit only, not for delivering the batch to every member's socket. Each piece's failure is
logged and the next still runs (a publish that failed is made up by the hub's poll of the
stream head); `close` waits for all of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from prometheus_client import Counter, Histogram

from ..errors import AppError, Unavailable
from ..messages import SendRequest, SendResult
from ..observability import REGISTRY

log = logging.getLogger("messenger.writer")

# (requests, after_acks): results in request order; work appended to after_acks is awaited
# once the results are handed out.
SendBatch = Callable[[Sequence[SendRequest], list[Awaitable[None]]], Awaitable[list[SendResult]]]
Done = Callable[[SendResult], None]

MAX_BATCH: Final = 512
# Batches committing at once. Two already hide one commit's wait behind another's; more adds
# connections and smaller batches (database CPU per message) for little latency.
MAX_INFLIGHT: Final = 2

BATCH_SIZE = Histogram(
    "messenger_group_commit_batch_size",
    "WebSocket sends committed per transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)

SENDS = Counter("messenger_ws_sends", "WebSocket sends committed (group commit)", registry=REGISTRY)
COMMIT_SECONDS = Histogram(
    "messenger_group_commit_seconds",
    "Time to commit one batch of WebSocket sends (until its acks are handed out)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    registry=REGISTRY,
)


class GroupCommitWriter:
    def __init__(self, send_batch: SendBatch, *, max_batch: int = MAX_BATCH, max_inflight: int = MAX_INFLIGHT) -> None:
        self._send_batch = send_batch
        self.max_batch = max_batch
        self.max_inflight = max_inflight
        self._queue: list[tuple[SendRequest, Done]] = []
        # Chats with a batch in flight: their requests wait for the next batch (see above).
        self._busy: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        # Batches past their commit, handing out acks and then running their after-ack work.
        self._finishing: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._started = False
        self._closing = False

    def start(self) -> None:
        self._started = True
        self._schedule()

    def submit(self, request: SendRequest, done: Done) -> None:
        """Queue a send; `done` is called with its result after commit (or with its error)."""
        if self._closing:
            done(Unavailable("The server is shutting down; resend after reconnecting", code="shutting_down"))
            return
        self._queue.append((request, done))
        self._schedule()

    def _schedule(self) -> None:
        # Dispatch at the end of this loop turn, so requests read in the same turn (many
        # sockets' frames) share a batch instead of the first one going alone.
        if not self._scheduled and self._started:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._scheduled = False
        while self._queue and len(self._tasks) < self.max_inflight:
            batch = self._take()
            if not batch:
                return
            chats = {request.chat_id for request, _ in batch}
            self._busy |= chats
            task = asyncio.create_task(self._commit(batch, chats), name="group-commit")
            self._tasks.add(task)

    def _take(self) -> list[tuple[SendRequest, Done]]:
        """The next batch: queued requests of chats not in flight, in arrival order."""
        busy = self._busy
        if not busy and len(self._queue) <= self.max_batch:
            everything, self._queue = self._queue, []
            return everything
        batch: list[tuple[SendRequest, Done]] = []
        rest: list[tuple[SendRequest, Done]] = []
        for item in self._queue:
            if len(batch) < self.max_batch and item[0].chat_id not in busy:
                batch.append(item)
            else:
                rest.append(item)
        self._queue = rest
        return batch

    async def _commit(self, batch: list[tuple[SendRequest, Done]], chats: set[int]) -> None:
        started = time.perf_counter()
        after_acks: list[Awaitable[None]] = []
        try:
            results = await self._send_batch([request for request, _ in batch], after_acks)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing of the batch is acknowledged; clients resend with the same client_msg_id.
            log.exception("send batch of %d failed", len(batch))
            error: SendResult = AppError("Sending failed; retry with the same client_msg_id", code="send_failed")
            results = [error] * len(batch)
        finally:
            COMMIT_SECONDS.observe(time.perf_counter() - started)
            self._busy -= chats
            task = asyncio.current_task()
            if task is not None:
                self._tasks.discard(task)
            if self._queue:
                self._schedule()
        if task is not None:
            self._finishing.add(task)
        try:
            SENDS.inc(len(batch))
            BATCH_SIZE.observe(len(batch))
            for (_, done), result in zip(batch, results, strict=True):
                try:
                    done(result)
                except Exception:
                    log.exception("send completion callback failed")
            if after_acks:
                # One loop turn first: the peers write what was pushed to them at the end of a
                # turn (peer.py), so the acks leave now, before the fan-out builds its frames.
                await asyncio.sleep(0)
            while after_acks:
                try:
                    await after_acks.pop(0)
                except Exception:
                    log.exception("work after the acks of a send batch failed")
        finally:
            # Cancelled (close gave up waiting): what never started is dropped, not left pending.
            for work in after_acks:
                if inspect.iscoroutine(work):
                    work.close()
            if task is not None:
                self._finishing.discard(task)

    async def close(self) -> None:
        """Commit everything queued (drain), then stop."""
        self._closing = True
        for _ in range(200):
            if not self._queue and not self._tasks and not self._finishing:
                break
            await asyncio.sleep(0.05)
        for task in [*self._tasks, *self._finishing]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
