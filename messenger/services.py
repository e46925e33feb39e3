"""The per-process service container the lifespan builds and the edges (HTTP, WebSocket) pass down.

Domain modules take the pieces they need (usually `Services` itself, since most operations
touch the database plus one of the side channels); they never see a Request or a WebSocket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .db import Database
from .settings import Settings
from .tokens import TokenSigner

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .hub import Hub
    from .jobs import Jobs
    from .mail import Mailer
    from .media import MediaStore
    from .ratelimit import Limiter
    from .writer import GroupCommitWriter


class Services:
    def __init__(self, settings: Settings, db: Database, redis: Redis | None) -> None:
        self.settings = settings
        self.db = db
        self.redis = redis
        self.signer = TokenSigner(settings.secret_key, ttl=settings.access_token_ttl)
        # Components the lifespan adds after construction (each declared here with its type,
        # imported under TYPE_CHECKING from the module that owns it).
        self.hub: Hub
        self.writer: GroupCommitWriter
        # -- accounts: jobs, mailer, limiter --
        self.mailer: Mailer
        self.limiter: Limiter
        self.jobs: Jobs
        # -- media: media store --
        self.media: MediaStore
