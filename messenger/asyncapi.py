"""The AsyncAPI 3.0 document of GET /v1/ws, generated from the frame Structs (realtime/frames.py).

Layer: edge.

Like the OpenAPI document, it cannot drift from the code: the schemas are msgspec's JSON Schema
of the very Structs the gateway decodes and encodes.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from .realtime import frames

_DESCRIPTION = (
    "One WebSocket per client session. Authenticate with `Authorization: Bearer <token>` on the upgrade "
    "or a first `auth` frame within 10 s (else close 4001). JSON text frames by default; offer the "
    "subprotocol `messenger.msgpack` for binary MessagePack frames of the same shape. Frames with a "
    "`cursor` are persisted events, delivered in cursor order; send `resume {cursor}` right after "
    "`ready` to catch up without gaps or duplicates. Close codes: 1008 session ended or flooding, "
    "1009 frame over 64 KiB, 1012 server restart (reconnect and resume), 4001 unauthorized, "
    "4008 too slow a consumer (reconnect and resume). See docs/protocol.md."
)


def _tag(cls: type[msgspec.Struct]) -> str:
    return str(cls.__struct_config__.tag)


@functools.cache
def document() -> bytes:
    structs = (*frames.CLIENT_FRAMES, *frames.SERVER_FRAMES)
    _, components = msgspec.json.schema_components(structs, ref_template="#/components/schemas/{name}")
    messages: dict[str, Any] = {}
    channel_messages: dict[str, Any] = {}
    client_refs: list[dict[str, str]] = []
    server_refs: list[dict[str, str]] = []
    for direction, group, refs in (
        ("client", frames.CLIENT_FRAMES, client_refs),
        ("server", frames.SERVER_FRAMES, server_refs),
    ):
        for cls in group:
            key = f"{direction}_{_tag(cls)}"
            messages[key] = {
                "name": _tag(cls),
                "title": f"{_tag(cls)} ({direction} → {'server' if direction == 'client' else 'client'})",
                "summary": (cls.__doc__ or "").strip().split("\n")[0] or None,
                "contentType": "application/json",
                "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            }
            if messages[key]["summary"] is None:
                del messages[key]["summary"]
            channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
            refs.append({"$ref": f"#/channels/socket/messages/{key}"})
    doc = {
        "asyncapi": "3.0.0",
        "info": {"title": "messenger WebSocket API", "version": "1", "description": _DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": {
            "socket": {
                "address": "/v1/ws",
                "title": "The client's socket",
                "messages": channel_messages,
                "bindings": {"ws": {"method": "GET", "bindingVersion": "0.1.0"}},
            }
        },
        "operations": {
            "clientFrames": {
                "action": "receive",
                "channel": {"$ref": "#/channels/socket"},
                "summary": "Frames a client sends",
                "messages": client_refs,
            },
            "serverFrames": {
                "action": "send",
                "channel": {"$ref": "#/channels/socket"},
                "summary": "Frames the server sends",
                "messages": server_refs,
            },
        },
        "components": {"schemas": components, "messages": messages},
    }
    return msgspec.json.encode(doc)


async def endpoint(request: Request) -> Response:
    return Response(document(), media_type="application/json")
