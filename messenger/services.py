"""The per-process service container the lifespan builds and the edges (HTTP, WebSocket) read.

Layer: edge. Only the edges see it: they hand domain functions the pieces they take (`db`, the
hub as their `ports.Publisher`, the job queue, the media store, `auth.Accounts`), so no domain
module depends on this container or on the realtime core.
"""

from __future__ import annotations

from .auth import Accounts
from .db import Database
from .mail import Mailer
from .mediastore import MediaStore
from .ports import Jobs
from .ratelimit import Limiter
from .realtime.hub import Hub
from .realtime.readmarks import ReadMarkerWriter
from .realtime.writer import GroupCommitWriter
from .redisconn import AnyRedis
from .settings import Settings
from .tokens import TokenSigner


class Services:
    def __init__(self, settings: Settings, db: Database, redis: AnyRedis | None) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.signer = TokenSigner(settings.secret_key, ttl=settings.access_token_ttl)
        # Components the lifespan adds after construction, in this order (each may need the
        # ones before it).
        self.mailer: Mailer
        self.limiter: Limiter
        self.jobs: Jobs
        self.hub: Hub
        self.writer: GroupCommitWriter
        self.read_markers: ReadMarkerWriter
        self.media: MediaStore
        self.accounts: Accounts
