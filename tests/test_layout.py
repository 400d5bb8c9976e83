"""The README's layout section names every module of the tree (and nothing that is gone)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def layout_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Layout", 1)[1].split("\n## ", 1)[0]


def modules() -> set[str]:
    """The module files a reader of the layout looks for (packages' own files aside)."""
    found = set()
    for folder in ("actorfsm", "actorfsm/supervision", "actors", "actors/spark"):
        for path in (ROOT / folder).glob("*.py"):
            if path.name not in {"__init__.py", "__main__.py"}:
                found.add(path.name)
    return found


def test_every_module_is_named_in_the_layout() -> None:
    named = set(re.findall(r"`([\w/]+\.py)`", layout_section()))
    assert modules() - named == set()


def test_the_layout_names_no_module_that_is_gone() -> None:
    named = set(re.findall(r"`(\w+\.py)`", layout_section()))
    everywhere = {path.name for path in ROOT.rglob("*.py") if ".venv" not in path.parts}
    assert named - everywhere == set()
