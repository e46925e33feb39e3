"""Smoke runs of the load-testing suite: every scenario, small and short, correctness on.

Each test runs `python -m bench <scenario> --spawn` as a real subprocess against the test
database (the bench starts its own server and seeds it), then reads the JSON it wrote. No speed
is asserted here: performance figures belong to bench/README.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.hist import Histogram

ROOT = Path(__file__).resolve().parent.parent
SMALL = ("--procs", "2", "--duration", "1.2", "--warmup", "0.2", "--drain", "5", "--settle", "3")


async def run_bench(
    database: str | None, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, dict[str, Any] | None]:
    """`database` None: the spawned server starts its own embedded PostgreSQL."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "SMTP_", "S3_"))}
    environ.update(PYTHONUNBUFFERED="1", **(env or {}))
    if database is not None:
        environ["DATABASE_URL"] = database
    out = tmp_path / "results"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench",
        *args,
        "--out",
        str(out),
        cwd=ROOT,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 100)
    text = stdout.decode(errors="replace")
    files = sorted(out.glob("*.json")) if out.is_dir() else []
    data = json.loads(files[-1].read_text()) if files else None
    assert proc.returncode is not None
    return proc.returncode, text, data


def messenger_run(result: tuple[int, str, dict[str, Any] | None]) -> tuple[dict[str, Any], str]:
    """A module fixture's run that must have succeeded: messenger's figures and the output."""
    code, out, data = result
    assert code == 0, out
    assert data is not None
    run: dict[str, Any] = data["runs"]["messenger"]
    return run, out


@pytest.fixture(scope="module")
async def small_throughput(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, str, dict[str, Any] | None]:
    """One small closed-loop run, read by the tests of what it reports (a run takes ~10 s)."""
    return await run_bench(
        database,
        tmp_path_factory.mktemp("throughput"),
        "throughput",
        "--spawn",
        "--users",
        "20",
        "--room-size",
        "5",
        "--senders",
        "4",
        *SMALL,
    )


async def test_throughput_delivers_every_acked_message_exactly_once(
    small_throughput: tuple[int, str, dict[str, Any] | None],
) -> None:
    run, _ = messenger_run(small_throughput)
    assert run["acked"] > 0 and run["delivered"] >= run["acked"] * 5
    assert (run["missing"], run["duplicates"], run["unacked"], run["errors"]) == (0, 0, 0, {})


async def test_throughput_reads_the_writers_figures_from_the_servers_metrics(
    small_throughput: tuple[int, str, dict[str, Any] | None],
) -> None:
    run, _ = messenger_run(small_throughput)
    assert run["sends_per_commit"] >= 1 and run["commit_ms_mean"] > 0, run


@pytest.fixture(scope="module")
async def embedded_throughput(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any] | None]:
    """A closed-loop run on the server's own embedded PostgreSQL, its wait events sampled. The
    window is long enough for pg_stat_io, which backends report to about once a second."""
    return await run_bench(
        None, tmp_path_factory.mktemp("embedded"), "throughput", "--spawn", "--wait-events", "--users", "40",
        "--room-size", "5", "--senders", "20", "--procs", "2", "--duration", "3", "--warmup", "0.5",
        "--drain", "5", "--settle", "3",
    )  # fmt: skip


async def test_throughput_on_the_embedded_database_reports_its_wal_per_message_and_flush_time(
    embedded_throughput: tuple[int, str, dict[str, Any] | None],
) -> None:
    run, out = messenger_run(embedded_throughput)
    # A message's row, its indexes and its event row: WAL of some kilobytes, never none.
    assert run["wal_bytes_per_msg"] > 500, run
    assert run["wal_flush_ms_mean"] > 0, run
    assert "WAL flush ms, mean" in out


async def test_throughput_reports_how_long_the_server_and_its_database_waited_for_a_core(
    embedded_throughput: tuple[int, str, dict[str, Any] | None],
) -> None:
    run, out = messenger_run(embedded_throughput)
    # The scheduler's count of time runnable but not running: none on an idle core, never less.
    assert run["server_run_delay_ms_per_s"] >= 0 and run["database_run_delay_ms_per_s"] >= 0, run
    assert "server waiting for a core, ms/s" in out and "database waiting for a core, ms/s" in out


