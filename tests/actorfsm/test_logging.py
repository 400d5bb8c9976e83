"""actorfsm.logging.configure: set-up for programs (the library never configures structlog)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog

from actorfsm.logging import configure


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_json_format_writes_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure(format="json", level="info")
    structlog.get_logger("test").info("phase_changed", old="A", new="B")
    structlog.get_logger("test").debug("hidden")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "phase_changed"
    assert (record["old"], record["new"], record["level"]) == ("A", "B", "info")


def test_console_format_renders_the_event(capsys: pytest.CaptureFixture[str]) -> None:
    configure(format="console", level="debug")
    structlog.get_logger("test").debug("shown", n=1)
    err = capsys.readouterr().err
    assert "shown" in err and "n" in err


def test_bad_format_or_level_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="format"):
        configure(format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level"):
        configure(level="loud")


def test_json_tracebacks_carry_no_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    configure(format="json")
    secret = "hunter2"
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("test").exception("failed")
    del secret
    record = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert record["exception"][0]["exc_type"] == "ValueError"
    assert "hunter2" not in json.dumps(record)


FAILING_SCRIPT = """
import time
from actorfsm import LoggingFSM, stay

class Fragile(LoggingFSM):
    log_depth = 5

    def __init__(self):
        super().__init__()
        self.start_with("up", 0)
        self.when("up", self.up)

    def up(self, event):
        if event.event == "boom":
            raise ValueError("planned")
        return stay()

ref = Fragile.start()
for i in range(3):
    ref.tell(("entry", i))
ref.tell("boom")
time.sleep(0.5)
print("program output")
"""


def test_without_configure_the_failure_report_goes_to_stderr_one_log_entry_a_line() -> None:
    """A program that never configures logging: its stdout holds only its own output."""
    done = subprocess.run(
        [sys.executable, "-c", FAILING_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.stdout == "program output\n"
    report = done.stderr.splitlines()
    assert "fsm_failed" in report[0] and "log=" not in report[0]
    entries = [line for line in report if line.startswith("    log: ")]
    assert [entry.split("event=")[1] for entry in entries] == [
        "('entry', 0)",
        "('entry', 1)",
        "('entry', 2)",
        "'boom'",
    ]
    assert "ValueError: planned" in done.stderr


def test_configure_console_renders_the_rolling_log_one_entry_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(format="console")
    structlog.get_logger("test").error("fsm_failed", log=["first entry", "second entry"])
    err = capsys.readouterr().err.splitlines()
    assert err[1:] == ["    log: first entry", "    log: second entry"]
