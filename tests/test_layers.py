"""The import graph of messenger/ and workers/: no cycle, and imports only go down the layers.

Every import counts: top-level, under `if TYPE_CHECKING:` and inside functions, so a cycle
cannot be hidden from the interpreter and still be there for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("messenger", "workers")

DOMAIN = (
    "auth",
    "users",
    "chats",
    "messages",
    "rendering",
    "media",
    "notifications",
    "reactions",
    "pins",
    "forwarding",
    "search",
    "admin",
    "erasure",
)
EDGE = ("app", "routes", "http", "services", "api", "openapi", "asyncapi", "webapp")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of ours that `name` (a module or a name inside one) belongs to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            owner = _owner(name)
            if owner is not None and owner != module:
                targets.add(owner)
    return targets


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _in(module: str, area: str) -> bool:
    return module == area or module.startswith(area + ".")


def test_the_graph_sees_the_whole_tree() -> None:
    # A guard for the tests below: a broken walk would find no cycle at all.
    assert "messenger.realtime.hub" in GRAPH["messenger.realtime.gateway"]
    assert "messenger.model" in GRAPH["messenger.realtime.frames"]


def test_no_import_cycle() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("area", [a for a in DOMAIN if any(_in(m, f"messenger.{a}") for m in MODULES)])
def test_domain_imports_neither_realtime_nor_edge(area: str) -> None:
    modules = [m for m in GRAPH if _in(m, f"messenger.{area}")]
    wrong = {
        (m, target)
        for m in modules
        for target in GRAPH[m]
        if _in(target, "messenger.realtime") or any(_in(target, f"messenger.{edge}") for edge in EDGE)
    }
    assert wrong == set()


def test_model_is_the_ground_floor() -> None:
    assert GRAPH["messenger.model"] == set()


def test_realtime_core_imports_no_edge() -> None:
    wrong = {
        (m, target)
        for m in GRAPH
        if _in(m, "messenger.realtime")
        for target in GRAPH[m]
        if any(_in(target, f"messenger.{edge}") for edge in EDGE)
    }
    assert wrong == set()


def test_messenger_never_imports_the_worker() -> None:
    # workers/ is the arq runner on top of messenger.tasks; `messenger worker` execs it.
    wrong = {(m, target) for m in GRAPH if _in(m, "messenger") for target in GRAPH[m] if _in(target, "workers")}
    assert wrong == set()