async def test_wait_events_say_where_the_sends_spend_their_time_in_the_database(
    embedded_throughput: tuple[int, str, dict[str, Any] | None],
) -> None:
    run, out = messenger_run(embedded_throughput)
    waits = run["wait_events"]
    assert waits["samples"] > 100 and waits["busy_mean"] > 0, waits
    # Every commit flushes WAL (synchronous_commit on): the flush is among the sends' waits.
    assert "IO:WalSync" in waits["shares"], waits
    assert sum(waits["shares"].values()) == pytest.approx(1.0, abs=0.01)
    assert "wait events of the sends" in out


async def test_open_loop_throughput_is_reported_against_the_baseline(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "throughput", "--spawn", "--baseline", "--users", "20", "--room-size", "5",
        "--senders", "4", "--rate", "200", *SMALL,
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    assert set(data["runs"]) == {"messenger", "baseline"}
    for run in data["runs"].values():
        assert run["mode"] == "open" and run["acked"] > 0 and run["ok"]
    assert "messenger/baseline" in out
    # Every figure of the history table comes with the baseline's from the same run and the ratio.
    acked = next(row for row in data["history_rows"] if "| msgs acked/s |" in row)
    cells = [c.strip() for c in acked.split("|")[1:-1]]
    assert cells[2] == "throughput" and "--baseline" in cells[3] and cells[7].endswith("%"), acked
    assert acked in out


async def test_fanout_reaches_every_member_of_the_room(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(database, tmp_path, "fanout", "--spawn", "--room-sizes", "25", *SMALL)
    assert code == 0, out
    assert data is not None
    run = data["room_sizes"]["25"]["messenger"]
    assert run["acked"] > 0 and run["delivered"] == run["acked"] * 25
    assert run["missing"] == 0 and run["duplicates"] == 0


async def test_three_nodes_deliver_across_nodes_exactly_once(database: str, tmp_path: Path) -> None:
    # Three server processes on their own ports sharing the database and a private redis-server
    # the bench starts; users spread over them; the same run on one node for comparison.
    code, out, data = await run_bench(
        database, tmp_path, "throughput", "--spawn", "--nodes", "3", "--users", "30", "--room-size", "6",
        "--senders", "6", *SMALL,
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    assert list(data["runs"]) == ["3 nodes", "1 node"]
    three, one = data["runs"]["3 nodes"], data["runs"]["1 node"]
    assert len(three["server"]["urls"]) == 3 and len(one["server"]["urls"]) == 1
    for run in (three, one):
        assert run["acked"] > 0 and run["delivered"] == run["acked"] * 6
        assert (run["missing"], run["duplicates"], run["unacked"], run["errors"]) == (0, 0, 0, {})
        assert run["redis_cpu_us_per_msg"] is not None
    # Users sit on nodes round-robin: two thirds of a room's members are on another node.
    assert three["cross_node_delivery_ms"]["count"] > three["same_node_delivery_ms"]["count"]
    assert one["cross_node_delivery_ms"] is None
    assert any("cross-node delivery p99, 3 nodes vs 1 node" in row for row in data["history_rows"])


async def test_three_nodes_on_a_redis_cluster_deliver_exactly_once(database: str, tmp_path: Path) -> None:
    # The bench starts a private 3-master Redis Cluster and hands the nodes its redis+cluster URL.
    code, out, data = await run_bench(
        database, tmp_path, "throughput", "--spawn", "--nodes", "3", "--redis", "cluster", "--users", "30",
        "--room-size", "6", "--senders", "6", *SMALL,
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    three = data["runs"]["3 nodes"]
    assert three["server"]["redis"].startswith("redis+cluster://")
    assert three["acked"] > 0 and three["delivered"] == three["acked"] * 6
    assert (three["missing"], three["duplicates"], three["unacked"], three["errors"]) == (0, 0, 0, {})
    assert three["cross_node_delivery_ms"]["count"] > 0 and three["redis_cpu_us_per_msg"] is not None


async def test_fanout_on_three_nodes_reaches_every_member(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "fanout", "--spawn", "--nodes", "3", "--room-sizes", "24", *SMALL
    )
    assert code == 0, out
    assert data is not None
    for run in data["room_sizes"]["24"].values():
        assert run["acked"] > 0 and run["delivered"] == run["acked"] * 24
        assert run["missing"] == 0 and run["duplicates"] == 0


MIXED = (
    "mixed", "--users", "120", "--msg-interval", "2", "--duration", "6", "--warmup", "1",
    "--reconnects", "0.5", "--churn", "0.25", "--offline", "1.5", "--drain", "5", "--settle", "3", "--procs", "2",
)  # fmt: skip


async def test_mixed_delivers_every_event_type_exactly_once_across_reconnects(database: str, tmp_path: Path) -> None:
    # A second of presence grace, so users offline for 1.5 s are seen leaving and coming back.
    code, out, data = await run_bench(database, tmp_path, *MIXED, "--spawn", env={"PRESENCE_GRACE": "1"})
    assert code == 0, out
    assert data is not None
    run = data["runs"]["messenger"]
    assert run["chats"] == {"direct": 240, "group10": 24, "group100": 1}
    assert (run["unacked"], run["missing"], run["duplicates"], run["errors"], run["closed_by_server"]) == (
        0, 0, 0, {}, 0,
    )  # fmt: skip
    assert run["reconnects"] > 0 and run["churned"] > 0, out
    latency = run["latency_ms"]
    for kind in ("message direct", "message group10", "message group100", "typing", "read", "presence online"):
        assert latency[kind]["count"] > 0, (kind, out)
    assert any("| mixed |" in row and "typing delivery p99" in row for row in data["history_rows"])


async def test_mixed_samples_where_the_sends_wait_with_wait_events(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(database, tmp_path, *MIXED, "--spawn", "--wait-events")
    assert code == 0, out
    assert data is not None
    waits = data["runs"]["messenger"]["wait_events"]
    # People send at human rates: a sample may find no send active, but every sample is counted.
    assert waits["samples"] > 100, waits
    assert "wait events of the sends" in out


async def test_mixed_fails_loudly_when_a_member_misses_a_message(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, *MIXED, "--baseline-only", env={"BENCH_BASELINE_FAULT": "drop:5"}
    )
    assert code == 1, out
    assert "never arrived" in out
    assert data is not None and data["runs"]["baseline"]["missing"] > 0


async def test_sweep_steps_the_rate_and_plots_latency(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "sweep", "--spawn", "--users", "20", "--room-size", "5", "--senders", "4",
        "--rate-start", "50", "--rate-step", "2", "--rate-max", "100", "--p99-ms", "5000",
        "--procs", "2", "--duration", "1.5", "--warmup", "0.3", "--drain", "5", "--settle", "3",
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    steps = data["steps"]["messenger"]
    assert [s["offered_rate"] for s in steps] == [50, 100]
    assert data["highest_held_rate"]["messenger"] == 100
    png = await asyncio.to_thread(Path(data["plot"]).read_bytes)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


async def test_connections_holds_idle_authenticated_sockets(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "connections", "--spawn", "--sockets", "60", "--hold", "1", "--procs", "2"
    )
    assert code == 0, out
    assert data is not None
    run = data["runs"]["messenger"]
    assert run["connect"]["connected"] == 60 and run["closed_sockets"] == 0
    assert run["server_rss_per_socket_kb"] is not None


async def test_rest_operations_all_succeed(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "rest", "--spawn", "--users", "20", "--room-size", "5", "--history", "60",
        "--concurrency", "4", "--duration", "1", "--procs", "2",
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    for op in ("login", "chats", "messages", "send"):
        run = data["runs"][op]
        assert run["requests"] > 0 and set(run["statuses"]) == {"201" if op == "send" else "200"}, run


async def test_bench_fails_loudly_when_a_member_misses_a_message(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "throughput", "--baseline-only", "--users", "20", "--room-size", "5", "--senders", "4",
        *SMALL, env={"BENCH_BASELINE_FAULT": "drop:7"},
    )  # fmt: skip
    assert code == 1, out
    assert "never arrived" in out
    assert data is not None and data["runs"]["baseline"]["missing"] > 0


async def test_bench_fails_loudly_on_a_duplicate_delivery(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "throughput", "--baseline-only", "--users", "20", "--room-size", "5", "--senders", "4",
        *SMALL, env={"BENCH_BASELINE_FAULT": "dup:7"},
    )  # fmt: skip
    assert code == 1, out
    assert data is not None and data["runs"]["baseline"]["duplicates"] > 0


async def test_dbfloor_reports_transactions_and_database_cpu_for_every_variant() -> None:
    from bench import dbfloor

    from .rig import ADMIN_DSN

    # /proc counts CPU in 10 ms ticks: 500 `SELECT 1` in a second (about 20 ms of CPU on a quick
    # machine) drew no tick at all in some runs; 3,000 of them draw about eight.
    args = ["--admin-dsn", ADMIN_DSN, "--rate", "2000", "--duration", "1.5", "--warmup", "0.2", "--rounds", "1",
            "--users", "20", "--room-size", "5"]  # fmt: skip
    runs = await dbfloor.main(dbfloor.parse(args))
    assert [r.variant for r in runs] == list(dbfloor.VARIANTS)
    for run in runs:
        assert run.transactions > 0 and run.cpu_us > 0, run


def test_each_scenario_keeps_its_own_default_timing() -> None:
    # mixed measures minutes of human-rate traffic; the others seconds of saturation. One
    # scenario's defaults must not leak into another's through the shared options.
    from bench.__main__ import parse

    assert (parse(["mixed"]).duration, parse(["mixed"]).warmup) == (120.0, 10.0)
    for scenario in ("throughput", "fanout", "sweep", "rest"):
        args = parse([scenario])
        assert (args.duration, args.warmup) == (10.0, 1.0), scenario
    assert parse(["fanout", "--duration", "3", "--warmup", "0.5"]).warmup == 0.5


def test_histogram_percentiles_stay_within_bucket_precision_after_merge() -> None:
    a, b = Histogram(), Histogram()
    values = list(range(1, 100_001))
    for v in values[::2]:
        a.record(v)
    for v in values[1::2]:
        b.record(v)
    merged = Histogram.from_data(a.data())
    merged.merge(b.data())
    assert merged.total == 100_000 and merged.max == 100_000 and merged.min == 1
    for pct, exact in ((50.0, 50_000), (99.0, 99_000), (99.9, 99_900)):
        assert exact <= merged.percentile(pct) <= exact * 1.016


async def test_search_reports_latency_and_plans_for_every_query_kind(database: str, tmp_path: Path) -> None:
    code, out, data = await run_bench(
        database, tmp_path, "search", "--spawn", "--messages", "3000", "--chats", "30", "--users", "12",
        "--user-chats", "5", "--vocabulary", "500", "--queries", "5",
    )  # fmt: skip
    assert code == 0, out
    assert data is not None
    assert set(data["runs"]) == {"common", "rare", "prefix", "phrase"}
    for run in data["runs"].values():
        assert run["statuses"] == {"200": 5} and "Limit" in run["explain"]
    # common words of the user's chats are found (the seeded text is searchable as sent)
    assert data["runs"]["common"]["results_per_query"] > 0


async def test_search_with_a_data_dir_reuses_the_seeded_history(database: str, tmp_path: Path) -> None:
    args = ("search", "--spawn", "--messages", "3000", "--chats", "30", "--users", "12", "--user-chats", "5",
            "--vocabulary", "500", "--queries", "3", "--data-dir", str(tmp_path / "data"))  # fmt: skip
    first = await run_bench(database, tmp_path, *args)
    second = await run_bench(database, tmp_path, *args)
    assert first[0] == 0 and second[0] == 0, first[1] + second[1]
    assert "reusing the seeded history" in second[1] and "seeded 3,000" not in second[1]
    assert second[2] is not None and second[2]["runs"]["common"]["results_per_query"] > 0


def test_statement_statistics_are_named_after_their_sql_files() -> None:
    from bench.scenarios.common import statement_rows
    from messenger.db import Q

    # pg_stat_statements records a statement from its first token: without the comment above it.
    recorded = "\n".join(line for line in Q.send_messages.splitlines() if not line.startswith("--"))
    assert recorded != Q.send_messages
    found = [
        {"toplevel": True, "calls": 10, "total_exec_time": 5.0, "rows": 10, "wal_records": 30, "query": recorded},
        {"toplevel": False, "calls": 20, "total_exec_time": 1.0, "rows": 20, "wal_records": 0, "query": "SELECT 1"},
    ]
    named, other = statement_rows(found, acked=10)
    assert (named["statement"], named["nested"], named["calls_per_msg"], named["us_per_msg"]) == (
        "send_messages",
        False,
        1.0,
        500.0,
    )
    assert (other["statement"], other["nested"], other["wal_records_per_call"]) == ("SELECT 1", True, 0.0)
