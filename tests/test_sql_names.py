"""The named SQL statements: `messenger/queries.py` declares exactly the names in sql/*.sql, and
every statement is used by the code while every `Q.<name>` the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from messenger import statements
from messenger.db import Q

ROOT = Path(__file__).resolve().parent.parent
USE = re.compile(r"\bQ\.([A-Za-z_][A-Za-z0-9_]*)")


def _declared() -> set[str]:
    return {name for file in statements.load().values() for name in file}


def _used() -> set[str]:
    found: set[str] = set()
    for package in ("messenger", "workers"):
        for path in (ROOT / package).rglob("*.py"):
            found.update(USE.findall(path.read_text()))
    return found


def test_queries_module_matches_the_sql_files() -> None:
    assert statements.QUERIES_MODULE.read_text() == statements.render(statements.load()), (
        "run `python -m messenger.statements`"
    )


def test_every_named_statement_is_used_by_the_code() -> None:
    assert sorted(_declared() - _used()) == []


def test_every_statement_the_code_names_exists() -> None:
    assert sorted(_used() - _declared()) == []


def test_a_misspelt_statement_name_raises() -> None:
    assert "FROM sessions" in Q.session_is_live
    with pytest.raises(AttributeError):
        getattr(Q, "session_is_alive")  # noqa: B009 (the typo mypy would reject, tried at run time)
