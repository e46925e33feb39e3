"""The schedule table of messenger.tasks: the worker's arq cron jobs and the in-process runner
both follow it, and the cron jobs' ids carry REDIS_PREFIX."""

from __future__ import annotations

import asyncio
from datetime import datetime

from messenger import jobs, tasks
from messenger.settings import Settings, load
from workers.settings import cron_jobs

from .factories import job_context


def _settings(**env: str) -> Settings:
    return load({"SECRET_KEY": "k" * 32, **env})


def test_every_scheduled_job_is_a_registered_function() -> None:
    registered = {f.__name__ for f in tasks.FUNCTIONS}
    assert {row.name for row in tasks.schedule(_settings())} <= registered


def test_the_worker_cron_follows_the_schedule_table_under_the_redis_prefix() -> None:
    settings = _settings(REDIS_PREFIX="deployment-a:")
    crons = {c.name: c for c in cron_jobs(settings)}
    for row in tasks.schedule(settings):
        job = crons.pop(f"deployment-a:cron:{row.name}")
        assert (job.minute, job.second, job.run_at_startup) == (
            None if row.minute is None else set(row.minute),
            set(row.second),
            row.run_at_startup,
        )
    assert crons == {}


def test_a_schedule_row_runs_at_the_next_matching_wall_clock_time() -> None:
    row = jobs.Periodic(tasks.cleanup_expired, minute=frozenset({7, 37}))
    assert row.next_after(datetime(2026, 1, 1, 10, 8, 0)) == datetime(2026, 1, 1, 10, 37, 0, 123_456)
    assert row.next_after(datetime(2026, 1, 1, 10, 40, 0)) == datetime(2026, 1, 1, 11, 7, 0, 123_456)


def test_digest_scans_run_at_start_and_every_quarter_window() -> None:
    (row,) = [r for r in tasks.schedule(_settings(NOTIFICATION_EMAIL_WINDOW="40")) if r.function is tasks.send_digests]
    assert row.run_at_startup
    assert row.minute is None and sorted(row.second) == list(range(0, 60, 10))


async def test_the_in_process_runner_runs_a_row_at_start_and_then_on_its_times(database: str) -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def tick(ctx: tasks.JobContext) -> None:
        runs.append(ctx.job_try)
        if len(runs) == 2:
            done.set()

    runner = jobs.InProcessJobs([])
    async with job_context(_settings(DATABASE_URL=database), database) as ctx:
        runner.start(ctx, [jobs.Periodic(tick, second=frozenset(range(60)), run_at_startup=True)])
        try:
            await asyncio.wait_for(done.wait(), 10)
        finally:
            await runner.close()
    assert runs == [1, 1]
