from __future__ import annotations

import httpx


async def test_healthz_answers_while_process_lives(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_readyz_reports_database_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"]["database"] == "ok"


async def test_unknown_path_gets_contract_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/does-not-exist")
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "not_found", "message": "Not found"}}


async def test_metrics_counts_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert 'messenger_http_requests_total{method="GET",route="/healthz",status="200"}' in r.text


async def test_openapi_is_version_3_1(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json()["openapi"] == "3.1.0"


async def test_openapi_operation_ids_are_unique(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
