"""Edge values schemathesis rarely draws, swept through every operation of the OpenAPI document:
integers just past PostgreSQL's bigint, bodies that are not UTF-8, and lone surrogates.

Each is a 4xx (never a 5xx) wherever it is sent. The first two were real 500s (see README,
"Adversarial suite"): msgspec's unconstrained `int` accepts up to 2**64-1, and msgspec raises
UnicodeDecodeError, not DecodeError, for invalid UTF-8 inside a JSON string.
"""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from .world import OPERATIONS, World, body_properties, is_integer, is_integer_list, is_string, make_world

OUT_OF_RANGE = [2**63, 2**64 - 1, 2**64, -(2**63) - 1]
BODY_OPERATIONS = [(m, p) for m, p, op in OPERATIONS if "requestBody" in op]


@pytest.fixture
async def world(db: asyncpg.Pool, client: httpx.AsyncClient) -> World:
    return await make_world(db, client)


async def test_integers_past_bigint_in_bodies_are_422(client: httpx.AsyncClient, world: World) -> None:
    sent = 0
    for method, path, op in OPERATIONS:
        for name, schema in body_properties(op).items():
            if not (is_integer(schema) or is_integer_list(schema)):
                continue
            for value in OUT_OF_RANGE:
                body = world.template(method, path) | {name: [value] if is_integer_list(schema) else value}
                r = await client.request(method, world.url(path), json=body, headers=world.user.headers)
                assert r.status_code in (413, 422), (method, path, name, value, r.status_code, r.text)
                sent += 1
    assert sent > 20  # the sweep really covered the integer fields


async def test_integers_past_bigint_in_queries_and_paths_are_4xx(client: httpx.AsyncClient, world: World) -> None:
    for method, path, op in OPERATIONS:
        for param in op["parameters"]:
            for value in OUT_OF_RANGE:
                if param["in"] == "path":
                    url, params = world.url(path, **{param["name"]: str(value)}), {}
                else:
                    url, params = world.url(path), {param["name"]: str(value)}
                body = world.template(method, path) if "requestBody" in op else None
                r = await client.request(method, url, params=params, json=body, headers=world.user.headers)
                assert r.status_code < 500, (method, url, params, r.text)
                if param["in"] == "path" or is_integer(param["schema"]):
                    assert 400 <= r.status_code < 500, (method, url, params, r.status_code, r.text)


@pytest.mark.parametrize("raw", [b"\xff", b"\xc3", b"\xef\xbb\xbf{}"])
async def test_a_body_that_is_not_utf8_json_is_400_everywhere(
    client: httpx.AsyncClient, world: World, raw: bytes
) -> None:
    for method, path in BODY_OPERATIONS:
        headers = {**world.user.headers, "Content-Type": "application/json"}
        r = await client.request(method, world.url(path), content=raw, headers=headers)
        assert r.status_code == 400, (method, path, r.status_code, r.text)


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"\xed\xa0\x80", b"a\xc3"])
async def test_invalid_utf8_inside_a_string_field_is_400(client: httpx.AsyncClient, world: World, bad: bytes) -> None:
    sent = 0
    for method, path, op in OPERATIONS:
        for name, schema in body_properties(op).items():
            if not is_string(schema):
                continue
            template = world.template(method, path)
            prefix = httpx.Request("POST", "/", json=template).content[:-1] + (b"," if template else b"")
            raw = prefix + b'"' + name.encode() + b'":"' + bad + b'"}'
            headers = {**world.user.headers, "Content-Type": "application/json"}
            r = await client.request(method, world.url(path), content=raw, headers=headers)
            assert r.status_code == 400, (method, path, name, r.status_code, r.text)
            sent += 1
    assert sent > 20


async def test_lone_surrogates_in_strings_are_4xx_or_stored(client: httpx.AsyncClient, world: World) -> None:
    for method, path, op in OPERATIONS:
        for name, schema in body_properties(op).items():
            if is_integer(schema) or is_integer_list(schema):
                continue
            template = world.template(method, path)
            body = httpx.Request("POST", "/", json=template).content[:-1].decode()
            raw = (body + ("," if template else "") + f'"{name}":"a\\ud800b"}}').encode()
            headers = {**world.user.headers, "Content-Type": "application/json"}
            r = await client.request(method, world.url(path), content=raw, headers=headers)
            assert r.status_code < 500, (method, path, name, r.text)


async def test_deeply_nested_bodies_are_4xx_everywhere(client: httpx.AsyncClient, world: World) -> None:
    for method, path in BODY_OPERATIONS:
        template = world.template(method, path)
        prefix = httpx.Request("POST", "/", json=template).content[:-1] + (b"," if template else b"")
        raw = prefix + b'"nested":' + b"[" * 20000 + b"]" * 20000 + b"}"
        headers = {**world.user.headers, "Content-Type": "application/json"}
        r = await client.request(method, world.url(path), content=raw, headers=headers)
        # 422 where the body type forbids unknown fields (the nesting is never reached)
        assert r.status_code in (400, 422), (method, path, r.status_code, r.text)
