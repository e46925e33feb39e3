"""Named SQL statements: reading `sql/*.sql`, and generating `messenger/queries.py`.

Infrastructure (imports nothing of ours). Every statement the app runs lives in
`sql/<domain>.sql` under a `-- name: x` header. `queries.py` declares every name as a typed
field of the `Queries` Struct, so `Q.<name>` with a misspelt name fails `mypy --strict` (and the import
fails while the SQL files and `queries.py` disagree). After adding, renaming or removing a
statement, regenerate it:

    uv run python -m messenger.statements

tests/test_sql_names.py fails while `queries.py` is stale or a statement is unused.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Installed wheels carry sql/ inside the package (see pyproject); a checkout has it at the top.
_PACKAGED = Path(__file__).parent / "_sql"
SQL_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "sql"
QUERIES_MODULE = Path(__file__).parent / "queries.py"

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def read(path: Path) -> dict[str, str]:
    """The statements of one file, in file order: name to SQL text."""
    parts = _NAME.split(path.read_text())
    # parts = [preamble, name1, body1, name2, body2, ...]
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise RuntimeError(f"duplicate query name {name!r} in {path}")
        found[name] = body.strip().rstrip(";")
    return found


def load(directory: Path = SQL_DIR) -> dict[str, dict[str, str]]:
    """Every file's statements, by file name; a name may appear only once in the whole set."""
    files: dict[str, dict[str, str]] = {}
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.sql")):
        statements = read(path)
        for name in statements:
            if name in seen:
                raise RuntimeError(f"duplicate query name {name!r} in {path.name} and {seen[name]}")
            seen[name] = path.name
        files[path.name] = statements
    return files


def render(files: dict[str, dict[str, str]]) -> str:
    """The source of `queries.py` for these statements (ruff-formatted as it stands)."""
    lines = [
        '"""Generated from sql/*.sql by `python -m messenger.statements`: do not edit by hand.',
        "",
        "Infrastructure. Each field holds the SQL text of the statement of that name (see db.Q).",
        '"""',
        "",
        "import msgspec",
        "",
        "",
        "class Queries(msgspec.Struct, frozen=True):",
    ]
    first = True
    for file_name, statements in files.items():
        if not statements:
            continue
        if not first:
            lines.append("")
        first = False
        lines.append(f"    # sql/{file_name}")
        lines.extend(f"    {name}: str" for name in statements)
    return "\n".join(lines) + "\n"


def main() -> int:
    source = render(load())
    if QUERIES_MODULE.exists() and QUERIES_MODULE.read_text() == source:
        print(f"{QUERIES_MODULE.name} is current")
        return 0
    QUERIES_MODULE.write_text(source)
    print(f"wrote {QUERIES_MODULE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
