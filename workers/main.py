"""The arq worker: `messenger worker` (Procfile `worker:`).

Layer: worker entry point.
"""

from __future__ import annotations

import sys

from messenger.settings import Settings


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    if settings.jobs_redis is None:
        print(
            "messenger worker: no Redis for jobs. Without one (REDIS_URL, or JOBS_REDIS_URL when "
            "REDIS_URL is a Redis Cluster, which arq cannot use), jobs run inside `messenger serve`; "
            "a separate worker is only needed (and only useful) with one.",
            file=sys.stderr,
        )
        return 2
    from arq.worker import run_worker as arq_run

    from . import metrics
    from .settings import worker_settings

    metrics.serve(settings.worker_metrics_port)
    worker = arq_run(worker_settings(settings, burst=burst), burst=burst)
    return 0 if worker is not None else 1
