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


# -- the history table of bench/README.md ---------------------------------------------------


class Headline(dict[str, Any]):
    """One figure of a run for the history table: messenger's value, the baseline's from the
    same run (None without one), and their ratio."""

    def __init__(self, figure: str, value: float | None, baseline: float | None = None, unit: str = "") -> None:
        super().__init__(figure=figure, value=value, baseline=baseline, unit=unit, ratio=ratio(value, baseline) or None)


def commit() -> str:
    """The commit the bench ran from; `+dirty` when tracked files differ from it."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=9", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def command_line(argv: list[str]) -> str:
    """The command as a reader would retype it (without the output directory)."""
    import shlex

    args: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--out":
            skip = True
            continue
        if a.startswith("--out="):
            continue
        args.append(a)
    return "python -m bench " + shlex.join(args)


def load_text(start: tuple[float, float, float], end: tuple[float, float, float]) -> str:
    return f"{start[0]:.1f}-{end[0]:.1f}"


def history_rows(
    scenario: str,
    argv: list[str],
    headlines: list[dict[str, Any]],
    *,
    started: str,
    load_start: tuple[float, float, float],
    load_end: tuple[float, float, float],
    git_commit: str | None = None,
) -> list[str]:
    """Markdown rows for the history table in bench/README.md:
    | date (UTC) | commit | scenario | command | figure | value | baseline | ratio | load |"""
    rev = git_commit or commit()
    cmd = command_line(argv).replace("|", "\\|")
    load = load_text(load_start, load_end)
    out = []
    for h in headlines:
        unit = f" {h['unit']}" if h.get("unit") else ""
        value = "-" if h.get("value") is None else fmt(h["value"]) + unit
        base = "-" if h.get("baseline") is None else fmt(h["baseline"]) + unit
        out.append(
            f"| {started} | {rev} | {scenario} | `{cmd}` | {h['figure']} | {value} | {base} | {h.get('ratio') or '-'} "
            f"| {load} |"
        )
    return out
