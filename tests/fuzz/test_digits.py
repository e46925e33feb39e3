"""Every path parameter, cursor and integer query parameter, fed any Unicode digits (Arabic-Indic,
fullwidth, superscripts, Devanagari, ...): never a 5xx, and never read as a number unless the
digits are ASCII (`str.isdigit()` accepts `²`, which `int()` refuses with a 500; `int("٣")` is 3).
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..rig import Server
from .world import OPERATIONS, World, is_integer, make_world

# Decimal digits of every script (Nd, ASCII included) and other digits such as superscripts (No).
UNICODE_DIGITS = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=24)
CURSORS = {"cursor", "since"}

Target = tuple[str, str, dict[str, Any], str, str]
TARGETS: list[Target] = [
    (method, path, op, param["in"], param["name"])
    for method, path, op in OPERATIONS
    for param in op.get("parameters", [])
    if param["in"] == "path" or param["name"] in CURSORS or is_integer(param["schema"])
]


@pytest.fixture
async def world(db: asyncpg.Pool, client: httpx.AsyncClient) -> World:
    return await make_world(db, client)


def test_every_target_is_swept() -> None:
    kinds = {(where, name) for _, _, _, where, name in TARGETS}
    assert {("path", "chat_id"), ("path", "id"), ("query", "since"), ("query", "cursor"), ("query", "limit")} <= kinds


@pytest.mark.timeout(300)
async def test_unicode_digits_in_ids_and_cursors_are_never_a_server_error(server: Server, world: World) -> None:
    seen = 0

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(TARGETS), UNICODE_DIGITS)
    def probe(target: Target, value: str) -> None:
        # Hypothesis drives sync functions: this one runs in a worker thread with its own client.
        nonlocal seen
        seen += 1
        method, path, op, where, name = target
        if where == "path":
            url, params = world.url(path, **{name: value}), {}
        else:
            url, params = world.url(path), {name: value}
        body = world.template(method, path) if "requestBody" in op else None
        with httpx.Client(base_url=server.url, timeout=30) as http:
            r = http.request(method, url, params=params, json=body, headers=world.user.headers)
        assert r.status_code < 500, (method, url, params, r.status_code, r.text)
        if not value.isascii():
            assert 400 <= r.status_code < 500, (method, url, params, r.status_code, r.text)

    await asyncio.to_thread(probe)
    assert seen >= 100
