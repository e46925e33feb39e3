"""How the bench's clients read the frames they get: the lean WebSocket client's parser, a
server's error frame counted by its code, a frame they cannot decode described in the results."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from multiprocessing import Pipe

import pytest

from bench.client import LeanWs
from bench.mixed import MixedPlan, MixedWorker
from bench.seed import SeedUser
from messenger.realtime import frames


@pytest.fixture
def worker() -> Iterator[MixedWorker]:
    ours, theirs = Pipe()
    plan = MixedPlan(0, ["http://127.0.0.1:1"], "messenger", [SeedUser(1, "u1", "", [7])], [0], {7: "direct"}, 1)
    yield MixedWorker(plan, ours)
    ours.close()
    theirs.close()


def test_mixed_counts_an_error_frame_by_its_code(worker: MixedWorker) -> None:
    on_frame = worker._handler(worker.users[0], [None])
    on_frame(b'{"type":"error","code":"resume_late","message":"resume must come first","ref":"resume"}', False)
    assert (worker.errors, worker.undecodable) == ({"error:resume_late": 1}, [])


def test_mixed_describes_a_frame_it_cannot_decode(worker: MixedWorker) -> None:
    on_frame = worker._handler(worker.users[0], [None])
    on_frame(b'{"type":"receive_message","cursor":"12","mess', False)
    assert worker.errors == {"undecodable_frame": 1}
    (sample,) = worker.undecodable
    assert "text (opcode 0x1) frame, 45 payload bytes (7-bit length field)" in sample
    assert 'b\'{"type":"receive_message","cursor":"12","mess\'' in sample


def _read(stream: bytes, sizes: list[int]) -> list[tuple[bytes, bool]]:
    """What a lean client hands on from `stream` read in pieces of `sizes` (then 4 KiB)."""
    got: list[tuple[bytes, bool]] = []
    client = LeanWs(lambda payload, binary: got.append((payload, binary)))
    client._upgraded = True
    at = 0
    for size in itertools.chain(sizes, itertools.repeat(4096)):
        if at >= len(stream):
            return got
        client.data_received(stream[at : at + size])
        at += size
    raise AssertionError("unreachable")


async def test_lean_client_reads_server_frames_however_the_reads_split_them() -> None:
    """Frames of every length class, written back to back as the server coalesces them, come
    out whole and in order whatever the reads' boundaries (one byte at a time, a header split
    from its payload, several frames in one read)."""
    payloads = [b"", b"a" * 125, b"b" * 126, "é".encode() * 300, b"c" * 65535, b"d" * 65536, b"e" * 70000]
    stream = b"".join(frames.wire_binary(p) if i % 2 else frames.wire_text(p) for i, p in enumerate(payloads))
    expected = [(p, i % 2 == 1) for i, p in enumerate(payloads)]
    rng = random.Random(6455)
    splits = [[1] * 300, [2, 3, 5, 7, 11, 13], [127, 128, 129], [65537, 4], [len(stream)]]
    splits += [[rng.randint(1, 9000) for _ in range(50)] for _ in range(20)]
    for sizes in splits:
        assert _read(stream, sizes) == expected, sizes
