"""The two ways domain code reaches past the database: the realtime publisher and the job queue.

Layer: infrastructure. Domain functions take `db` plus these protocols, never the realtime core
or the service container: `realtime.hub.Hub` implements `Publisher`, `jobs.ArqJobs` and
`jobs.InProcessJobs` implement `Jobs`. Call both only after the transaction committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .events import Event


class Publisher(Protocol):
    """After-commit fan-out to live sockets, on every node."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Committed events, in position order, to the sockets that may see them."""
        ...

    async def publish_read(self, chat_id: int, user_id: int, seq: int, *, origin: object = None) -> None:
        """A read marker moved: members' sockets get `read`, except the socket `origin` (the
        gateway's own connection that sent the marker, which already knows)."""
        ...

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        """Close every socket of these sessions (they logged out or were revoked)."""
        ...


class Jobs(Protocol):
    async def enqueue(self, function: str, *args: Any, job_id: str | None = None) -> None: ...

    async def depth(self) -> int | None:
        """Jobs waiting (arq) or running (in-process), for the operator's metrics."""
        ...
