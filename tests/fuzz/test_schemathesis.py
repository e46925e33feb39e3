"""Schemathesis against the app's own OpenAPI document, sent to a real server process.

Every operation gets valid and invalid data (positive and negative generation), sent with a real
user's bearer token, and every response must be: not a 5xx, a status the schema declares, a body
(and content type) matching the declared schema, a 4xx for data the schema says is invalid, 405
with `Allow` for a method the path does not take, and a 4xx when a required header is missing. A finding is fixed in
the app (or in the schema generator), never excluded here.

The document is generated in-process at collection time (schemathesis needs the operations to
parametrize the tests before any fixture runs); `test_served_document_is_the_fuzzed_one` pins it
to the bytes the server actually serves at /openapi.json.
"""

from __future__ import annotations

import copy
import os

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from ..rig import Server
from .world import DOC, World, make_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    negative_data_rejection,
    content_type_conformance,
    # Coverage phase: an undeclared method is 405 with Allow; a missing required header a 4xx.
    unsupported_method,
    missing_required_header,
]
# Bounded so the whole run fits the CI budget (~40 operations in about a minute or two).
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))

schema = schemathesis.openapi.from_dict(
    copy.deepcopy(DOC),  # schemathesis may annotate the document it is given
    config=schemathesis.Config.from_dict(
        {
            "seed": 20261128,
            "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "with-security-parameters": False},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@pytest.fixture
async def world(db: asyncpg.Pool, client: httpx.AsyncClient) -> World:
    return await make_world(db, client)


async def test_served_document_is_the_fuzzed_one(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == DOC


@schema.parametrize()
# One user per operation on purpose: its examples share that user (and what they create).
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_api(case: schemathesis.Case, world: World, server: Server) -> None:
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    if path is not None and path.mode is GenerationMode.POSITIVE and case.path_parameters:
        # Valid path ids name real rows; invalid ones stay as generated (and must be a 4xx).
        case.path_parameters = {k: str(world.ids[k]) if k in world.ids else v for k, v in case.path_parameters.items()}
    case.call_and_validate(base_url=server.url, headers=world.user.headers, checks=CHECKS, timeout=30)
