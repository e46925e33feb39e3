"""Notifications end to end on a Redis-backed node: messages sent over the API, the notification
and digest jobs run by real `messenger worker --burst` processes, mails caught by aiosmtpd.

The module has its own database and Redis prefix: a node follows the event stream, which the
shared suite database rewinds after every test, and the worker's queue must hold only this
module's jobs.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from email.message import Message
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from messenger import notifications
from messenger.db import Database
from messenger.keys import RedisKeys
from messenger.notifications import Created

from .chat_factories import new_chat, send
from .factories import User, make_user
from .rig import REDIS_URL, TLS, Mailbox, Server, base_env, running_server
from .wsclient import WsClient, clients, private_database

PUBLIC_URL = "https://chat.example.test"
# The digest window of the worker runs (only the worker reads it in a Redis deployment): short
# enough to wait out; the batching test uses a longer one that a worker run never spans.
WINDOW = 1


@pytest.fixture(scope="module")
async def ndb() -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    async with private_database() as database_and_pool:
        yield database_and_pool


@pytest.fixture(scope="module")
def env(ndb: tuple[str, asyncpg.Pool], smtp: tuple[Mailbox, str]) -> dict[str, str]:
    return base_env(
        DATABASE_URL=ndb[0],
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=f"mtest:{uuid.uuid4().hex[:8]}:",
        SMTP_URL=smtp[1],
        PUBLIC_URL=PUBLIC_URL,
        MESSENGER_DATA_DIR=tempfile.mkdtemp(prefix="messenger-notif-"),
        WORKER_METRICS_PORT="0",
    )


@pytest.fixture(scope="module")
async def node(env: dict[str, str]) -> AsyncIterator[Server]:
    async with running_server(env) as srv:
        yield srv


@pytest.fixture
def pg(ndb: tuple[str, asyncpg.Pool]) -> asyncpg.Pool:
    return ndb[1]


@pytest.fixture
async def http(node: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=node.url, timeout=30, verify=TLS) as c:
        yield c


async def run_worker(env: dict[str, str], *, window: int = WINDOW) -> None:
    """One `messenger worker --burst`: the queued jobs plus one round of the periodic ones."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "messenger",
        "worker",
        "--burst",
        env={**env, "NOTIFICATION_EMAIL_WINDOW": str(window)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode(errors="replace")


async def notifications_of(http: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    r = await http.get("/v1/notifications", params=params, headers=user.headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["notifications"]
    return found


def body_of(mail: Message) -> str:
    """The text/plain part of a received mail."""
    for part in mail.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text/plain part")


async def test_mention_in_group_notifies_the_mentioned_member_only(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await new_chat(http, alice, "group", bob, carol)
    message = await send(http, alice, chat["id"], f"hello @{bob.username}")
    await run_worker(env)

    (n,) = await notifications_of(http, bob)
    assert (n["kind"], n["chat_id"], n["message_id"], n["read"]) == ("mention", chat["id"], message["id"], False)
    assert await notifications_of(http, carol) == []
    assert await notifications_of(http, alice) == []


async def test_offline_direct_message_creates_a_message_notification(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    message = await send(http, alice, chat["id"], "are you there?")
    await run_worker(env)

    (n,) = await notifications_of(http, bob)
    assert (n["kind"], n["chat_id"], n["message_id"]) == ("message", chat["id"], message["id"])


async def test_group_messages_notify_only_members_who_asked_for_every_message(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob, carol = [await make_user(pg) for _ in range(3)]
    chat = await new_chat(http, alice, "group", bob, carol)
    r = await http.patch(f"/v1/chats/{chat['id']}/settings", json={"notify_all": True}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"settings": {"muted": False, "notify_all": True}}
    await send(http, alice, chat["id"], "news")
    await run_worker(env)

    assert [n["kind"] for n in await notifications_of(http, bob)] == ["message"]
    assert await notifications_of(http, carol) == []


async def test_a_message_nobody_could_be_notified_of_enqueues_no_job(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    # No mention, not a direct chat, nobody asked for every message: send_messages says so, and
    # the send path skips the job (and its query) altogether.
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "group", bob)
    redis = Redis.from_url(REDIS_URL)
    try:
        queue = RedisKeys(env["REDIS_PREFIX"]).job_queue
        before = await redis.zcard(queue)
        await send(http, alice, chat["id"], "nothing to notify anyone of")
        assert await redis.zcard(queue) == before
    finally:
        await redis.aclose()


async def test_online_user_gets_a_frame_and_no_email(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], node: Server, mailbox: Mailbox
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    group = await new_chat(http, alice, "group", bob)
    direct = await new_chat(http, alice, "direct", bob)
    ws = await WsClient.open(node.ws_url, bob.token)
    async with clients(ws):
        mention = await send(http, alice, group["id"], f"@{bob.username} look")
        await send(http, alice, direct["id"], "you see this live")
        await run_worker(env)
        frame = await ws.expect("notification")
        assert frame["notification"]["kind"] == "mention"
        assert frame["notification"]["message_id"] == mention["id"]
        assert frame["notification"]["read"] is False
        assert await ws.quiet({"notification"}) == []
        await asyncio.sleep(WINDOW + 0.2)
        await run_worker(env)

    # The direct message was seen live: no notification; the mention waits for no email.
    listed = await notifications_of(http, bob)
    assert [n["id"] for n in listed] == [frame["notification"]["id"]]
    assert mailbox.to(bob.email) == []


async def test_muted_chat_notifies_mentions_only(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    r = await http.patch(f"/v1/chats/{chat['id']}/settings", json={"muted": True}, headers=bob.headers)
    assert r.status_code == 200, r.text
    await send(http, alice, chat["id"], "plain message")
    mention = await send(http, alice, chat["id"], f"but @{bob.username} this matters")
    await run_worker(env)

    (n,) = await notifications_of(http, bob)
    assert (n["kind"], n["message_id"]) == ("mention", mention["id"])


async def test_offline_user_gets_one_email_per_window_summarising_unread_notifications(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], mailbox: Mailbox
) -> None:
    window = 4
    alice, bob = await make_user(pg, display_name="Alice"), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    await send(http, alice, chat["id"], "first")
    await send(http, alice, chat["id"], "second")
    await run_worker(env, window=window)
    await run_worker(env, window=window)
    assert mailbox.to(bob.email) == []  # the window has not passed yet

    await asyncio.sleep(window + 0.2)
    await run_worker(env, window=window)
    (mail,) = await mailbox.wait_for(bob.email)
    text = body_of(mail)
    assert "2 new messages" in text
    assert f"{PUBLIC_URL}/chats/{chat['id']}" in text
    assert "Alice: second" in text

    # A new notification opens a new window: the scan after it sends nothing yet.
    await send(http, alice, chat["id"], "third")
    await run_worker(env, window=window)
    await run_worker(env, window=window)
    assert len(mailbox.to(bob.email)) == 1

    await asyncio.sleep(window + 0.2)
    await run_worker(env, window=window)
    first, second = await mailbox.wait_for(bob.email, 2)
    assert "1 new message " in body_of(second)
    assert first["Message-ID"] != second["Message-ID"]


async def test_user_online_when_the_window_ends_is_mailed_only_after_going_offline(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], node: Server, mailbox: Mailbox
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    await send(http, alice, chat["id"], "while you were away")
    await run_worker(env)  # bob is offline: the notification waits for an email
    ws = await WsClient.open(node.ws_url, bob.token)
    async with clients(ws):
        await asyncio.sleep(WINDOW + 0.2)
        await run_worker(env)
        assert mailbox.to(bob.email) == []
    # Closing the socket starts presence's reconnect grace: bob is offline only after it.
    await _wait_offline(http, alice, bob.id)
    await run_worker(env)
    await mailbox.wait_for(bob.email)


async def _wait_offline(http: httpx.AsyncClient, viewer: User, user_id: int) -> None:
    for _ in range(300):
        r = await http.get("/v1/presence", params={"user_ids": str(user_id)}, headers=viewer.headers)
        assert r.status_code == 200, r.text
        if not r.json()["presence"][0]["online"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"user {user_id} is still online")


async def test_notifications_read_before_the_window_ends_get_no_email(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], mailbox: Mailbox
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    await send(http, alice, chat["id"], "ping")
    await run_worker(env)
    r = await http.post("/v1/notifications/read", json={"all": True}, headers=bob.headers)
    assert r.status_code == 204, r.text

    await asyncio.sleep(WINDOW + 0.2)
    await run_worker(env)
    assert mailbox.to(bob.email) == []
    assert await pg.fetchval("SELECT count(*) FROM digest_emails WHERE user_id = $1", bob.id) == 0


async def test_reading_the_chat_reads_its_notifications_and_cancels_the_email(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], mailbox: Mailbox
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "direct", bob)
    message = await send(http, alice, chat["id"], "ping")
    await run_worker(env)
    r = await http.post(f"/v1/chats/{chat['id']}/read", json={"seq": message["seq"]}, headers=bob.headers)
    assert r.status_code == 204, r.text

    (n,) = await notifications_of(http, bob)
    assert n["read"] is True
    assert await notifications_of(http, bob, unread=1) == []
    await asyncio.sleep(WINDOW + 0.2)
    await run_worker(env)
    assert mailbox.to(bob.email) == []


async def test_email_settings_off_means_notifications_without_email(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str], mailbox: Mailbox
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    r = await http.patch("/v1/users/me/settings", json={"email_direct_messages": False}, headers=bob.headers)
    assert r.status_code == 200, r.text
    chat = await new_chat(http, alice, "direct", bob)
    await send(http, alice, chat["id"], "quiet please")
    await run_worker(env)
    assert len(await notifications_of(http, bob)) == 1

    await asyncio.sleep(WINDOW + 0.2)
    await run_worker(env)
    assert mailbox.to(bob.email) == []


async def test_mark_read_by_ids_and_unread_count(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "group", bob)
    for i in range(3):
        await send(http, alice, chat["id"], f"@{bob.username} {i}")
    await run_worker(env)
    newest, middle, oldest = await notifications_of(http, bob)
    assert newest["id"] > middle["id"] > oldest["id"]

    r = await http.post("/v1/notifications/read", json={"ids": [middle["id"]]}, headers=bob.headers)
    assert r.status_code == 204, r.text
    unread = await notifications_of(http, bob, unread=1)
    assert [n["id"] for n in unread] == [newest["id"], oldest["id"]]
    me = (await http.get("/v1/users/me", headers=bob.headers)).json()["user"]
    assert me["unread_notifications"] == 2

    # Someone else's ids are ignored, not an error.
    r = await http.post("/v1/notifications/read", json={"ids": [newest["id"]]}, headers=alice.headers)
    assert r.status_code == 204
    assert len(await notifications_of(http, bob, unread=1)) == 2


async def test_notification_pages_follow_the_cursor(
    http: httpx.AsyncClient, pg: asyncpg.Pool, env: dict[str, str]
) -> None:
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "group", bob)
    for i in range(5):
        await send(http, alice, chat["id"], f"@{bob.username} {i}")
    await run_worker(env)
    r = await http.get("/v1/notifications", params={"limit": 2}, headers=bob.headers)
    page1 = r.json()
    r = await http.get("/v1/notifications", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=bob.headers)
    page2 = r.json()
    r = await http.get("/v1/notifications", params={"limit": 2, "cursor": page2["next_cursor"]}, headers=bob.headers)
    page3 = r.json()
    ids = [n["id"] for p in (page1, page2, page3) for n in p["notifications"]]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True)
    assert page3["next_cursor"] is None


class ConnectsDuringTheJob:
    """Stands in for the realtime side (not storage): `user` is offline at the job's first
    presence check and online by the time the notifications are committed."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.checks = 0
        self.delivered: list[Created] = []

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        self.checks += 1
        return {self.user_id} & set(user_ids) if self.checks > 1 else set()

    async def deliver(self, created: Sequence[Created]) -> None:
        self.delivered.extend(created)


async def test_a_user_who_connects_while_the_job_runs_gets_the_frame(
    env: dict[str, str], pg: asyncpg.Pool, http: httpx.AsyncClient, ndb: tuple[str, asyncpg.Pool]
) -> None:
    """Their `ready` snapshot may have been taken before the insert committed: only the frame
    can tell them, so presence is asked again after the insert."""
    alice, bob = await make_user(pg), await make_user(pg)
    chat = await new_chat(http, alice, "group", bob)
    sent = await send(http, alice, chat["id"], f"@{bob.username} look")
    notifier = ConnectsDuringTheJob(bob.id)
    db = await Database.connect(ndb[0], min_size=1, max_size=2)
    try:
        assert await notifications.create_for_messages(db, notifier, [sent["id"]]) == 1
    finally:
        await db.close()
    assert [(c.user_id, c.notification.kind, c.notification.message_id) for c in notifier.delivered] == [
        (bob.id, "mention", sent["id"])
    ]
    await run_worker(env)  # the send's own job finds the notification made and adds nothing
    assert len(await notifications_of(http, bob)) == 1
