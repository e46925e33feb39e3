"""The per-node hub: local sockets by user and chat, plus the broker that links nodes.

(The realtime issue builds this out; until then `publish` is called by writers after commit
and delivers nothing because no socket can connect yet.)
"""

from __future__ import annotations

from collections.abc import Sequence

from .events import Event


class Hub:
    async def publish(self, events: Sequence[Event]) -> None:
        """Fan committed events out to every node's sockets. Call only after commit."""
        return None

    async def end_sessions(self, session_ids: Sequence[int]) -> None:
        """Close (1008) every socket of these sessions, on every node. Call after commit."""
        return None

    async def online(self, user_ids: Sequence[int]) -> set[int]:
        """Which of these users have a live socket on any node (notifications use this)."""
        return set()
