"""OpenAPI 3.1 generated from the route table and the msgspec Structs of each endpoint.

Layer: edge.

Nothing here is written by hand per endpoint: `@endpoint(...)` records body, query and response
types, and msgspec produces the JSON Schemas. The result is built once per app and cached.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.routing import Route

from . import __version__
from .errors import ErrorResponse
from .http import spec_of

_REF = "#/components/schemas/{name}"
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Malformed request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Too large",
    415: "Unsupported media type",
    422: "Validation failed",
    429: "Rate limited",
    503: "A backing service is unavailable; retry",
}

_cache: dict[int, bytes] = {}


def document(app: Starlette) -> bytes:
    cached = _cache.get(id(app))
    if cached is None:
        cached = _cache[id(app)] = msgspec.json.encode(build(app))
    return cached


def _query_parameters(tp: type) -> list[dict[str, Any]]:
    (schema,), components = msgspec.json.schema_components([tp], ref_template=_REF)
    name = schema["$ref"].rsplit("/", 1)[-1]
    obj = components[name]
    required = set(obj.get("required", []))
    return [
        {"name": prop, "in": "query", "required": prop in required, "schema": sub}
        for prop, sub in obj.get("properties", {}).items()
    ]


def build(app: Starlette) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    types: list[Any] = [ErrorResponse]
    operations: list[tuple[dict[str, Any], Any, Any]] = []
    seen_ids: set[str] = set()
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        spec = spec_of(route.endpoint)
        if spec is None:
            continue
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            # Handlers in different api modules may share a name (chats.mark_read and
            # notifications.mark_read); OpenAPI requires unique operationIds.
            op_id = route.name
            if op_id in seen_ids:
                op_id = f"{route.endpoint.__module__.rsplit('.', 1)[-1]}_{route.name}"
            seen_ids.add(op_id)
            op: dict[str, Any] = {
                "operationId": op_id,
                "summary": spec.summary or route.name.replace("_", " "),
                "tags": list(spec.tags),
                "parameters": [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                    for p in route.param_convertors
                ],
                "responses": {},
            }
            if spec.query is not None:
                op["parameters"].extend(_query_parameters(spec.query))
            if spec.auth:
                op["security"] = [{"bearer": []}]
            if spec.body is not None:
                types.append(spec.body)
            if spec.response is not None:
                types.append(spec.response)
            operations.append((op, spec, route))
            paths.setdefault(route.path, {})[method.lower()] = op
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    by_type = dict(zip(types, schemas, strict=True))
    error_ref = by_type[ErrorResponse]
    for op, spec, _route in operations:
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_type[spec.body]}},
            }
        success: dict[str, Any] = {"description": _STATUS_TEXT.get(spec.status, "OK")}
        if spec.response is not None and spec.status != 204:
            success["content"] = {"application/json": {"schema": by_type[spec.response]}}
        op["responses"][str(spec.status)] = success
        for extra in spec.extra_statuses:
            extra_resp: dict[str, Any] = {"description": _STATUS_TEXT.get(extra, "OK")}
            if spec.response is not None and extra != 204:
                extra_resp["content"] = {"application/json": {"schema": by_type[spec.response]}}
            op["responses"][str(extra)] = extra_resp
        statuses = set(spec.errors)
        statuses.add(422 if spec.body is not None or spec.query is not None else 404)
        if spec.body is not None:
            statuses.update((400, 413))
        if not spec.raw_body:
            # Any body not declared as JSON (messenger/http.py), even where none is expected.
            statuses.add(415)
        if spec.auth:
            statuses.add(401)
        # Any operation may meet an unreachable database (messenger/http.py: UNAVAILABLE_ERRORS).
        statuses.add(503)
        for status in sorted(statuses):
            op["responses"][str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "messenger",
            "version": __version__,
            "description": "Public v1 REST API. The WebSocket protocol is described at /asyncapi.json.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
