"""The README's Python examples run as written (the twenty lines, and the test-kit example)."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
from typing import Any

import pykka
import pytest

from actorfsm.testing import Probe, VirtualClock

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

SCRIPT_TIMEOUT = 30.0
"""Seconds the twenty lines get to run as a script: a clean run takes about one."""


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_twenty_line_example_runs_and_stops_what_it_starts() -> None:
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    namespace: dict[str, Any] = {}
    exec(python_blocks()[0], namespace)  # asserts ref.ask("coin") == "open"
    assert not namespace["ref"].is_alive()
    assert {ref.actor_urn for ref in pykka.ActorRegistry.get_all()} == before


def test_the_twenty_line_example_ends_by_itself_as_a_script(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "turnstile.py"
    script.write_text(python_blocks()[0])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ACTORFSM_")}
    done = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        env=environment,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""  # nothing left for the exit path to stop or report


def test_the_test_kit_example_passes(probe: Probe, virtual_clock: VirtualClock) -> None:
    first, second = python_blocks()[:2]
    namespace: dict[str, Any] = {}
    exec(first, namespace)
    exec(second, namespace)
    namespace["test_closes_after_five_seconds"](probe, virtual_clock)


def test_the_spark_connector_example_runs_and_says_where_to_import_from(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (block,) = [b for b in python_blocks() if "SparkConnector.start(" in b]
    assert "from actors.spark.connector import SparkConnector" in block
    monkeypatch.chdir(tmp_path)  # its datastore is spark.db in the working directory
    exec(block, {})
    assert (tmp_path / "spark.db").exists()


def test_the_debugging_demo_runs_as_the_readme_says() -> None:
    match = re.search(
        r"Run `python -m (examples\.\w+)` from the top directory of a clone", README.read_text()
    )
    assert match is not None, "the README must say where to run the debugging demo from"
    done = subprocess.run(
        [sys.executable, "-m", match[1]],
        cwd=README.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
