"""The web client's static handler: caching, SPA fallback, security headers, and never shadowing the API."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from messenger.app import create_app
from messenger.settings import Settings
from messenger.webapp import IMMUTABLE, WebClient, accepted_encodings

INDEX = b"<!doctype html><title>app</title><script type=module src=/assets/index-abc123.js></script>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-abc123.js").write_bytes(b"console.log(1)")
    (root / "favicon.svg").write_bytes(b"<svg/>")
    (tmp_path / "secret.txt").write_bytes(b"outside the root")
    return root


def _client_for(root: Path, **settings: str) -> httpx.AsyncClient:
    app = create_app(Settings(secret_key="webapp-test-secret-0123456789abcdef", **settings))
    for route in app.router.routes:
        if isinstance(route, WebClient):
            route.root = root
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def web(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _client_for(dist) as client:
        yield client


async def test_index_is_served_with_security_headers_and_no_cache(web: httpx.AsyncClient) -> None:
    r = await web.get("/")
    assert r.status_code == 200
    assert r.content == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "referrer-policy" in r.headers


async def test_csp_admits_the_s3_media_origin_only(dist: Path) -> None:
    async with _client_for(dist, s3_endpoint_url="https://minio.example:9000/", s3_bucket="b") as client:
        csp = (await client.get("/")).headers["content-security-policy"]
    assert "connect-src 'self' https://minio.example:9000;" in csp
    assert "img-src 'self' https://minio.example:9000;" in csp
    assert "frame-ancestors 'none'" in csp


async def test_hashed_assets_are_immutable(web: httpx.AsyncClient) -> None:
    r = await web.get("/assets/index-abc123.js")
    assert r.status_code == 200
    assert r.content == b"console.log(1)"
    assert r.headers["cache-control"] == IMMUTABLE
    assert "javascript" in r.headers["content-type"]


async def test_unhashed_files_are_revalidated(web: httpx.AsyncClient) -> None:
    r = await web.get("/favicon.svg")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


async def test_app_routes_fall_back_to_index(web: httpx.AsyncClient) -> None:
    for path in ("/chats", "/chats/42", "/verify-email?token=abc", "/reset-password?token=x"):
        r = await web.get(path)
        assert r.status_code == 200, path
        assert r.content == INDEX, path


async def test_missing_asset_is_404_not_html(web: httpx.AsyncClient) -> None:
    for path in ("/assets/index-old999.js", "/robots.txt"):
        r = await web.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "not_found"


async def test_api_paths_are_never_shadowed(web: httpx.AsyncClient) -> None:
    r = await web.get("/v1/no-such-endpoint")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await web.get("/v1")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    r = await web.get("/healthz")
    assert r.json()["status"] == "ok"
    r = await web.get("/openapi.json")
    assert r.json()["openapi"].startswith("3.1")


async def test_wrong_method_on_api_route_is_still_405(web: httpx.AsyncClient) -> None:
    r = await web.put("/healthz")
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/json")


async def test_non_get_on_app_path_is_json_404(web: httpx.AsyncClient) -> None:
    r = await web.post("/chats", content=b"{}")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_traversal_out_of_the_root_is_refused(web: httpx.AsyncClient) -> None:
    r = await web.get("/%2e%2e/secret.txt")
    assert r.status_code == 404
    assert b"outside the root" not in r.content


async def test_unopenable_path_is_404_not_500(web: httpx.AsyncClient) -> None:
    for path in ("/assets/a%00b.js", "/" + "x" * 5000 + ".js"):
        r = await web.get(path)
        assert r.status_code == 404, path


async def test_app_pages_share_one_metrics_label(web: httpx.AsyncClient) -> None:
    await web.get("/chats/1")
    await web.get("/chats/2")
    metrics = (await web.get("/metrics")).text
    assert 'route="/*"' in metrics
    assert "/chats/1" not in metrics


async def test_head_has_headers_without_body(web: httpx.AsyncClient) -> None:
    r = await web.head("/assets/index-abc123.js")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(b"console.log(1)"))
    assert r.content == b""


async def test_unbuilt_client_explains_how_to_build(tmp_path: Path) -> None:
    async with _client_for(tmp_path / "nothing-here") as client:
        r = await client.get("/")
    assert r.status_code == 503
    assert b"npm ci &amp;&amp; npm run build" in r.content
    assert r.headers["content-type"].startswith("text/html")


@pytest.fixture
async def compressed(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The build writes .br and .gz beside each compressible file; fake bytes show which was sent."""
    (dist / "assets" / "index-abc123.js.br").write_bytes(b"BROTLI")
    (dist / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(b"console.log(1)"))
    async with _client_for(dist) as client:
        yield client


async def _raw(client: httpx.AsyncClient, path: str, accept: str) -> tuple[httpx.Headers, bytes]:
    async with client.stream("GET", path, headers={"accept-encoding": accept}) as r:
        assert r.status_code == 200
        return r.headers, b"".join([chunk async for chunk in r.aiter_raw()])


async def test_brotli_is_preferred_when_accepted(compressed: httpx.AsyncClient) -> None:
    headers, body = await _raw(compressed, "/assets/index-abc123.js", "gzip, deflate, br")
    assert headers["content-encoding"] == "br"
    assert body == b"BROTLI"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["cache-control"] == IMMUTABLE
    assert "javascript" in headers["content-type"]
    assert headers["content-length"] == str(len(b"BROTLI"))


async def test_gzip_when_brotli_is_refused(compressed: httpx.AsyncClient) -> None:
    headers, body = await _raw(compressed, "/assets/index-abc123.js", "br;q=0, gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == b"console.log(1)"
    assert headers["vary"] == "Accept-Encoding"


async def test_identity_without_accept_encoding_still_varies(compressed: httpx.AsyncClient) -> None:
    headers, body = await _raw(compressed, "/assets/index-abc123.js", "identity")
    assert "content-encoding" not in headers
    assert body == b"console.log(1)"
    assert headers["vary"] == "Accept-Encoding"


async def test_files_without_variants_do_not_vary(compressed: httpx.AsyncClient) -> None:
    headers, _ = await _raw(compressed, "/favicon.svg", "br, gzip")
    assert "content-encoding" not in headers
    assert "vary" not in headers


def test_accept_encoding_parsing() -> None:
    assert accepted_encodings("gzip, deflate, br") == {"gzip", "deflate", "br"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_encodings("*") == {"br", "gzip"}
    assert accepted_encodings("*, br;q=0") == {"gzip"}
    assert accepted_encodings("gzip;q=bogus") == frozenset()
    assert accepted_encodings("") == frozenset()


async def test_service_worker_and_manifest_are_revalidated(dist: Path) -> None:
    (dist / "sw.js").write_bytes(b"self.addEventListener('fetch', () => {})")
    (dist / "manifest.webmanifest").write_bytes(b'{"name": "messenger"}')
    async with _client_for(dist) as client:
        sw = await client.get("/sw.js")
        manifest = await client.get("/manifest.webmanifest")
    # the browser's update check must reach the server, or a deploy would never replace the worker
    assert sw.headers["cache-control"] == "no-cache"
    assert "javascript" in sw.headers["content-type"]
    assert manifest.headers["cache-control"] == "no-cache"
    assert manifest.headers["content-type"].startswith("application/manifest+json")
