"""LoggingFSM: the rolling log, the one-per-failure report, and debug tracing."""

from __future__ import annotations

import enum
import time
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    Event,
    Failure,
    LogEntry,
    LoggingFSM,
    StateTimeout,
    StopEvent,
    goto,
    stay,
    stop,
)
from actorfsm.rendering import REPR_LIMIT
from actorfsm.testing import Probe, VirtualClock, settle


class S(enum.Enum):
    A = 1
    B = 2


class Boom(Exception):
    pass


class Recorder(LoggingFSM[S, int]):
    """Counts events in its data; fails on "fail"."""

    log_depth = 4

    def __init__(self, probe: Any = None) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.A, 0)
        self.when(S.A, self.handle)
        self.when(S.B, self.handle, state_timeout=1.0)
        self.on_termination(lambda e: probe.tell(e) if probe is not None else None)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "fail":
                raise Boom("on purpose")
            case "to b":
                return goto(S.B).using(event.data + 1)
            case "to a" | StateTimeout():
                return goto(S.A).using(event.data + 1)
            case "log?":
                return stay().replying(self.get_log())
            case ("timer", delay):
                self.start_single_timer("t", "timer fired", delay)
        return stay().using(event.data + 1)


def test_get_log_is_oldest_first_and_bounded_by_log_depth() -> None:
    ref = Recorder.start()
    before = time.time()
    for n in range(6):
        ref.tell(("msg", n))
    log = ref.ask("log?")
    assert len(log) == 4
    assert [entry.event for entry in log] == [("msg", 3), ("msg", 4), ("msg", 5), "log?"]
    assert [entry.state_data for entry in log] == [3, 4, 5, 6]
    assert all(isinstance(entry, LogEntry) and entry.state_name == S.A for entry in log)
    assert before - 1 <= log[0].at <= log[-1].at <= time.time() + 1


def test_log_records_state_timeouts_and_timer_messages(virtual_clock: VirtualClock) -> None:
    ref = Recorder.start()
    ref.tell("to b")
    ref.tell(("timer", 0.5))
    settle(ref)
    virtual_clock.advance(1.6)
    events = [entry.event for entry in ref.ask("log?")]
    assert events[-3:] == ["timer fired", StateTimeout(), "log?"]


def test_log_depth_zero_keeps_no_log() -> None:
    class Quiet(Recorder):
        log_depth = 0

    ref = Quiet.start()
    ref.tell("x")
    assert ref.ask("log?") == ()


@pytest.mark.parametrize("depth", [-1, 2.5, "12", True])
def test_bad_log_depth_is_a_value_error_at_class_creation(depth: object) -> None:
    with pytest.raises(ValueError, match="log_depth"):

        class Bad(LoggingFSM[S, None]):
            log_depth = depth  # type: ignore[assignment]


def test_a_failure_is_reported_once_with_the_rolling_log(probe: Probe) -> None:
    ref = Recorder.start(probe.ref)
    with capture_logs() as logs:
        for n in range(5):
            ref.tell(("msg", n))
        ref.tell("fail")
        probe.expect_msg_type(StopEvent)
    reports = [entry for entry in logs if entry["event"] == "fsm_failed"]
    assert len(reports) == 1
    report = reports[0]
    assert report["log_level"] == "error"
    assert "Recorder" in report["actor"] and ref.actor_urn in report["actor"]
    assert report["state"] == repr(S.A)
    assert report["data"] == "5"
    assert report["fsm_event"] == "'fail'"
    exc_type, exc, _tb = report["exc_info"]
    assert exc_type is Boom and str(exc) == "on purpose"
    log = report["log"]
    assert len(log) == 4  # bounded by log_depth, the failing event last
    assert ["('msg', 2)" in log[0], "('msg', 4)" in log[2], "'fail'" in log[3]] == [True] * 3


def test_a_plain_fsm_failure_is_reported_once_too(probe: Probe) -> None:
    class Plain(FSM[S, None]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with(S.A, None)
            self.when(S.A, self.explode)

        def explode(self, event: Event) -> Any:
            raise Boom("plain")

    ref = Plain.start()
    probe.watch(ref)
    with capture_logs() as logs:
        ref.tell("x")
        probe.expect_terminated(ref)
    assert [e["event"] for e in logs].count("fsm_failed") == 1


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_reports_render_broken_and_huge_values_safely(probe: Probe) -> None:
    ref = Recorder.start(probe.ref)
    with capture_logs() as logs:
        ref.tell(Unprintable())
        ref.tell("x" * 10_000)
        ref.tell("fail")
        probe.expect_msg_type(StopEvent)
    (report,) = [e for e in logs if e["event"] == "fsm_failed"]
    joined = "\n".join(report["log"])
    assert "<unrepresentable Unprintable: RuntimeError>" in joined
    assert "more chars>" in joined
    assert all(len(line) < 3 * REPR_LIMIT + 200 for line in report["log"])


class Traced(FSM[S, None]):
    debug_events: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.A, None)
        self.when(S.A, self.handle)
        self.when(S.B, self.handle, state_timeout=0.5)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "to b":
                return goto(S.B)
            case StateTimeout():
                return goto(S.A)
            case "timer":
                self.start_single_timer("t", "tick", 0.2)
        return stay()


def test_debug_tracing_logs_events_timers_and_transitions(virtual_clock: VirtualClock) -> None:
    with capture_logs() as logs:
        ref = Traced.start()
        ref.tell("timer")
        ref.tell("to b")
        settle(ref)
        virtual_clock.advance(0.8)  # tick at 0.2 re-arms the 0.5 s timeout: it fires at 0.7
        settle(ref)
    names = [e["event"] for e in logs]
    processed = [e["fsm_event"] for e in logs if e["event"] == "event_processed"]
    assert processed == ["'timer'", "'to b'", "'tick'", "StateTimeout()"]
    assert names.count("timer_set") == 1
    assert names.count("transition") == 2
    assert {e["log_level"] for e in logs} == {"debug"}


def test_actorfsm_debug_environment_variable_turns_tracing_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACTORFSM_DEBUG", "1")
    ref = Recorder.start()
    with capture_logs() as logs:
        ref.tell("x")
        settle(ref)
    assert [e["event"] for e in logs] == ["event_processed"]


def test_tracing_is_off_by_default() -> None:
    ref = Recorder.start()
    with capture_logs() as logs:
        ref.tell("to b")
        settle(ref)
    assert logs == []


def test_stopping_with_failure_from_a_handler_is_reported_once(probe: Probe) -> None:
    class GivesUp(LoggingFSM[S, str]):
        log_depth = 5

        def __init__(self) -> None:
            super().__init__()
            self.start_with(S.A, "first")
            self.when(S.A, self.handle)
            self.on_termination(probe.ref.tell)

        def handle(self, event: Event) -> Any:
            if event.event == "out of range":
                return stop(Failure("sensor out of range"), "last")
            return stay()

    ref = GivesUp.start()
    with capture_logs() as logs:
        ref.tell("reading")
        ref.tell("out of range")
        stop_event = probe.expect_msg_type(StopEvent)
    assert stop_event.reason == Failure("sensor out of range")
    (report,) = [e for e in logs if e["event"] == "fsm_failed"]
    assert report["cause"] == "'sensor out of range'"
    assert report["data"] == "'last'"
    assert len(report["log"]) == 2
