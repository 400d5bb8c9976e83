"""The README's Python examples run as written (the twenty lines, and the test-kit example)."""

from __future__ import annotations

import pathlib
import re
from typing import Any

from actorfsm.testing import Probe, VirtualClock

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_twenty_line_example_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(python_blocks()[0], namespace)  # ends with: assert ref.ask("coin") == "open"
    namespace["ref"].stop()


def test_the_test_kit_example_passes(probe: Probe, virtual_clock: VirtualClock) -> None:
    first, second = python_blocks()[:2]
    namespace: dict[str, Any] = {}
    exec(first, namespace)
    namespace["ref"].stop()
    exec(second, namespace)
    namespace["test_closes_after_five_seconds"](probe, virtual_clock)
