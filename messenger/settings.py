"""Settings: the only module that reads the environment.

Layer: infrastructure.

Everything is read once into a frozen object at start. A bad value fails immediately with a
message that names the variable, so an operator never debugs a half-started node.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from .redisconn import is_cluster, parse_cluster_url

log = logging.getLogger("messenger.settings")


DEFAULT_MEDIA_TYPES: tuple[str, ...] = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "video/mp4",
    "video/webm",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/webm",
    "application/pdf",
    "text/plain",
    "application/zip",
)


class SettingsError(ValueError):
    """A configuration variable is missing or malformed."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None = None
    # `redis://...` (one server) or `redis+cluster://host:port[,host:port...]` (a Redis Cluster:
    # sharded pub/sub, hash-tagged keys; messenger/redisconn.py).
    redis_url: str | None = None
    # arq's queue. arq cannot use a Redis Cluster, so with a cluster REDIS_URL jobs need a plain
    # Redis here (and `messenger worker`), or run inside the nodes when it is unset.
    jobs_redis_url: str | None = None
    smtp_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    allowed_origins: tuple[str, ...] = ()
    bcrypt_rounds: int = 12
    # Extensions beyond the contract's table (all optional, documented in README).
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    event_retention_days: int = 30
    db_pool_min: int = 2
    db_pool_max: int = 20
    media_max_size: int = 25 * 1024 * 1024
    media_allowed_types: tuple[str, ...] = DEFAULT_MEDIA_TYPES
    media_upload_ttl: int = 900
    # Lifetime of a download URL handed out by GET /v1/media/{id}, and of the redirect an
    # avatar_url leads to; short, because a URL is a bearer capability once it leaks.
    media_download_ttl: int = 300
    # Uploads never completed (or completed but never attached) are deleted after this.
    media_orphan_ttl: int = 24 * 3600
    rate_limit_login: int = 10
    rate_limit_login_ip: int = 50
    rate_limit_register: int = 20
    rate_limit_email: int = 5
    rate_limit_window: int = 60
    ws_frame_rate: int = 50
    ws_frame_burst: int = 200
    # Realtime (docs/protocol.md): per-socket send queue, heartbeat and idle timeout in seconds.
    ws_queue_limit: int = 1024
    ws_heartbeat: int = 25
    ws_idle_timeout: int = 90
    # Seconds after which a node that stopped heartbeating (crashed) counts as gone and its
    # users go offline; nodes heartbeat every third of it.
    presence_ttl: int = 15
    # Seconds a user stays online after their last socket closed (a reload or a reconnect
    # then shows no offline/online flicker); the contract allows at most 10.
    presence_grace: int = 5
    notification_email_window: int = 600
    # Notifications older than this many days are deleted by the cleanup job.
    notification_retention_days: int = 90
    # `messenger worker` serves Prometheus metrics on this port (0: no metrics server).
    worker_metrics_port: int = 9101
    # The server's /metrics: on its own port (METRICS_PORT, on HOST) or behind a bearer token
    # on the app port (METRICS_TOKEN); with neither, only loopback clients may read it.
    metrics_port: int = 0
    metrics_token: str | None = None
    # The From: of every mail; defaults to noreply@ the PUBLIC_URL host.
    mail_from: str = "noreply@localhost"
    log_level: str = "INFO"
    # Open connections per server process (WebSockets included); 0: the descriptor limit less
    # a reserve (messenger/httpd.py). Headers must be complete this many seconds after the
    # connection opens or the previous response ends.
    http_max_connections: int = 0
    http_header_timeout: int = 10
    # Every Redis key and channel starts with this, so nodes of one deployment (or one test
    # run) can share a Redis server with others.
    redis_prefix: str = "messenger:"

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    @property
    def redis_cluster(self) -> bool:
        return self.redis_url is not None and is_cluster(self.redis_url)

    @property
    def jobs_redis(self) -> str | None:
        """Where arq's queue is: JOBS_REDIS_URL, else a single-server REDIS_URL; None: in-process."""
        if self.jobs_redis_url is not None:
            return self.jobs_redis_url
        return None if self.redis_cluster else self.redis_url

    @property
    def s3_enabled(self) -> bool:
        return self.s3_bucket is not None


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {value}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value > 65535:
        raise SettingsError(f"{name} must be a TCP port (0 disables), got {value}")
    return value


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or (not parts.hostname and parts.scheme not in ("postgres", "postgresql")):
        raise SettingsError(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {raw!r}")
    return raw


def _redis_url(env: Mapping[str, str]) -> str | None:
    raw = env.get("REDIS_URL")
    if raw and is_cluster(raw):
        try:
            parse_cluster_url(raw)
        except ValueError as exc:
            raise SettingsError(f"REDIS_URL: {exc} (redis+cluster://host:port[,host:port...])") from None
        return raw
    return _url(env, "REDIS_URL", ("redis", "rediss", "unix", "redis+cluster"))


def _redis_prefix(env: Mapping[str, str]) -> str:
    prefix = env.get("REDIS_PREFIX") or "messenger:"
    if "{" in prefix or "}" in prefix:
        # A brace would become every key's hash tag on a cluster: everything on one slot.
        raise SettingsError(f"REDIS_PREFIX must not contain braces, got {prefix!r}")
    return prefix


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    raw = env.get("SECRET_KEY")
    if raw:
        if len(raw) < 16:
            raise SettingsError("SECRET_KEY must be at least 16 characters")
        return raw
    # A generated key survives restarts so tokens and signed URLs stay valid; several nodes
    # must share one, which is why production deployments set SECRET_KEY explicitly.
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    log.warning("SECRET_KEY is not set: generated one in %s (set SECRET_KEY when running several nodes)", path)
    return key


def _metrics_token(env: Mapping[str, str]) -> str | None:
    raw = env.get("METRICS_TOKEN") or None
    if raw is not None and (len(raw) < 16 or not raw.isprintable() or " " in raw):
        raise SettingsError("METRICS_TOKEN must be at least 16 printable characters without spaces")
    return raw


def _mail_domain(public_url: str) -> str:
    # An IP literal is not a valid mail domain without brackets; such setups are local anyway.
    host = urlsplit(public_url).hostname or "localhost"
    return host if any(c.isalpha() for c in host) else "localhost"


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment once; raise SettingsError naming the variable on a bad value."""
    env = os.environ if env is None else env
    host = env.get("HOST") or "127.0.0.1"
    port = _int(env, "PORT", 8000, minimum=0)
    if port > 65535:
        raise SettingsError(f"PORT must be a TCP port, got {port}")
    data_dir = Path(env.get("MESSENGER_DATA_DIR") or "data").resolve()
    public_url = (env.get("PUBLIC_URL") or f"http://{host}:{port}").rstrip("/")
    if urlsplit(public_url).scheme not in ("http", "https"):
        raise SettingsError(f"PUBLIC_URL must be an http(s) URL, got {public_url!r}")
    origins = tuple(o.strip().rstrip("/") for o in (env.get("ALLOWED_ORIGINS") or "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and urlsplit(origin).scheme not in ("http", "https"):
            raise SettingsError(f"ALLOWED_ORIGINS entries must be http(s) origins, got {origin!r}")
    bcrypt_rounds = _int(env, "BCRYPT_ROUNDS", 12, minimum=4)
    if bcrypt_rounds > 31:
        raise SettingsError(f"BCRYPT_ROUNDS must be between 4 and 31, got {bcrypt_rounds}")
    s3_bucket = env.get("S3_BUCKET") or None
    types = env.get("MEDIA_ALLOWED_TYPES")
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    mail_from = env.get("MAIL_FROM") or f"noreply@{_mail_domain(public_url)}"
    if "@" not in mail_from or any(c in mail_from for c in "\r\n"):
        raise SettingsError(f"MAIL_FROM must be an email address, got {mail_from!r}")
    media_types = tuple(t.strip().lower() for t in types.split(",") if t.strip()) if types else DEFAULT_MEDIA_TYPES
    return Settings(
        database_url=_url(env, "DATABASE_URL", ("postgres", "postgresql")),
        redis_url=_redis_url(env),
        jobs_redis_url=_url(env, "JOBS_REDIS_URL", ("redis", "rediss", "unix")),
        smtp_url=_url(env, "SMTP_URL", ("smtp", "smtps")),
        s3_endpoint_url=_url(env, "S3_ENDPOINT_URL", ("http", "https")),
        s3_bucket=s3_bucket,
        s3_region=env.get("S3_REGION") or "us-east-1",
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        secret_key=_secret_key(env, data_dir),
        public_url=public_url,
        host=host,
        port=port,
        data_dir=data_dir,
        allowed_origins=origins,
        bcrypt_rounds=bcrypt_rounds,
        access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 900, minimum=10),
        refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", 30 * 24 * 3600, minimum=60),
        event_retention_days=_int(env, "EVENT_RETENTION_DAYS", 30, minimum=1),
        db_pool_min=_int(env, "DB_POOL_MIN", 2, minimum=1),
        db_pool_max=_int(env, "DB_POOL_MAX", 20, minimum=1),
        media_max_size=_int(env, "MEDIA_MAX_SIZE", 25 * 1024 * 1024, minimum=1),
        media_upload_ttl=_int(env, "MEDIA_UPLOAD_TTL", 900, minimum=1),
        media_download_ttl=_int(env, "MEDIA_DOWNLOAD_TTL", 300, minimum=1),
        media_orphan_ttl=_int(env, "MEDIA_ORPHAN_TTL", 24 * 3600, minimum=60),
        rate_limit_login=_int(env, "RATE_LIMIT_LOGIN", 10, minimum=1),
        rate_limit_login_ip=_int(env, "RATE_LIMIT_LOGIN_IP", 50, minimum=1),
        rate_limit_register=_int(env, "RATE_LIMIT_REGISTER", 20, minimum=1),
        rate_limit_email=_int(env, "RATE_LIMIT_EMAIL", 5, minimum=1),
        rate_limit_window=_int(env, "RATE_LIMIT_WINDOW", 60, minimum=1),
        ws_frame_rate=_int(env, "WS_FRAME_RATE", 50, minimum=1),
        ws_frame_burst=_int(env, "WS_FRAME_BURST", 200, minimum=1),
        ws_queue_limit=_int(env, "WS_QUEUE_LIMIT", 1024, minimum=16),
        ws_heartbeat=_int(env, "WS_HEARTBEAT", 25, minimum=1),
        ws_idle_timeout=_int(env, "WS_IDLE_TIMEOUT", 90, minimum=1),
        presence_ttl=_int(env, "PRESENCE_TTL", 15, minimum=3),
        presence_grace=min(10, _int(env, "PRESENCE_GRACE", 5)),
        notification_email_window=_int(env, "NOTIFICATION_EMAIL_WINDOW", 600, minimum=1),
        notification_retention_days=_int(env, "NOTIFICATION_RETENTION_DAYS", 90, minimum=1),
        worker_metrics_port=_port(env, "WORKER_METRICS_PORT", 9101),
        metrics_port=_port(env, "METRICS_PORT", 0),
        metrics_token=_metrics_token(env),
        mail_from=mail_from,
        media_allowed_types=media_types,
        log_level=level,
        http_max_connections=_int(env, "HTTP_MAX_CONNECTIONS", 0, minimum=0),
        http_header_timeout=_int(env, "HTTP_HEADER_TIMEOUT", 10, minimum=1),
        redis_prefix=_redis_prefix(env),
    )
