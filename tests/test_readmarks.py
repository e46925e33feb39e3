"""The read-marker batcher's rules, with a mark_batch the test holds open.

Which markers go in which batch is tested here in-process; that a batch commits in one
statement, keeps markers moving forward and judges each request on its own is
test_read_markers.py's business (real server, real PostgreSQL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from messenger.chats import ReadRequest, ReadResult
from messenger.realtime.readmarks import ReadMarkerWriter

from .held import HeldCalls


class HeldBatches(HeldCalls[int]):
    """A mark_batch whose every call waits until the test releases it; accepts every marker."""

    async def __call__(self, requests: Sequence[ReadRequest]) -> list[ReadResult]:
        await self.hold([r.seq for r in requests])
        return [None] * len(requests)


class Outcomes:
    def __init__(self) -> None:
        self.got: list[tuple[int, str | None]] = []
        self.changed = asyncio.Event()

    def done_for(self, seq: int) -> Callable[[ReadResult], None]:
        def done(result: ReadResult) -> None:
            self.got.append((seq, None if result is None else result.code))
            self.changed.set()

        return done

    async def wait(self, n: int) -> None:
        while len(self.got) < n:
            self.changed.clear()
            await self.changed.wait()


def submit(writer: ReadMarkerWriter, outcomes: Outcomes, seq: int) -> None:
    writer.submit(ReadRequest(chat_id=1, user_id=seq, seq=seq), outcomes.done_for(seq))


async def test_markers_of_one_loop_turn_share_a_batch() -> None:
    held, outcomes = HeldBatches(), Outcomes()
    writer = ReadMarkerWriter(held)
    for seq in range(1, 6):
        submit(writer, outcomes, seq)
    await held.wait_calls(1)
    held.release(0)
    await outcomes.wait(5)
    assert held.calls == [[1, 2, 3, 4, 5]]
    await writer.close()


async def test_markers_arriving_while_a_batch_commits_go_together_in_the_next_one() -> None:
    held, outcomes = HeldBatches(), Outcomes()
    writer = ReadMarkerWriter(held)
    submit(writer, outcomes, 1)
    await held.wait_calls(1)
    for seq in (2, 3):
        submit(writer, outcomes, seq)
        await asyncio.sleep(0)  # separate loop turns
    submit(writer, outcomes, 4)
    assert held.calls == [[1]]  # one batch in flight: the others wait for it
    held.release(0)
    await held.wait_calls(2)
    assert held.calls == [[1], [2, 3, 4]]
    held.release(1)
    await outcomes.wait(4)
    assert outcomes.got == [(1, None), (2, None), (3, None), (4, None)]
    await writer.close()


async def test_a_failed_batch_answers_each_of_its_markers_and_the_next_batch_still_runs() -> None:
    held, outcomes = HeldBatches(), Outcomes()
    writer = ReadMarkerWriter(held)
    submit(writer, outcomes, 1)
    submit(writer, outcomes, 2)
    await held.wait_calls(1)
    submit(writer, outcomes, 3)
    held.release(0, ConnectionError("the database went away"))
    await held.wait_calls(2)
    held.release(1)
    await outcomes.wait(3)
    assert outcomes.got == [(1, "read_failed"), (2, "read_failed"), (3, None)]
    await writer.close()


async def test_close_commits_what_is_queued_then_refuses_new_markers() -> None:
    held, outcomes = HeldBatches(), Outcomes()
    writer = ReadMarkerWriter(held)
    submit(writer, outcomes, 1)
    await held.wait_calls(1)
    submit(writer, outcomes, 2)
    closing = asyncio.create_task(writer.close())
    held.release(0)
    await held.wait_calls(2)
    held.release(1)
    await closing
    submit(writer, outcomes, 3)
    assert outcomes.got == [(1, None), (2, None), (3, "shutting_down")]
