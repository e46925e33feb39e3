"""The web client: a small pure-ASGI handler that serves the built single-page app at `/`.

Layer: edge.

It is the last entry of the route table and claims only GET/HEAD requests for paths that are
not the API's (`/v1`, the operations endpoints and the API documents), so it can never shadow
an endpoint, turn an API 404/405 into HTML, or answer a WebSocket upgrade.

Where the built files come from (first that exists):
  1. `messenger/_web/`: a wheel built from this repo ships `web/dist` there (web/hatch_build.py);
  2. `<repo>/web/dist/`: a source checkout after `cd web && npm ci && npm run build`.
If neither exists, `/` answers a short page that says how to build it (the server never runs
npm itself: a production node must not compile assets at start, and test servers must not race
to build them).

Caching: Vite puts content-hashed files under `/assets/`, so they are immutable for a year;
`index.html` (and the SPA fallback, which is the same file), the service worker `sw.js` and the
manifest are `no-cache` so a deploy is seen at the next navigation (and the browser's
service-worker update check always reaches the server). HTML responses carry the security
headers (CSP without inline scripts, no framing, nosniff, referrer policy).

Compression: the build writes `name.br` and `name.gz` beside every compressible file
(web/vite.config.ts), so nothing is compressed per request. A file that has variants is answered
with the best one the request's `Accept-Encoding` admits (brotli, then gzip, then identity) and
always with `Vary: Accept-Encoding`, so a shared cache never hands brotli to a client that did
not ask for it.
"""

from __future__ import annotations

import asyncio
import functools
import mimetypes
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import msgspec
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from .errors import NotFound

_PACKAGED = Path(__file__).resolve().parent / "_web"
_SOURCE = Path(__file__).resolve().parent.parent / "web" / "dist"

# Paths that belong to the server, whatever their suffix: never answered with the app.
_RESERVED_EXACT = frozenset({"/v1", "/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json"})
_RESERVED_PREFIXES = ("/v1/",)

# CSP Level 3: 'self' also matches ws:/wss: on the same host, so the socket needs no wildcard
# (a bare `ws: wss:` would let injected script talk to any host).
CSP = "default-src 'self'; connect-src 'self'; frame-ancestors 'none'"
HTML_HEADERS: dict[str, str] = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


@functools.cache
def html_headers(media_origin: str | None) -> dict[str, str]:
    """With an S3-compatible media store the browser uploads to and loads images from its origin
    (presigned URLs), so that one origin, and only it, is added to connect-src and img-src."""
    if media_origin is None:
        return HTML_HEADERS
    csp = (
        f"default-src 'self'; connect-src 'self' {media_origin}; img-src 'self' {media_origin}; frame-ancestors 'none'"
    )
    return {**HTML_HEADERS, "content-security-policy": csp}


def _media_origin(scope: Scope) -> str | None:
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    endpoint = getattr(settings, "s3_endpoint_url", None)
    if not isinstance(endpoint, str) or not endpoint:
        return None
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


IMMUTABLE = "public, max-age=31536000, immutable"

# Precompressed siblings, best first (the `Content-Encoding` token and the file suffix).
_VARIANTS = (("br", ".br"), ("gzip", ".gz"))
# Types Python's table does not know (or knows differently on some systems).
_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript", ".mjs": "text/javascript"}

