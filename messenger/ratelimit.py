"""Fixed-window rate limits for the account endpoints (429 with Retry-After).

Layer: infrastructure.

A window opens at the first hit on a key and lasts `RATE_LIMIT_WINDOW` seconds; the limit is
the number of hits allowed in it. With Redis the counter is one key per (scope, subject) under
`REDIS_PREFIX` (keys.py), incremented and given its expiry by one Lua script (atomic, one round
trip, one key, so on a Redis Cluster it runs on the shard of that key), so every node shares
the budget. Without Redis it is a dict in this process. Subjects (addresses,
logins) are hashed, so Redis never holds them in clear.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import TYPE_CHECKING, Protocol

from redis.exceptions import RedisError

from .errors import RateLimited, Unavailable
from .keys import RedisKeys
from .settings import Settings

if TYPE_CHECKING:
    from .redisconn import AnyRedis

_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if n == 1 or ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""


class Limiter(Protocol):
    async def hit(self, scope: str, subject: str, limit: int) -> None:
        """Count one hit; raise RateLimited (with retry_after) once `limit` is exceeded."""
        ...


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _exceeded(scope: str, retry_after_ms: float) -> RateLimited:
    return RateLimited(math.ceil(retry_after_ms / 1000), f"Too many {scope} attempts; try again later")


class RedisLimiter:
    def __init__(self, redis: AnyRedis, prefix: str, window: int) -> None:
        self.redis = redis
        self.keys = RedisKeys(prefix)
        self.window_ms = window * 1000
        # redis-py types register_script's self as Redis; a RedisCluster runs the script the
        # same way, on the shard of its one key.
        self._script = redis.register_script(_HIT)  # type: ignore[misc]

    async def hit(self, scope: str, subject: str, limit: int) -> None:
        try:
            count, ttl = await self._script(keys=[self.keys.rate_limit(scope, _digest(subject))], args=[self.window_ms])
        except RedisError as exc:
            # Fail closed but say so: a limit nobody can count is not lifted (503, like /readyz).
            raise Unavailable("Rate limiter unavailable; try again shortly", code="unavailable") from exc
        if int(count) > limit:
            raise _exceeded(scope, float(ttl))


class MemoryLimiter:
    SWEEP_AT = 10_000

    def __init__(self, window: int) -> None:
        self.window = float(window)
        self._counters: dict[str, tuple[int, float]] = {}

    async def hit(self, scope: str, subject: str, limit: int) -> None:
        now = time.monotonic()
        key = f"{scope}:{_digest(subject)}"
        count, reset_at = self._counters.get(key, (0, 0.0))
        if reset_at <= now:
            count, reset_at = 0, now + self.window
            if len(self._counters) >= self.SWEEP_AT:
                self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        count += 1
        self._counters[key] = (count, reset_at)
        if count > limit:
            raise _exceeded(scope, (reset_at - now) * 1000)


def from_settings(settings: Settings, redis: AnyRedis | None) -> Limiter:
    if redis is not None:
        return RedisLimiter(redis, settings.redis_prefix, settings.rate_limit_window)
    return MemoryLimiter(settings.rate_limit_window)
