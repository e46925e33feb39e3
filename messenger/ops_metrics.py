"""The operator's figures on /metrics, and where /metrics is served.

Figures an operator watches (docs/grafana-dashboard.json draws them):
- sockets: `messenger_ws_connections`;
- sends/s: `rate(messenger_ws_sends_total[1m])` (WebSocket sends through group commit) and the
  HTTP request counters for REST sends;
- group commit: `messenger_group_commit_batch_size` and `messenger_group_commit_seconds`;
- fan-out queue depth: `messenger_fanout_queued_frames` (frames waiting in sockets' queues);
- presence backlog: `messenger_presence_queued` (transitions not announced yet; a node's restart
  queues one per user);
- broker lag: `messenger_broker_lag_events`, how far this node's delivery is behind the
  committed head of the event stream;
- jobs: `messenger_job_queue_depth`, `messenger_jobs_total{function,outcome}` (in-process; the
  worker has its own `messenger_worker_jobs_total` on WORKER_METRICS_PORT);
- database pool: `messenger_db_pool_connections{state="busy"|"idle"|"max"}`;
- garbage collector pauses, what it freed and what is frozen: `messenger_gc_*`
  (messenger/collector.py).

Scrape-time figures are read by a collector from live objects (nothing to keep in step); the
broker lag and the arq queue depth need a query, so a sampler refreshes them every few seconds.

Where: with METRICS_PORT the figures are served on that port only (the app port's /metrics is
404); else with METRICS_TOKEN the app port's /metrics wants `Authorization: Bearer <token>`;
with neither it answers loopback clients only, so a server exposed on a public address does not
publish its figures by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

from prometheus_client import Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .db import Q
from .observability import REGISTRY

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from .services import Services

log = logging.getLogger("messenger.metrics")

SAMPLE_EVERY = 5.0

BROKER_LAG = Gauge(
    "messenger_broker_lag_events",
    "Committed events this node has not delivered yet (stream head minus delivered position)",
    registry=REGISTRY,
)
JOB_QUEUE = Gauge(
    "messenger_job_queue_depth", "Jobs queued and not started (arq) or running (in-process)", registry=REGISTRY
)


class LiveFigures(Collector):
    """Read at scrape time from the hub, the group-commit writer and the database pool."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterable[Metric]:
        services = self.services
        hub = services.hub
        queued = sum(peer.queued() for state in hub.users.values() for peer in state.peers)
        yield GaugeMetricFamily("messenger_fanout_queued_frames", "Frames waiting in sockets' send queues", queued)
        yield GaugeMetricFamily(
            "messenger_presence_queued", "Presence transitions waiting to be announced", hub.presence.queued()
        )
        pool = services.db.pool
        busy = pool.get_size() - pool.get_idle_size()
        figures = GaugeMetricFamily("messenger_db_pool_connections", "Database pool connections", labels=["state"])
        figures.add_metric(["busy"], busy)
        figures.add_metric(["idle"], pool.get_idle_size())
        figures.add_metric(["max"], pool.get_max_size())
        yield figures


async def _sample(services: Services) -> None:
    state = await services.db.fetchrow(Q.stream_state)
    if state is not None:
        BROKER_LAG.set(max(0, state["pos"] - services.hub.delivered_upto))
    depth = await services.jobs.depth()
    if depth is not None:
        JOB_QUEUE.set(depth)


@contextlib.asynccontextmanager
async def exporting(services: Services) -> AsyncIterator[None]:
    collector = LiveFigures(services)
    REGISTRY.register(collector)
    server = None
    port = services.settings.metrics_port
    if port:
        server, _ = start_http_server(port, addr=services.settings.host, registry=REGISTRY)
        log.info("metrics on http://%s:%d/metrics", services.settings.host, port)

    async def loop() -> None:
        while True:
            try:
                await _sample(services)
            except Exception as exc:  # figures are best effort; the next round tries again
                log.debug("metrics sample failed: %s", exc)
            await asyncio.sleep(SAMPLE_EVERY)

    task = asyncio.create_task(loop(), name="metrics-sampler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if server is not None:
            server.shutdown()
        REGISTRY.unregister(collector)


def allowed(settings_token: str | None, metrics_port: int, authorization: str | None, client: str | None) -> bool:
    """May this request read /metrics on the app port?"""
    if metrics_port:
        return False
    if settings_token is not None:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), settings_token.encode())
    try:
        return client is not None and ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False
