"""actorfsm.logging.configure: set-up for programs (the library never configures structlog)."""

from __future__ import annotations

import json
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
