"""Packaging: the framework needs no pyserial; the Spark connector says which extra to install."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )


def test_pyserial_is_an_extra_not_a_dependency_of_the_framework() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [dep for dep in project["dependencies"] if dep.startswith("pyserial")]
    assert [dep for dep in project["optional-dependencies"]["spark"] if "pyserial" in dep]


def test_the_framework_imports_without_pyserial() -> None:
    done = run(
        "import sys; sys.modules['serial'] = None\n"
        "import actorfsm, actorfsm.testing, actorfsm.logging\n"
        "print(sorted(m for m in sys.modules if m.startswith('actors')))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_spark_connector_without_pyserial_names_the_extra() -> None:
    done = run("import sys; sys.modules['serial'] = None\nimport actors.spark")
    assert done.returncode == 1
    assert "pip install 'actorfsm[spark]'" in done.stderr
