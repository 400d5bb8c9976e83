"""The public API is one face: actorfsm.__all__ is importable and documented, and actors/
uses nothing of actorfsm but it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import actorfsm
import actorfsm.supervision

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_MODULES = {"actorfsm", "actorfsm.logging", "actorfsm.testing", "actorfsm.pytest_plugin"}
"""What user code may import from: the package, and the set-up and test-kit modules."""


def test_every_name_of_the_api_is_importable_from_actorfsm() -> None:
    missing = [name for name in actorfsm.__all__ if not hasattr(actorfsm, name)]
    assert missing == []
    assert len(set(actorfsm.__all__)) == len(actorfsm.__all__)


def test_every_public_name_has_a_docstring_of_its_own() -> None:
    undocumented = []
    for name in actorfsm.__all__:
        value = getattr(actorfsm, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            doc = value.__doc__
            if not doc or not doc.strip():
                undocumented.append(name)
    assert undocumented == []


def test_actorfsm_supervision_re_exports_the_same_objects_not_a_second_face() -> None:
    names = [name for name in vars(actorfsm.supervision) if not name.startswith("_")]
    modules = {name for name in names if inspect.ismodule(getattr(actorfsm.supervision, name))}
    assert not hasattr(actorfsm.supervision, "__all__")
    for name in set(names) - modules:
        if name in actorfsm.__all__:
            assert getattr(actorfsm.supervision, name) is getattr(actorfsm, name), name


def imported_names(path: Path) -> list[tuple[str, str | None]]:
    """Every ``(module, name)`` a file imports from actorfsm (name None for ``import m``)."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, None) for a in node.names if a.name.startswith("actorfsm")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("actorfsm"):
            found += [(node.module or "", alias.name) for alias in node.names]
    return found


def test_actors_import_only_public_names_of_actorfsm() -> None:
    private = []
    for path in sorted((ROOT / "actors").rglob("*.py")):
        for module, name in imported_names(path):
            public = module in PUBLIC_MODULES and (
                module != "actorfsm" or name is None or name in actorfsm.__all__
            )
            if not public:
                private.append(f"{path.relative_to(ROOT)}: {module} {name}")
    assert private == []


def test_the_walk_sees_the_imports() -> None:
    """The check above reads real imports (it would pass vacuously otherwise)."""
    names = imported_names(ROOT / "actors" / "spark" / "connector.py")
    assert ("actorfsm", "Supervisor") in names
