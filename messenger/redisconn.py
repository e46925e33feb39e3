"""How to reach Redis: one server (`redis://`, `rediss://`, `unix://`) or a Redis Cluster
(`redis+cluster://[:password@]host:port[,host:port...]`, any reachable nodes: the client reads
the slot map from them).

Layer: infrastructure (imports nothing of ours). Everything that talks to Redis gets its client
here, so the two modes differ in one place:
- one server: `redis.asyncio.Redis`, PUBLISH/SUBSCRIBE;
- a cluster: `redis.asyncio.RedisCluster`, which routes each command (and each command of a
  non-transactional pipeline) to the master owning its key's slot; pub/sub is sharded
  (SPUBLISH/SSUBSCRIBE, Redis 7), so a channel lives on the shard owning its slot.
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

AnyRedis = Redis | RedisCluster

CLUSTER_SCHEME: Final = "redis+cluster"


class ClusterAddress:
    """The parts of a `redis+cluster://` URL."""

    def __init__(self, nodes: list[tuple[str, int]], username: str | None, password: str | None) -> None:
        self.nodes = nodes
        self.username = username
        self.password = password


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME + "://")


def parse_cluster_url(url: str) -> ClusterAddress:
    """`redis+cluster://[user:password@]host:port[,host:port...]`; ValueError when malformed."""
    if not is_cluster(url):
        raise ValueError(f"not a {CLUSTER_SCHEME}:// URL")
    rest = url[len(CLUSTER_SCHEME) + 3 :].split("/", 1)[0].split("?", 1)[0]
    username = password = None
    if "@" in rest:
        auth, rest = rest.rsplit("@", 1)
        user, _, secret = auth.partition(":")
        username, password = unquote(user) or None, unquote(secret) or None
    nodes: list[tuple[str, int]] = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"cluster node {part!r} is not host:port")
        nodes.append((host.strip("[]"), int(port)))
    return ClusterAddress(nodes, username, password)


def connect(
    url: str,
    *,
    socket_timeout: float | None = None,
    socket_connect_timeout: float | None = None,
    socket_keepalive: bool = False,
) -> AnyRedis:
    """A client for `url`; a cluster client learns the slot map on its first command."""
    if not is_cluster(url):
        client: Redis = Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_connect_timeout,
            socket_keepalive=socket_keepalive,
        )
        return client
    address = parse_cluster_url(url)
    cluster: RedisCluster = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        username=address.username,
        password=address.password,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_connect_timeout,
        socket_keepalive=socket_keepalive,
        # A restarted master without a replica is gone for seconds: fail fast and let the
        # callers' own fallbacks (PostgreSQL catch-up, retries) cover it.
        cluster_error_retry_attempts=1,
    )
    return cluster


def publish_command(client: AnyRedis) -> Literal["PUBLISH", "SPUBLISH"]:
    """PUBLISH on one server; SPUBLISH on a cluster (a plain PUBLISH would be copied to every
    node of the cluster; a shard channel lives on one shard)."""
    return "SPUBLISH" if isinstance(client, RedisCluster) else "PUBLISH"


async def ping(client: AnyRedis) -> None:
    """Raise unless Redis answers: on a cluster every master, in parallel (one PING each), since
    each holds its own share of the channels and keys."""
    if isinstance(client, RedisCluster):
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.ping()
