"""The group-commit writer's pipelining rules, with a send_batch the test holds open.

The writer's own logic (which requests go in which batch, how many commit at once) is tested
here in-process; that batches commit and publish correctly is test_messages_batch.py's and
test_ws.py's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import pytest

from messenger.db import Database, HeldConnections
from messenger.errors import AppError
from messenger.messages import SendRequest, SendResult
from messenger.realtime.writer import GroupCommitWriter

from .held import HeldCalls


class HeldBatches(HeldCalls[str]):
    """A send_batch whose every call waits until the test releases it; echoes each request back."""

    def __init__(self, after: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        super().__init__()
        # Work each batch leaves for after its acks (given the batch's keys).
        self.after = after

    async def __call__(self, requests: Sequence[SendRequest], after_acks: list[Awaitable[None]]) -> list[SendResult]:
        keys = [r.client_msg_id for r in requests]
        await self.hold(keys)
        if self.after is not None:
            after_acks.append(self.after(keys))
        return [AppError(key, code="echo") for key in keys]


class Acks:
    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    def done_for(self, key: str) -> Callable[[SendResult], None]:
        def done(result: SendResult) -> None:
            assert isinstance(result, AppError)
            self.got.append((key, result.code))
            self.changed.set()

        return done

    async def wait(self, n: int) -> None:
        while len(self.got) < n:
            self.changed.clear()
            await self.changed.wait()


def submit(writer: GroupCommitWriter, acks: Acks, chat_id: int, key: str) -> None:
    writer.submit(SendRequest(1, chat_id, key, "x"), acks.done_for(key))


async def test_requests_of_one_loop_turn_share_a_batch() -> None:
    held, acks = HeldBatches(), Acks()
    writer = GroupCommitWriter(held)
    writer.start()
    for i in range(5):
        submit(writer, acks, 10 + i, f"m{i}")
    await held.wait_calls(1)
    held.release(0)
    await acks.wait(5)
    assert held.calls == [["m0", "m1", "m2", "m3", "m4"]]
    await writer.close()


async def test_a_chat_in_flight_waits_while_other_chats_commit_beside_it() -> None:
    held, acks = HeldBatches(), Acks()
    writer = GroupCommitWriter(held, max_inflight=2)
    writer.start()
    submit(writer, acks, 1, "a1")
    await held.wait_calls(1)
    submit(writer, acks, 1, "a2")
    submit(writer, acks, 2, "b1")
    submit(writer, acks, 1, "a3")
    await held.wait_calls(2)
    # Chat 1 is in flight: its later sends wait, in order; chat 2 starts at once.
    assert held.calls == [["a1"], ["b1"]]
    held.release(1)
    await acks.wait(1)
    assert held.calls == [["a1"], ["b1"]]
    held.release(0)
    await held.wait_calls(3)
    assert held.calls[2] == ["a2", "a3"]
    held.release(2)
    await acks.wait(4)
    assert acks.got == [("b1", "echo"), ("a1", "echo"), ("a2", "echo"), ("a3", "echo")]
    await writer.close()


async def test_no_more_than_max_inflight_batches_commit_at_once() -> None:
    held, acks = HeldBatches(), Acks()
    writer = GroupCommitWriter(held, max_inflight=2)
    writer.start()
    submit(writer, acks, 1, "a")
    await held.wait_calls(1)
    submit(writer, acks, 2, "b")
    await held.wait_calls(2)
    submit(writer, acks, 3, "c")
    submit(writer, acks, 4, "d")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(held.calls) == 2
    held.release(0)
    await held.wait_calls(3)
    assert held.calls[2] == ["c", "d"]
    held.release(1)
    held.release(2)
    await acks.wait(4)
    await writer.close()


async def test_a_failed_batch_fails_only_its_own_requests() -> None:
    held, acks = HeldBatches(), Acks()
    writer = GroupCommitWriter(held, max_inflight=2)
    writer.start()
    submit(writer, acks, 1, "a")
    await held.wait_calls(1)
    submit(writer, acks, 2, "b")
    await held.wait_calls(2)
    held.release(0, RuntimeError("connection lost"))
    held.release(1)
    await acks.wait(2)
    assert sorted(acks.got) == [("a", "send_failed"), ("b", "echo")]
    await writer.close()


async def test_close_commits_what_is_queued_and_refuses_new_sends() -> None:
    held, acks = HeldBatches(), Acks()
    writer = GroupCommitWriter(held, max_inflight=1)
    writer.start()
    submit(writer, acks, 1, "a")
    await held.wait_calls(1)
    submit(writer, acks, 2, "b")
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0)
    submit(writer, acks, 3, "late")
    assert acks.got == [("late", "shutting_down")]
    held.release(0)
    await held.wait_calls(2)
    held.release(1)
    await closing
    assert sorted(acks.got) == [("a", "echo"), ("b", "echo"), ("late", "shutting_down")]


async def test_work_left_for_after_the_acks_runs_once_every_ack_of_its_batch_is_out() -> None:
    acks = Acks()
    seen: list[tuple[list[str], list[str]]] = []

    async def after(keys: list[str]) -> None:
        seen.append((keys, [key for key, _ in acks.got]))

    held = HeldBatches(after)
    writer = GroupCommitWriter(held)
    writer.start()
    submit(writer, acks, 1, "a")
    submit(writer, acks, 2, "b")
    await held.wait_calls(1)
    held.release(0)
    await writer.close()
    assert seen == [(["a", "b"], ["a", "b"])]


async def test_the_acks_are_written_before_the_work_left_for_after_them_starts() -> None:
    # Peers write what was pushed to them in a callback at the end of the loop turn (peer.py);
    # the writer lets that turn end before the fan-out and the notification job run.
    order: list[str] = []

    def done(result: SendResult) -> None:
        order.append("ack")
        asyncio.get_running_loop().call_soon(order.append, "written")

    async def after(keys: list[str]) -> None:
        order.append("after")

    held = HeldBatches(after)
    writer = GroupCommitWriter(held)
    writer.start()
    writer.submit(SendRequest(1, 1, "a", "x"), done)
    await held.wait_calls(1)
    held.release(0)
    await writer.close()
    assert order == ["ack", "written", "after"]


async def test_a_failure_after_the_acks_is_logged_and_the_next_piece_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    async def publish_fails(keys: list[str]) -> None:
        ran.append("publish")
        raise RuntimeError("fan-out failed")

    async def enqueue(keys: list[str]) -> None:
        ran.append("enqueue")

    class TwoPieces(HeldBatches):
        async def __call__(
            self, requests: Sequence[SendRequest], after_acks: list[Awaitable[None]]
        ) -> list[SendResult]:
            results = await super().__call__(requests, after_acks)
            after_acks.append(enqueue([r.client_msg_id for r in requests]))
            return results

    acks = Acks()
    held = TwoPieces(publish_fails)
    writer = GroupCommitWriter(held)
    writer.start()
    submit(writer, acks, 1, "a")
    await held.wait_calls(1)
    held.release(0)
    await writer.close()
    assert (acks.got, ran) == ([("a", "echo")], ["publish", "enqueue"])
    assert "work after the acks of a send batch failed" in caplog.text


async def _session_after_release(dsn: str, *, reset_session: bool) -> tuple[str, str, bool]:
    """Set a session setting, leave a transaction failed, release; what the next user of the
    one connection sees: (application_name, TimeZone, in a transaction)."""
    database = await Database.connect(dsn, min_size=1, max_size=1, reset_session=reset_session)
    try:
        async with database.connection() as conn:
            await conn.execute("SET application_name = 'left behind'")
            try:
                async with conn.transaction():
                    await conn.execute("SELECT 1 / 0")
            except Exception:
                pass
        async with database.connection() as conn:
            name = await conn.fetchval("SHOW application_name")
            zone = await conn.fetchval("SHOW TimeZone")
            return name, zone, conn.is_in_transaction()
    finally:
        await database.close()


async def test_the_writers_pool_keeps_its_session_on_release(database: str) -> None:
    # The writer's pool skips the reset round trip: session settings (the UTC time zone set
    # when the connection opens) survive a release, and no transaction is left open.
    assert await _session_after_release(database, reset_session=False) == ("left behind", "UTC", False)
    # The shared pool still resets what a request set (the time zone back to the server's).
    name, _, in_transaction = await _session_after_release(database, reset_session=True)
    assert (name, in_transaction) == ("", False)


async def test_held_connections_serve_every_use_from_the_same_backends(database: str) -> None:
    held = await HeldConnections.hold(database, size=2)
    try:
        pids = set()
        for _ in range(5):
            async with held.connection() as conn:
                pids.add(await conn.fetchval("SELECT pg_backend_pid()"))
        assert len(pids) == 1
        assert held.pool.get_idle_size() == 1  # the other was never taken
    finally:
        await held.close()


async def test_held_connections_replace_a_connection_that_broke_while_held(database: str) -> None:
    held = await HeldConnections.hold(database, size=1)
    try:
        async with held.connection() as conn:
            first = await conn.fetchval("SELECT pg_backend_pid()")
        conn.terminate()  # as when its socket breaks between two batches
        async with held.connection() as conn:
            second = await conn.fetchval("SELECT pg_backend_pid()")
            zone = await conn.fetchval("SHOW TimeZone")
        assert (second != first, zone) == (True, "UTC")
    finally:
        await held.close()


async def test_held_connections_give_a_connection_back_to_the_pool_when_its_use_fails(database: str) -> None:
    held = await HeldConnections.hold(database, size=1)
    try:
        with pytest.raises(asyncpg.DivisionByZeroError):
            async with held.transaction() as conn:
                await conn.execute("SELECT 1 / 0")
        assert held.pool.get_idle_size() == 1  # released: the pool rolled back and keeps it
        async with held.connection() as conn:
            assert (await conn.fetchval("SELECT 1"), conn.is_in_transaction()) == (1, False)
    finally:
        await held.close()
