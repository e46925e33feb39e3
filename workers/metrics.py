"""Prometheus metrics of the worker process: jobs by function and outcome, and their durations,
served by `messenger worker` on WORKER_METRICS_PORT (0: no metrics server).

Layer: worker entry point.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from arq.worker import Retry
from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("messenger.worker")

JOBS = Counter(
    "messenger_worker_jobs_total",
    "Jobs run by this worker, by function and outcome (ok, retry, error, cancelled).",
    ["function", "outcome"],
)
DURATION = Histogram(
    "messenger_worker_job_duration_seconds",
    "Wall time of jobs run by this worker, by function.",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RUNNING = Gauge("messenger_worker_jobs_running", "Jobs running right now, by function.", ["function"])

P = ParamSpec("P")
R = TypeVar("R")


def instrument(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """The job function, counting its outcome and timing it under its name."""
    name = fn.__name__

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        outcome = "error"
        RUNNING.labels(name).inc()
        try:
            result = await fn(*args, **kwargs)
            outcome = "ok"
            return result
        except Retry:
            outcome = "retry"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            RUNNING.labels(name).dec()
            JOBS.labels(name, outcome).inc()
            DURATION.labels(name).observe(time.perf_counter() - started)

    return run


def serve(port: int) -> None:
    """Start the metrics HTTP server (a daemon thread). A busy port is logged, not fatal:
    the jobs matter more than their metrics."""
    if port == 0:
        return
    try:
        start_http_server(port)
    except OSError as exc:
        log.error("worker metrics server on port %d failed to start: %s", port, exc)
        return
    log.info("worker metrics on :%d/metrics", port)
