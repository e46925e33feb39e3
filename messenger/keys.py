"""The Redis key and channel layout, in one place: every process that shares a Redis with the
nodes (the nodes' presence tracker and broker, the worker's notifier, the job queue) names its
keys here, so they cannot drift apart.

Layer: infrastructure (imports nothing of ours). Everything carries `REDIS_PREFIX`, so several
deployments (or test runs) can share one Redis.
"""

from __future__ import annotations

import msgspec


class RedisKeys(msgspec.Struct, frozen=True):
    prefix: str

    @property
    def presence_nodes(self) -> str:
        """Sorted set: node id scored by the time its heartbeat expires."""
        return f"{self.prefix}presence:nodes"

    def presence_node(self, node_id: str) -> str:
        """Set: the user ids with a live socket on that node."""
        return f"{self.prefix}presence:node:{node_id}"

    def presence_reap(self, node_id: str) -> str:
        """Lock: which node reaps a node that stopped heartbeating."""
        return f"{self.prefix}presence:reap:{node_id}"

    @property
    def events_channel(self) -> str:
        """Pub/sub: committed event batches between nodes (broker.EventBatch)."""
        return f"{self.prefix}events"

    @property
    def signals_channel(self) -> str:
        """Pub/sub: ephemeral frames and session ends between nodes (broker.Signal)."""
        return f"{self.prefix}signals"

    @property
    def job_queue(self) -> str:
        """arq's queue of this deployment."""
        return f"{self.prefix}jobs"

    def job_id(self, job_id: str) -> str:
        """arq keeps every job under `arq:job:<id>` whatever the queue, so ids carry the prefix."""
        return f"{self.prefix}{job_id}"
