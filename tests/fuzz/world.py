"""What the adversarial tests share: the app's OpenAPI document (built in-process from the route
table, the same function that serves /openapi.json) and a small world of real rows behind every
path id, so valid requests reach the handlers' logic instead of stopping at 404."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
from starlette.applications import Starlette

from messenger import openapi
from messenger.routes import ROUTES

from ..factories import PASSWORD, User, make_user

DOC: dict[str, Any] = json.loads(json.dumps(openapi.build(Starlette(routes=ROUTES))))
OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    (method.upper(), path, op) for path, item in DOC["paths"].items() for method, op in item.items()
]


def body_properties(op: dict[str, Any]) -> dict[str, Any]:
    body = op.get("requestBody")
    if body is None:
        return {}
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    props: dict[str, Any] = DOC["components"]["schemas"][ref].get("properties", {})
    return props


def is_integer(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "integer" for o in options) and not any(o.get("type") == "string" for o in options)


def is_string(schema: dict[str, Any]) -> bool:
    """A string field, or a reference to a string schema (an enum), not to an object."""
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "string" or ("$ref" in o and not _is_object(o["$ref"])) for o in options)


def _is_object(ref: str) -> bool:
    return bool(DOC["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("type") == "object")


def is_integer_list(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "array" and is_integer(o.get("items", {})) for o in options)


@dataclass
class World:
    """A user who owns a group chat (with a peer and a message), a medium and a spare session."""

    user: User
    ids: dict[str, int]

    def url(self, path: str, **override: str) -> str:
        values = {k: str(v) for k, v in self.ids.items()} | override
        for name, value in values.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        return path

    def template(self, method: str, path: str) -> dict[str, Any]:
        """A valid body for the operation (empty for operations not listed)."""
        bodies: dict[tuple[str, str], dict[str, Any]] = {
            ("POST", "/v1/auth/register"): {"email": "new@example.com", "username": "newbie", "password": "x" * 10},
            ("POST", "/v1/auth/verify-email"): {"token": "t"},
            ("POST", "/v1/auth/resend-verification"): {"email": self.user.email},
            ("POST", "/v1/auth/login"): {"login": self.user.username, "password": PASSWORD},
            ("POST", "/v1/auth/refresh"): {"refresh_token": "r"},
            ("POST", "/v1/auth/logout"): {"refresh_token": "r"},
            ("POST", "/v1/auth/password/forgot"): {"email": self.user.email},
            ("POST", "/v1/auth/password/reset"): {"token": "t", "password": "y" * 10},
            ("PATCH", "/v1/users/me"): {"display_name": "Name", "bio": "bio"},
            ("POST", "/v1/chats"): {"kind": "group", "title": "t", "member_ids": [self.ids["user_id"]]},
            ("PATCH", "/v1/chats/{chat_id}"): {"title": "t", "description": "d"},
            ("POST", "/v1/chats/{chat_id}/members"): {"user_id": self.ids["user_id"], "role": "member"},
            ("PATCH", "/v1/chats/{chat_id}/members/{user_id}"): {"role": "admin"},
            ("POST", "/v1/chats/{chat_id}/read"): {"seq": 1},
            ("POST", "/v1/chats/{chat_id}/messages"): {"client_msg_id": uuid.uuid4().hex, "text": "hello"},
            ("PATCH", "/v1/chats/{chat_id}/messages/{message_id}"): {"text": "edited"},
            ("POST", "/v1/media"): {"filename": "a.txt", "content_type": "text/plain", "size": 3},
        }
        return dict(bodies.get((method, path), {}))


async def make_world(db: asyncpg.Pool, client: httpx.AsyncClient) -> World:
    user, peer = await make_user(db), await make_user(db)
    h = user.headers
    chat = await client.post("/v1/chats", json={"kind": "group", "title": "w", "member_ids": [peer.id]}, headers=h)
    chat_id = chat.json()["chat"]["id"]
    sent = await client.post(f"/v1/chats/{chat_id}/messages", json={"client_msg_id": "w", "text": "hi"}, headers=h)
    medium = await client.post(
        "/v1/media", json={"filename": "a.txt", "content_type": "text/plain", "size": 3}, headers=h
    )
    # A second session, so DELETE /v1/auth/sessions/{id} does not end the one in use.
    session_id = await db.fetchval("INSERT INTO sessions (user_id, user_agent) VALUES ($1, 'w') RETURNING id", user.id)
    ids = {
        "chat_id": chat_id,
        "message_id": sent.json()["message"]["id"],
        "id": medium.json()["media"]["id"],
        "user_id": peer.id,
        "session_id": session_id,
    }
    return World(user, ids)
