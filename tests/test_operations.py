"""What an operator reads: JSON log lines with request ids, and /metrics behind a token or on
its own port."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .rig import Mailbox, Server, free_port, running_server

METRICS_TOKEN = "metrics-token-0123456789"
DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
METRIC = re.compile(r"\bmessenger_[a-z0-9_]+")


@pytest.fixture(scope="module")
async def chatty(server_env: dict[str, str]) -> AsyncIterator[Server]:
    """A server that logs at INFO (JSON: its stdout is a file) with METRICS_TOKEN set."""
    async with running_server({**server_env, "LOG_LEVEL": "INFO", "METRICS_TOKEN": METRICS_TOKEN}) as srv:
        yield srv


def json_lines(server: Server) -> list[dict[str, Any]]:
    lines = [line for line in server.log().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # any line that is not one JSON object fails here


async def test_every_log_line_is_one_json_object(chatty: Server) -> None:
    async with httpx.AsyncClient(base_url=chatty.url) as http:
        assert (await http.get("/healthz")).status_code == 200
    records = json_lines(chatty)
    assert {"uvicorn.error", "messenger.access"} <= {r["logger"] for r in records}
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


async def test_the_request_id_follows_a_request_into_its_jobs(chatty: Server, mailbox: Mailbox) -> None:
    async with httpx.AsyncClient(base_url=chatty.url) as http:
        r = await http.post(
            "/v1/auth/register",
            json={"email": "traced@example.com", "username": "traced", "password": "long enough"},
            headers={"X-Request-ID": "trace-me-42"},
        )
    assert r.status_code == 201, r.text
    assert r.headers["x-request-id"] == "trace-me-42"
    await mailbox.wait_for("traced@example.com")
    traced = [r for r in json_lines(chatty) if r.get("request_id") == "trace-me-42"]
    assert {"messenger.access", "messenger.mail"} <= {r["logger"] for r in traced}


async def test_metrics_need_the_token(chatty: Server) -> None:
    async with httpx.AsyncClient(base_url=chatty.url) as http:
        assert (await http.get("/metrics")).status_code == 404
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 404
        r = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200


async def test_metrics_have_the_operators_figures(chatty: Server) -> None:
    async with httpx.AsyncClient(base_url=chatty.url) as http:
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    for name in (
        "messenger_ws_connections",
        "messenger_ws_sends_total",
        "messenger_group_commit_batch_size_bucket",
        "messenger_group_commit_seconds_bucket",
        "messenger_read_marker_batch_size_bucket",
        "messenger_read_marker_commit_seconds_bucket",
        "messenger_fanout_queued_frames",
        "messenger_presence_queued",
        "messenger_broker_lag_events",
        "messenger_job_queue_depth",
        'messenger_db_pool_connections{state="busy"}',
    ):
        assert name in text, name


async def test_metrics_port_serves_them_and_the_app_port_does_not(server_env: dict[str, str]) -> None:
    port = free_port()
    async with running_server({**server_env, "METRICS_PORT": str(port)}) as srv, httpx.AsyncClient() as http:
        assert (await http.get(f"{srv.url}/metrics")).status_code == 404
        r = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert r.status_code == 200
        assert "messenger_http_requests_total" in r.text


async def test_the_grafana_dashboard_only_uses_metrics_the_server_exports(chatty: Server) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = {name for panel in dashboard["panels"] for t in panel["targets"] for name in METRIC.findall(t["expr"])}
    async with httpx.AsyncClient(base_url=chatty.url) as http:
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    exported = set(METRIC.findall(text))
    # The worker's own figures come from `messenger worker` (workers/metrics.py), not this server.
    assert used - exported <= {"messenger_worker_jobs_total"}


def test_logs_are_plain_text_on_a_terminal() -> None:
    program = (
        "import logging; from messenger import logs; logs.configure('INFO'); "
        "logging.getLogger('messenger.demo').info('hello %s', 'there')"
    )
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", program], stdout=follower, stderr=subprocess.PIPE, timeout=30)
        assert done.returncode == 0, done.stderr
        line = os.read(leader, 4096).decode().strip()
    finally:
        os.close(leader)
        os.close(follower)
    assert line.endswith("INFO    messenger.demo: hello there")
    assert not line.startswith("{")


async def test_the_request_id_follows_a_request_into_the_workers_jobs(
    redis_env: dict[str, str], mailbox: Mailbox, tmp_path: Path
) -> None:
    env = {**redis_env, "LOG_LEVEL": "INFO", "WORKER_METRICS_PORT": "0"}
    async with running_server(env) as node, httpx.AsyncClient(base_url=node.url) as http:
        r = await http.post(
            "/v1/auth/register",
            json={"email": "queued@example.com", "username": "queued", "password": "long enough"},
            headers={"X-Request-ID": "via-redis-7"},
        )
        assert r.status_code == 201, r.text
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "messenger", "worker", "--burst", env=env, stdout=out, stderr=out
        )
        assert await asyncio.wait_for(worker.wait(), 60) == 0
    await mailbox.wait_for("queued@example.com")
    with open(log) as f:
        records = [json.loads(line) for line in f if line.strip()]
    mail = [r for r in records if r["logger"] == "messenger.mail"]
    assert mail and all(r.get("request_id") == "via-redis-7" for r in mail)
