"""Calls a test holds open: each waits until the test releases it, in any order.

The group-commit writer's and the read-marker batcher's tests drive their batchers through
fakes built on this, so which requests went into which call is seen without any timing.
"""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

Key = TypeVar("Key")


class HeldCalls(Generic[Key]):
    def __init__(self) -> None:
        self.calls: list[list[Key]] = []
        self.gates: list[asyncio.Future[None]] = []
        self.called = asyncio.Event()

    async def hold(self, keys: list[Key]) -> None:
        """Record one call's keys, then wait until the test releases that call."""
        gate = asyncio.get_running_loop().create_future()
        self.calls.append(keys)
        self.gates.append(gate)
        self.called.set()
        await gate

    async def wait_calls(self, n: int) -> None:
        while len(self.calls) < n:
            self.called.clear()
            await self.called.wait()

    def release(self, i: int, error: Exception | None = None) -> None:
        if error is None:
            self.gates[i].set_result(None)
        else:
            self.gates[i].set_exception(error)
