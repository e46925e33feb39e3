"""Output: the human table on stdout and the JSON file with every figure and the environment."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_VERSIONS = ("uvicorn", "websockets", "starlette", "msgspec", "asyncpg", "uvloop", "httptools", "redis")


def environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for name in _VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine skews every figure; the load average says how much there was.
        "loadavg": os.getloadavg(),
        "cpu_model": _cpu_model(),
        "versions": versions,
        "argv": sys.argv,
    }
    info.update(extra or {})
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def write_json(scenario: str, data: dict[str, Any], out_dir: Path | None = None) -> Path:
    out = out_dir or RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{scenario}-{stamp()}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str))
    return path


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    """A plain text table: first column left-aligned labels, the rest right-aligned values."""
    cells = [[str(r[0]), *(fmt(v) if v is not None else "-" for v in r[1:])] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        first = f"{values[0]:<{widths[0]}}"
        rest = "  ".join(f"{v:>{w}}" for v, w in zip(values[1:], widths[1:], strict=True))
        return f"{first}  {rest}".rstrip()

    out = [f"== {title}", line(headers), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    out.extend(line(c) for c in cells)
    return "\n".join(out)


def ratio(value: float | None, ceiling: float | None) -> str:
    if not ceiling or value is None:
        return ""
    return f"{100.0 * value / ceiling:.0f}%"
