"""The Redis key and channel layout, in one place: every process that shares a Redis with the
nodes (the nodes' presence tracker and broker, the worker's notifier, the job queue, the rate
limiter) names its keys here, so they cannot drift apart.

Layer: infrastructure (imports nothing of ours). Everything carries `REDIS_PREFIX`, so several
deployments (or test runs) can share one Redis.

Redis Cluster. A multi-key command or script must keep its keys in one slot, and a slot is
chosen by the part of a key between `{` and `}` (its hash tag) when there is one. So:
- presence keys share the tag `{<prefix>presence}`: a transition's pipeline (its own set plus
  the other nodes' sets) and the reaper's read-and-delete go to one shard in one round trip;
- a rate-limit counter is one key per script call, tagged by itself;
- the fan-out channels are sharded pub/sub channels (SPUBLISH/SSUBSCRIBE): committed events and
  chat signals go to one of CHAT_BUCKETS channels by chat id, without a tag, so the buckets
  spread over the shards' slots; signals for users or sessions (any node may hold them) go to
  one broadcast channel, and every commit's positions and buckets to one more (a node hears
  only the buckets its users need and skips the other positions). On a single Redis the layout
  is the same except for the fan-out, which stays on the two classic channels `<prefix>events`
  and `<prefix>signals`.
"""

from __future__ import annotations

from typing import Final

import msgspec

# Chat buckets of the sharded fan-out. Every node of a deployment must agree on it (a node
# reads the bucket of a chat from it), so it is a constant, not a setting: 64 spreads evenly
# over up to dozens of shards while a node subscribing to all of them holds 64 subscriptions.
CHAT_BUCKETS: Final = 64


class RedisKeys(msgspec.Struct, frozen=True):
    prefix: str

    @property
    def _presence(self) -> str:
        return f"{{{self.prefix}presence}}"

    @property
    def presence_nodes(self) -> str:
        """Sorted set: node id scored by the time its heartbeat expires."""
        return f"{self._presence}:nodes"

    def presence_node(self, node_id: str) -> str:
        """Set: the user ids with a live socket on that node."""
        return f"{self._presence}:node:{node_id}"

    def presence_reap(self, node_id: str) -> str:
        """Lock: which node reaps a node that stopped heartbeating."""
        return f"{self._presence}:reap:{node_id}"

    def rate_limit(self, scope: str, digest: str) -> str:
        """Counter of one fixed window (ratelimit.py)."""
        return f"{self.prefix}rl:{{{scope}:{digest}}}"

    @property
    def events_channel(self) -> str:
        """Pub/sub (one Redis): committed event batches between nodes (broker.EventBatch)."""
        return f"{self.prefix}events"

    @property
    def signals_channel(self) -> str:
        """Pub/sub: ephemeral frames and session ends between nodes (broker.Signal); on a
        cluster the shard channel of signals that are not about one chat."""
        return f"{self.prefix}signals"

    @property
    def positions_channel(self) -> str:
        """Shard channel (cluster): every commit's positions with each one's chat bucket, and
        the events every node needs in full (broker.Positions); every node subscribes to it."""
        return f"{self.prefix}positions"

    @staticmethod
    def chat_bucket(chat_id: int) -> int:
        return chat_id % CHAT_BUCKETS

    def bucket_channel(self, bucket: int) -> str:
        """Shard channel (cluster): the events and chat signals of the chats of one bucket."""
        return f"{self.prefix}chats:{bucket}"

    @property
    def bucket_channels(self) -> list[str]:
        return [self.bucket_channel(b) for b in range(CHAT_BUCKETS)]

    @property
    def job_queue(self) -> str:
        """arq's queue of this deployment."""
        return f"{self.prefix}jobs"

    def job_id(self, job_id: str) -> str:
        """arq keeps every job under `arq:job:<id>` whatever the queue, so ids carry the prefix."""
        return f"{self.prefix}{job_id}"
