"""Stuck handlers: reported once while they block, again when they return; inspect still works."""

from __future__ import annotations

import enum
import threading
import time
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, inspect, stay
from actorfsm.testing import Probe


class S(enum.Enum):
    ON = 1


def wait_for_the_gate(gate: threading.Event) -> None:
    """The blocking call a stuck report must name."""
    gate.wait(10)


class Blocker(FSM[S, None]):
    handler_warn_after: ClassVar[float | None] = 0.2

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.ON, None)
        self.when(S.ON, self.handle)

    def handle(self, event: Event) -> Any:
        match event.event:
            case ("block", gate):
                self.probe.tell("blocking")
                wait_for_the_gate(gate)
        return stay().replying("done")


def wait_for_log(logs: list[dict[str, Any]], name: str, timeout: float) -> dict[str, Any]:
    """Wait (bounded) until an event called ``name`` was logged; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [entry for entry in logs if entry["event"] == name]
        if found:
            return found[0]
        time.sleep(0.01)
    pytest.fail(f"no {name} logged within {timeout} s: {[e['event'] for e in logs]}")


def test_a_blocking_handler_is_reported_once_then_its_return(probe: Probe) -> None:
    ref = Blocker.start(probe.ref)
    gate = threading.Event()
    with capture_logs() as logs:
        started = time.monotonic()
        answer = ref.ask(("block", gate), block=False)
        probe.expect_msg("blocking")
        stuck = wait_for_log(logs, "handler_stuck", timeout=2 * Blocker.handler_warn_after + 0.5)
        assert time.monotonic() - started <= 2 * 0.2 + 0.3
        assert stuck["log_level"] == "warning"
        assert "Blocker" in stuck["actor"]
        assert stuck["state"] == repr(S.ON)
        assert "block" in stuck["fsm_event"]
        assert stuck["elapsed"] >= 0.2
        assert "wait_for_the_gate" in stuck["stack"]
        snapshot = inspect(ref)  # answers while the handler is stuck
        assert snapshot.busy_for is not None and snapshot.busy_for >= 0.2
        assert snapshot.current_event == ("block", gate)
        time.sleep(0.3)  # stay stuck a while longer: still one report
        gate.set()
        assert answer.get(timeout=3) == "done"
        returned = wait_for_log(logs, "handler_returned", timeout=2)
    assert [e["event"] for e in logs].count("handler_stuck") == 1
    assert [e["event"] for e in logs].count("handler_returned") == 1
    assert returned["duration"] >= 0.45


def test_quick_handlers_are_never_reported(probe: Probe) -> None:
    ref = Blocker.start(probe.ref)
    with capture_logs() as logs:
        for _ in range(200):
            ref.tell("quick")
        assert ref.ask("quick") == "done"
        time.sleep(0.3)
    assert not [e for e in logs if e["event"].startswith("handler_")]


def test_detection_off_with_none(probe: Probe) -> None:
    class Unwatched(Blocker):
        handler_warn_after = None

    ref = Unwatched.start(probe.ref)
    gate = threading.Event()
    with capture_logs() as logs:
        ref.tell(("block", gate))
        probe.expect_msg("blocking")
        time.sleep(0.5)
        gate.set()
        assert ref.ask("quick") == "done"
    assert not [e for e in logs if e["event"].startswith("handler_")]


@pytest.mark.parametrize("bad", [0, -1.0, "1s", True])
def test_bad_handler_warn_after_is_a_value_error_at_class_creation(bad: object) -> None:
    with pytest.raises(ValueError, match="handler_warn_after"):

        class Bad(Blocker):
            handler_warn_after = bad  # type: ignore[assignment]


def test_a_stop_request_waits_for_the_stuck_handler_then_is_handled(probe: Probe) -> None:
    ref = Blocker.start(probe.ref)
    gate = threading.Event()
    ref.tell(("block", gate))
    probe.expect_msg("blocking")
    stopping = ref.stop(block=False)
    with pytest.raises(Exception, match="seconds"):
        stopping.get(timeout=0.3)  # it waits behind the blocked handler
    gate.set()
    assert stopping.get(timeout=3) is True


def test_after_a_stuck_call_returns_the_fsm_goes_on_and_reports_the_next_one(
    probe: Probe,
) -> None:
    ref = Blocker.start(probe.ref)
    with capture_logs() as logs:
        for _ in range(2):
            gate = threading.Event()
            started = time.monotonic()
            answer = ref.ask(("block", gate), block=False)
            probe.expect_msg("blocking")
            wait_for_log(logs, "handler_stuck", timeout=1.0)
            gate.set()
            assert answer.get(timeout=3) == "done"
            returned = wait_for_log(logs, "handler_returned", timeout=1.0)
            assert 0.2 <= returned["duration"] <= time.monotonic() - started + 0.001  # ms rounding
            for _ in range(100):
                ref.tell("quick")
            assert ref.ask("quick") == "done"
            logs.clear()
    ref.stop()


def test_a_stuck_termination_hook_is_reported_and_its_return_too(probe: Probe) -> None:
    gate = threading.Event()

    class SlowToStop(Blocker):
        def on_stop(self) -> None:
            self.probe.tell("stopping")
            wait_for_the_gate(gate)

    ref = SlowToStop.start(probe.ref)
    with capture_logs() as logs:
        stopping = ref.stop(block=False)
        probe.expect_msg("stopping")
        stuck = wait_for_log(logs, "handler_stuck", timeout=1.0)
        gate.set()
        assert stopping.get(timeout=3) is True
        wait_for_log(logs, "handler_returned", timeout=1.0)
    assert stuck["fsm_event"] == repr("<on_stop>")
    assert [e["event"] for e in logs].count("handler_returned") == 1
