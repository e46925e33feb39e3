"""Background jobs: one enqueue interface, two runners.

With `REDIS_URL` jobs go to arq (queue `<REDIS_PREFIX>jobs`) and `messenger worker` runs them.
Without Redis the same job functions (`workers/jobs.py`) run inside this process as background
tasks: references are kept (an unreferenced task can be garbage-collected mid-flight), failures
are logged, `Retry` is honoured like arq does, and pending jobs are drained on shutdown.

A `job_id` makes enqueueing idempotent: arq ignores a second job with the id of one that is
queued, running or whose result it still keeps; the in-process runner remembers ids for an hour.

In-process, a job's ctx is `InProcessJobs.ctx` (settings, db, mailer): a component built later
in the lifespan adds what its jobs need there, and `start_periodic` stands in for arq's cron.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

from .ports import Jobs

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from .services import Services

log = logging.getLogger("messenger.jobs")

JobFunction = Callable[..., Awaitable[Any]]

MAX_TRIES = 5  # as workers/settings.py tells arq
DRAIN_TIMEOUT = 10.0
ID_MEMORY = 3600.0
CLEANUP_EVERY = 1800.0


class ArqJobs:
    def __init__(self, pool: ArqRedis, prefix: str) -> None:
        self.pool = pool
        # arq keeps jobs under `arq:job:<id>` whatever the queue, so ids carry our prefix too.
        self.prefix = prefix

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        if job_id is not None:
            job_id = f"{self.prefix}{job_id}"
        job = await self.pool.enqueue_job(function, *args, _job_id=job_id)
        if job is None:
            log.info("job %s %s already queued or done; not enqueued again", function, job_id)


class InProcessJobs:
    def __init__(self, ctx: dict[str, Any], functions: list[JobFunction]) -> None:
        self.ctx = ctx
        self.functions = {f.__name__: f for f in functions}
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen: dict[str, float] = {}
        self._closing = False
        self._periodic: list[asyncio.Task[None]] = []

    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None:
        fn = self.functions.get(function)
        if fn is None:
            raise LookupError(f"no job function named {function!r}")
        if self._closing:
            raise RuntimeError("the job runner is shutting down")
        if job_id is not None:
            now = time.monotonic()
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
            if self._seen.get(job_id, 0.0) > now:
                log.info("job %s %s already run; not enqueued again", function, job_id)
                return
            self._seen[job_id] = now + ID_MEMORY
        self._spawn(self._run(function, fn, args, job_id))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, name: str, fn: JobFunction, args: tuple[Any, ...], job_id: str | None) -> None:
        from arq.worker import Retry

        for job_try in range(1, MAX_TRIES + 1):
            ctx = {**self.ctx, "job_id": job_id, "job_try": job_try}
            try:
                await fn(ctx, *args)
                return
            except Retry as retry:
                if job_try == MAX_TRIES:
                    log.error("job %s %s failed after %d tries", name, job_id, job_try)
                    return
                delay = retry.defer_score / 1000 if retry.defer_score else job_try * 5.0
                log.warning("job %s %s will retry in %.1fs (try %d)", name, job_id, delay, job_try)
                await asyncio.sleep(delay)
            except Exception:
                log.exception("job %s %s failed", name, job_id)
                return

    def start_periodic(self, fn: JobFunction, every: float) -> None:
        """What arq's cron does with Redis: run `fn(ctx)` every `every` seconds, as a looping task."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await fn(dict(self.ctx))
                except Exception:
                    log.exception("periodic %s failed", fn.__name__)

        self._periodic.append(asyncio.ensure_future(loop()))

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


async def start(services: Services, stack: AsyncExitStack) -> Jobs:
    """The runner for this process: arq when Redis is configured, in-process otherwise."""
    settings = services.settings
    if settings.redis_url is not None:
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(
            RedisSettings.from_dsn(settings.redis_url), default_queue_name=f"{settings.redis_prefix}jobs"
        )
        stack.push_async_callback(pool.aclose)
        return ArqJobs(pool, settings.redis_prefix)
    from workers import jobs as job_functions

    runner = InProcessJobs(
        {"settings": settings, "db": services.db, "mailer": services.mailer}, job_functions.FUNCTIONS
    )
    runner.start_periodic(job_functions.cleanup_expired, CLEANUP_EVERY)
    stack.push_async_callback(runner.close)
    return runner
