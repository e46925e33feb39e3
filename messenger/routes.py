"""The whole route table, in one place (the contract's order).

Layer: edge.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from . import asyncapi
from .api import admin, auth, chats, media, messages, notifications, ops, reactions, search, sync, users
from .realtime.gateway import Gateway
from .webapp import WebClient

# The realtime endpoint. app.py serves it ahead of the middleware stack (create_app); the route
# below is what the rest of the table, the OpenAPI and AsyncAPI documents see.
WS_PATH = "/v1/ws"
GATEWAY = Gateway()

ROUTES: list[BaseRoute] = [
    # -- accounts and users --
    Route("/v1/auth/register", auth.register, methods=["POST"]),
    Route("/v1/auth/verify-email", auth.verify_email, methods=["POST"]),
    Route("/v1/auth/resend-verification", auth.resend_verification, methods=["POST"]),
    Route("/v1/auth/login", auth.login, methods=["POST"]),
    Route("/v1/auth/refresh", auth.refresh, methods=["POST"]),
    Route("/v1/auth/logout", auth.logout, methods=["POST"]),
    Route("/v1/auth/password/forgot", auth.forgot_password, methods=["POST"]),
    Route("/v1/auth/password/reset", auth.reset_password, methods=["POST"]),
    Route("/v1/auth/sessions", auth.sessions, methods=["GET"]),
    Route("/v1/auth/sessions/{session_id}", auth.revoke_session, methods=["DELETE"]),
    Route("/v1/users/me", users.get_me, methods=["GET"]),
    Route("/v1/users/me", users.patch_me, methods=["PATCH"]),
    Route("/v1/users/me", users.delete_me, methods=["DELETE"]),
    Route("/v1/users/{user_id}", users.get_user, methods=["GET"]),
    Route("/v1/users", users.search, methods=["GET"]),
    Route("/v1/presence", users.presence, methods=["GET"]),
    # -- chats, messages, sync --
    Route("/v1/chats", chats.create_chat, methods=["POST"]),
    Route("/v1/chats", chats.list_chats, methods=["GET"]),
    Route("/v1/chats/{chat_id}", chats.get_chat, methods=["GET"]),
    Route("/v1/chats/{chat_id}", chats.update_chat, methods=["PATCH"]),
    Route("/v1/chats/{chat_id}", chats.delete_chat, methods=["DELETE"]),
    Route("/v1/chats/{chat_id}/members", chats.list_members, methods=["GET"]),
    Route("/v1/chats/{chat_id}/members", chats.add_member, methods=["POST"]),
    Route("/v1/chats/{chat_id}/members/{user_id}", chats.change_role, methods=["PATCH"]),
    Route("/v1/chats/{chat_id}/members/{user_id}", chats.remove_member, methods=["DELETE"]),
    Route("/v1/chats/{chat_id}/read", chats.mark_read, methods=["POST"]),
    Route("/v1/chats/{chat_id}/messages", messages.send_message, methods=["POST"]),
    Route("/v1/chats/{chat_id}/messages", messages.list_messages, methods=["GET"]),
    Route("/v1/chats/{chat_id}/messages/{message_id}", messages.edit_message, methods=["PATCH"]),
    Route("/v1/chats/{chat_id}/messages/{message_id}", messages.delete_message, methods=["DELETE"]),
    Route("/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", reactions.add_reaction, methods=["PUT"]),
    Route("/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", reactions.remove_reaction, methods=["DELETE"]),
    Route("/v1/chats/{chat_id}/messages/{message_id}/reactions/{emoji}", reactions.reaction_users, methods=["GET"]),
    Route("/v1/chats/{chat_id}/pins", reactions.list_pins, methods=["GET"]),
    Route("/v1/chats/{chat_id}/pins/{message_id}", reactions.pin, methods=["PUT"]),
    Route("/v1/chats/{chat_id}/pins/{message_id}", reactions.unpin, methods=["DELETE"]),
    Route("/v1/sync", sync.sync, methods=["GET"]),
    Route("/v1/search/messages", search.search_messages, methods=["GET"]),
    # -- media --
    Route("/v1/media", media.create, methods=["POST"]),
    Route("/v1/media/{id}", media.get, methods=["GET"]),
    Route("/v1/media/{id}/complete", media.complete, methods=["POST"]),
    Route("/v1/media/{id}/upload", media.upload, methods=["PUT"]),
    Route("/v1/media/{id}/download", media.download, methods=["GET"]),
    Route("/v1/media/{id}/avatar", media.avatar, methods=["GET"]),
    # -- notifications --
    Route("/v1/notifications", notifications.list_notifications, methods=["GET"]),
    Route("/v1/notifications/read", notifications.mark_read, methods=["POST"]),
    Route("/v1/users/me/settings", notifications.get_user_settings, methods=["GET"]),
    Route("/v1/users/me/settings", notifications.patch_user_settings, methods=["PATCH"]),
    Route("/v1/chats/{chat_id}/settings", notifications.get_chat_settings, methods=["GET"]),
    Route("/v1/chats/{chat_id}/settings", notifications.patch_chat_settings, methods=["PATCH"]),
    # -- server administration --
    Route("/v1/admin/users", admin.list_users, methods=["GET"]),
    Route("/v1/admin/users/{user_id}/deactivate", admin.deactivate_user, methods=["POST"]),
    Route("/v1/admin/users/{user_id}/reactivate", admin.reactivate_user, methods=["POST"]),
    Route("/v1/admin/messages/{message_id}", admin.delete_message, methods=["DELETE"]),
    Route("/v1/admin/stats", admin.stats, methods=["GET"]),
    # -- websocket --
    WebSocketRoute(WS_PATH, GATEWAY),
    Route("/asyncapi.json", asyncapi.endpoint, methods=["GET"]),
    # Operations
    Route("/healthz", ops.healthz, methods=["GET"]),
    Route("/readyz", ops.readyz, methods=["GET"]),
    Route("/metrics", ops.metrics, methods=["GET"]),
    Route("/openapi.json", ops.openapi, methods=["GET"]),
    # -- web client --
    # Last on purpose: it claims only GET/HEAD of non-API paths (see messenger/webapp.py).
    WebClient(),
]
