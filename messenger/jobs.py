"""Background jobs: one enqueue interface, two runners, one schedule format.

Layer: infrastructure. This module knows no job: the registry (the functions, their
`JobContext` and the schedule table) is `tasks.py`, which the app and the worker hand to a
runner here.

With a Redis for jobs (`settings.jobs_redis`: `JOBS_REDIS_URL`, else a single-server
`REDIS_URL`) jobs go to arq (queue `<REDIS_PREFIX>jobs`) and `messenger worker` runs them,
periodic ones on arq's cron. arq cannot use a Redis Cluster, so a cluster `REDIS_URL` alone
means in-process jobs. Without a jobs Redis `InProcessJobs` runs the same functions inside the
server as background tasks: references are kept (an unreferenced task can be garbage-collected
mid-flight), failures are logged, `Retry` is honoured like arq does, pending jobs are drained on
shutdown, and the same schedule table runs on the same wall-clock times as arq's cron would.

A `job_id` makes enqueueing idempotent: arq ignores a second job with the id of one that is
queued, running or whose result it still keeps; the in-process runner remembers ids for an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any, Protocol, Self

import msgspec
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.cron import next_cron
from arq.worker import Retry
from prometheus_client import Counter

from .keys import RedisKeys
from .logs import REQUEST_ID
from .observability import REGISTRY
from .ports import Jobs
from .settings import Settings

log = logging.getLogger("messenger.jobs")

JobFunction = Callable[..., Awaitable[Any]]

MAX_TRIES = 5  # the worker tells arq the same (workers/settings.py)
DRAIN_TIMEOUT = 10.0
ID_MEMORY = 3600.0


class Context(Protocol):
    """What a runner passes a job first: the registry's context, stamped per try."""

    def attempt(self, job_id: str | None, job_try: int) -> Self: ...


class Periodic(msgspec.Struct, frozen=True):
    """One row of the schedule table: run `function` at the wall-clock times these fields of
    arq's cron select (None: any minute), on the worker's cron and in-process alike."""

    function: JobFunction
    minute: frozenset[int] | None = None
    second: frozenset[int] = frozenset({0})
    # Also once as the runner starts (arq's run_at_startup).
    run_at_startup: bool = False

    @property
    def name(self) -> str:
        return self.function.__name__

    def cron_fields(self) -> dict[str, Any]:
        """The keyword arguments of arq's `cron()` and `next_cron()` (they want sets)."""
        return {"minute": None if self.minute is None else set(self.minute), "second": set(self.second)}

    def next_after(self, moment: datetime) -> datetime:
        return next_cron(moment, **self.cron_fields())


JOB_RUNS = Counter(
    "messenger_jobs_total",
    "Jobs run in this process (no Redis), by function and outcome (ok, retry, error)",
    ["function", "outcome"],
    registry=REGISTRY,
)


class ArqJobs:
    def __init__(self, pool: ArqRedis, prefix: str) -> None:
        self.pool = pool
        self.keys = RedisKeys(prefix)

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        if job_id is not None:
            job_id = self.keys.job_id(job_id)
        # The request's id follows it into the worker's logs (workers/metrics.py restores it).
        request_id = REQUEST_ID.get()
        if request_id is None:
            job = await self.pool.enqueue_job(function, *args, _job_id=job_id)
        else:
            job = await self.pool.enqueue_job(function, *args, _job_id=job_id, request_id=request_id)
        if job is None:
            log.info("job %s %s already queued or done; not enqueued again", function, job_id)

    async def depth(self) -> int | None:
        return int(await self.pool.zcard(self.pool.default_queue_name))


class InProcessJobs:
    """Runs jobs in this process once `start` has given it their context and the schedule."""

    def __init__(self, functions: Sequence[JobFunction]) -> None:
        self.functions = {f.__name__: f for f in functions}
        self._context: Context | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: dict[str, float] = {}
        self._closing = False
        self._periodic: list[asyncio.Task[None]] = []

    def start(self, context: Context, schedule: Sequence[Periodic]) -> None:
        """Jobs run from now on; each row of the schedule gets one task that keeps its times."""
        self._context = context
        for row in schedule:
            self._periodic.append(asyncio.ensure_future(self._keep(row, context)))

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        fn = self.functions.get(function)
        if fn is None:
            raise LookupError(f"no job function named {function!r}")
        if self._closing:
            raise RuntimeError("the job runner is shutting down")
        if self._context is None:
            raise RuntimeError("the job runner has not started")
        if job_id is not None:
            now = time.monotonic()
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            if self._seen.get(job_id, 0.0) > now:
                log.info("job %s %s already run; not enqueued again", function, job_id)
                return
            self._seen[job_id] = now + ID_MEMORY
        self._spawn(self._run(function, fn, self._context, args, job_id))

    async def depth(self) -> int | None:
        return len(self._tasks)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        name: str,
        fn: JobFunction,
        context: Context,
        args: tuple[Any, ...],
        job_id: str | None,
        max_tries: int = MAX_TRIES,
    ) -> None:
        for job_try in range(1, max_tries + 1):
            try:
                await fn(context.attempt(job_id, job_try), *args)
                JOB_RUNS.labels(name, "ok").inc()
                return
            except Retry as retry:
                JOB_RUNS.labels(name, "retry").inc()
                if job_try == max_tries:
                    JOB_RUNS.labels(name, "error").inc()
                    log.error("job %s %s failed after %d tries", name, job_id, job_try)
                    return
                delay = retry.defer_score / 1000 if retry.defer_score else job_try * 5.0
                log.warning("job %s %s will retry in %.1fs (try %d)", name, job_id, delay, job_try)
                await asyncio.sleep(delay)
            except Exception:
                JOB_RUNS.labels(name, "error").inc()
                log.exception("job %s %s failed", name, job_id)
                return

    async def _keep(self, row: Periodic, context: Context) -> None:
        """What arq's cron does for one row: one try a time (as arq's cron jobs get), never
        two runs of the row at once (a slow run delays the next instead)."""
        if row.run_at_startup:
            await self._run(row.name, row.function, context, (), None, max_tries=1)
        while True:
            now = datetime.now()  # naive local time, as arq's cron without a timezone
            await asyncio.sleep((row.next_after(now) - now).total_seconds())
            await self._run(row.name, row.function, context, (), None, max_tries=1)

    async def close(self) -> None:
        self._closing = True
        for task in self._periodic:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not self._tasks:
            return
        log.info("draining %d background job(s)", len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=DRAIN_TIMEOUT)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("%d background job(s) cancelled at shutdown", len(pending))
            await asyncio.wait(pending)


async def open_queue(settings: Settings, functions: Sequence[JobFunction], stack: AsyncExitStack) -> Jobs:
    """The enqueue side for this process: arq's queue when Redis is configured, otherwise an
    in-process runner, which runs nothing until `InProcessJobs.start`."""
    if settings.jobs_redis is not None:
        keys = RedisKeys(settings.redis_prefix)
        pool = await create_pool(RedisSettings.from_dsn(settings.jobs_redis), default_queue_name=keys.job_queue)
        stack.push_async_callback(pool.aclose)
        return ArqJobs(pool, settings.redis_prefix)
    runner = InProcessJobs(functions)
    stack.push_async_callback(runner.close)
    return runner
