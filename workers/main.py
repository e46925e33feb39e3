"""The arq worker: `python -m workers`, which `messenger worker` (Procfile `worker:`) becomes.

Layer: worker entry point.
"""

from __future__ import annotations

import argparse
import sys

from messenger import cli, logs
from messenger import settings as settings_mod
from messenger.settings import Settings


def main(argv: list[str] | None = None) -> int:
    """`messenger worker [--burst] [--no-migrate]`: the same options, statuses and messages."""
    parser = argparse.ArgumentParser(prog="python -m workers", description="the background job worker (arq)")
    cli.worker_options(parser)
    return cli.run_command(_work, parser.parse_args(argv))


def _work(args: argparse.Namespace) -> int:
    settings = settings_mod.load()
    logs.configure(settings.log_level)
    migrating = settings.database_url is not None and not args.no_migrate
    if migrating and not cli.migrate_at_start(str(settings.database_url), "worker"):
        return 2
    return run_worker(settings, burst=args.burst)


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
