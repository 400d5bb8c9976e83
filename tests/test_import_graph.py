"""The import graph of actorfsm/ has no cycle, and no module there is over ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "actorfsm"
MAX_LINES = 420

KNOWN_ENGINE_CYCLES: set[frozenset[str]] = set()
"""Cycles once tolerated while the engine was rewritten: none is left."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The actorfsm modules ``path`` imports (under TYPE_CHECKING too: a cycle there is one)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return {name for name in found if name in known}


def test_there_is_no_import_cycle_in_actorfsm() -> None:
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert any(graph.values()), "the graph was not read"
    found = {frozenset(cycle) for cycle in cycles}
    assert found - KNOWN_ENGINE_CYCLES == set(), f"import cycles: {cycles}"
    assert KNOWN_ENGINE_CYCLES - found == set(), "a known cycle is gone: drop it from the list"


def test_no_module_of_the_framework_is_over_about_400_lines() -> None:
    long = {module_name(path): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in long.items() if n > MAX_LINES} == {}