_NOT_BUILT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>messenger: web client not built</title></head>
<body><h1>The web client is not built</h1>
<p>The API is running (see <a href="/openapi.json">/openapi.json</a>). To serve the web client
from this source checkout, build it once (Node.js 20+ and npm):</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>then reload this page; the server picks up <code>web/dist</code> without a restart.
Packaged installs (a wheel built from the repository) already contain it.</p>
</body></html>
"""


_NOT_FOUND = msgspec.json.encode(NotFound().body())


def is_reserved(path: str) -> bool:
    return path in _RESERVED_EXACT or path.startswith(_RESERVED_PREFIXES)


def default_root() -> Path | None:
    for candidate in (_PACKAGED, _SOURCE):
        if (candidate / "index.html").is_file():
            return candidate
    return None


class WebClient(BaseRoute):
    """Route-table entry for the SPA. `root=None` looks for the built files on every request,
    so building them while the server runs needs no restart."""

    # The route label in metrics and logs (observability reads `route.path`): one series for
    # every page of the app, not one per URL.
    path = "/*"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        if is_reserved(scope["path"]):
            return Match.NONE, {}
        return Match.FULL, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = await asyncio.to_thread(_built_root, self.root)
        head = scope["method"] == "HEAD"
        if root is None:
            headers = {**html_headers(_media_origin(scope)), "cache-control": "no-store"}
            await _respond(send, 503, _NOT_BUILT, "text/html; charset=utf-8", headers, head)
            return
        accepted = accepted_encodings(_header(scope, b"accept-encoding"))
        found = await asyncio.to_thread(_lookup, root, scope["path"], accepted)
        if found is None:
            # the API's error shape, so every 4xx of the server reads the same
            await _respond(send, 404, _NOT_FOUND, "application/json", {"cache-control": "no-cache"}, head)
            return
        encoding: dict[str, str] = {}
        if found.has_variants:
            encoding["vary"] = "Accept-Encoding"
        if found.encoding is not None:
            encoding["content-encoding"] = found.encoding
        if found.path.name == "index.html":
            await _respond(
                send,
                200,
                found.body,
                "text/html; charset=utf-8",
                {**html_headers(_media_origin(scope)), "cache-control": "no-cache", **encoding},
                head,
            )
            return
        suffix = found.path.suffix.lower()
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(found.path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("json"):
            content_type += "; charset=utf-8"
        hashed = found.path.parent == root.resolve() / "assets"
        headers = {
            "cache-control": IMMUTABLE if hashed else "no-cache",
            "x-content-type-options": "nosniff",
            **encoding,
        }
        await _respond(send, 200, found.body, content_type, headers, head)


def _built_root(root: Path | None) -> Path | None:
    if root is None:
        return default_root()
    return root if (root / "index.html").is_file() else None


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def accepted_encodings(header: str) -> frozenset[str]:
    """The content codings an `Accept-Encoding` value admits (RFC 9110 12.5.3): `q=0` refuses
    one, `*` stands for any coding not named."""
    named: dict[str, bool] = {}
    for item in header.split(","):
        token, *params = (part.strip() for part in item.split(";"))
        if not token:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        named[token.lower()] = quality > 0
    wildcard = named.pop("*", False)
    codings = {token for token, ok in named.items() if ok}
    if wildcard:
        codings.update(c for c, _ in _VARIANTS if c not in named)
    return frozenset(codings)


class _Found(NamedTuple):
    path: Path
    body: bytes
    encoding: str | None
    has_variants: bool


def _read(path: Path, accepted: frozenset[str]) -> _Found:
    """The file, or its best precompressed sibling that the client accepts."""
    has_variants = False
    for coding, suffix in _VARIANTS:
        sibling = path.with_name(path.name + suffix)
        if sibling.is_file():
            has_variants = True
            if coding in accepted:
                return _Found(path, sibling.read_bytes(), coding, True)
    return _Found(path, path.read_bytes(), None, has_variants)


def _lookup(root: Path, url_path: str, accepted: frozenset[str] = frozenset()) -> _Found | None:
    """The file for a URL path, the SPA's index.html for an app route, or None (404).

    A path whose last segment has a dot, or anything under /assets/, names a file: if it is
    missing the answer is 404, not HTML (a stale hashed script must fail loudly, not parse HTML).
    """
    relative = url_path.lstrip("/")
    if relative:
        try:
            candidate = (root / relative).resolve()
            # Never leave the root (../, symlinks out, encoded traversal after decoding).
            if candidate.is_relative_to(root.resolve()) and candidate.is_file():
                return _read(candidate, accepted)
        except (OSError, ValueError):
            return None  # a NUL byte or an over-long name in the URL: no such file

        last = relative.rsplit("/", 1)[-1]
        if "." in last or relative.startswith("assets/"):
            return None
    return _read(root / "index.html", accepted)


async def _respond(
    send: Send, status: int, body: bytes, content_type: str, headers: dict[str, str], head: bool
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})
