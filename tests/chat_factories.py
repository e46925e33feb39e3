"""Plain async helpers for the chat, message and sync tests: they go through the HTTP API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from .factories import User

_ids = itertools.count(1)


async def new_chat(client: httpx.AsyncClient, owner: User, kind: str, *members: User, title: str = "t") -> Any:
    body: dict[str, Any] = {"kind": kind, "member_ids": [m.id for m in members]}
    if kind != "direct":
        body["title"] = title
    r = await client.post("/v1/chats", json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return r.json()["chat"]


async def post(
    client: httpx.AsyncClient,
    user: User,
    chat_id: int,
    text: str = "hi",
    *,
    client_msg_id: str | None = None,
    **extra: Any,
) -> httpx.Response:
    body = {"client_msg_id": client_msg_id or f"c{next(_ids)}", "text": text, **extra}
    return await client.post(f"/v1/chats/{chat_id}/messages", json=body, headers=user.headers)


async def send(client: httpx.AsyncClient, user: User, chat_id: int, text: str = "hi", **extra: Any) -> Any:
    r = await post(client, user, chat_id, text, **extra)
    assert r.status_code == 201, r.text
    return r.json()["message"]


async def add(client: httpx.AsyncClient, by: User, chat_id: int, user: User, role: str = "member") -> httpx.Response:
    return await client.post(
        f"/v1/chats/{chat_id}/members", json={"user_id": user.id, "role": role}, headers=by.headers
    )


async def cursor_now(client: httpx.AsyncClient, user: User) -> str:
    r = await client.get("/v1/sync", headers=user.headers)
    assert r.status_code == 200, r.text
    cursor: str = r.json()["cursor"]
    return cursor


async def sync(client: httpx.AsyncClient, user: User, since: str, limit: int = 500) -> Any:
    r = await client.get("/v1/sync", params={"since": since, "limit": limit}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


class Cast:
    """A chat with one user in each role plus an outsider."""

    def __init__(self, chat: Any, owner: User, admin: User, member: User, outsider: User) -> None:
        self.chat = chat
        self.id: int = chat["id"]
        self.owner, self.admin, self.member, self.outsider = owner, admin, member, outsider

    def by_role(self, role: str) -> User:
        user: User = getattr(self, role)
        return user


async def cast(client: httpx.AsyncClient, db: Any, kind: str = "group") -> Cast:
    from .factories import make_user

    owner, admin, member, outsider = [await make_user(db) for _ in range(4)]
    chat = await new_chat(client, owner, kind, member)
    r = await add(client, owner, chat["id"], admin, "admin")
    assert r.status_code == 201, r.text
    return Cast(chat, owner, admin, member, outsider)
