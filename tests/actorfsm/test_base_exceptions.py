"""User code that raises SystemExit or KeyboardInterrupt never leaves an FSM half-stopped.

A stopping hook, or a ``__repr__`` rendered in a failure report, runs on the
thread that runs the FSM. Whatever it raises, the FSM finishes stopping: the
stop request and every ask are answered, it leaves the registry, its watchers
hear of it, nothing is reported stuck, and the thread goes on serving others.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Any, ClassVar

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, StopEvent, stay
from actorfsm.rendering import safe_repr, state_label
from actorfsm.testing import Probe

ROUNDS = 10
"""More FSMs than a pool has workers: one dead worker per round would starve the pool."""


class S(enum.Enum):
    A = 1


class Cursed:
    """State data whose ``repr`` raises ``error``."""

    def __init__(self, error: type[BaseException]) -> None:
        self.error = error

    def __repr__(self) -> str:
        raise self.error("from __repr__")


class Quiet(FSM[S, Any]):
    """Answers ``query``; fails on ``fail``; its hooks raise what the test says."""

    handler_warn_after: ClassVar[float | None] = 0.05

    def __init__(self, data: Any = None, hook_error: type[BaseException] | None = None) -> None:
        super().__init__()
        self.hook_error = hook_error
        self.start_with(S.A, data)
        self.when(S.A, self.handle)
        self.on_termination(self.terminated)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "query":
                return stay().replying("answer")
            case "fail":
                raise ValueError("handler failed")
        return None

    def terminated(self, stop_event: StopEvent) -> None:
        if self.hook_error is not None:
            raise self.hook_error("from on_termination")


class RaisingOnStop(Quiet):
    def on_stop(self) -> None:
        raise KeyboardInterrupt("from on_stop")


def registered(ref: Any) -> bool:
    return any(known is ref for known in pykka.ActorRegistry.get_all())


def stuck_reports(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == "handler_stuck"]


@pytest.mark.parametrize(
    ("fsm_class", "error", "hook"),
    [
        (Quiet, SystemExit, "on_termination"),
        (Quiet, KeyboardInterrupt, "on_termination"),
        (RaisingOnStop, None, "on_stop"),
    ],
)
def test_a_hook_raising_a_base_exception_is_logged_and_the_fsm_stops_cleanly(
    probe: Probe, fsm_class: type[Quiet], error: type[BaseException] | None, hook: str
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = fsm_class.start(None, error)
            probe.watch(ref)
            stopping = ref.stop(block=False)
            late = ref.ask("query", block=False)
            assert stopping.get(timeout=3) is True
            with pytest.raises(pykka.ActorDeadError):
                late.get(timeout=3)
            probe.expect_terminated(ref)
            assert not registered(ref)
        fresh = Quiet.start()
        assert fresh.ask("query", timeout=3) == "answer"  # the threads still serve FSMs
        time.sleep(0.3)  # several scans of the stuck-handler watcher
    failures = [e for e in logs if e["event"] == "hook_failed"]
    assert len(failures) == ROUNDS
    assert {e["hook"] for e in failures} == {hook}
    assert not stuck_reports(logs)


@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt])
def test_state_data_whose_repr_raises_a_base_exception_still_gives_one_failure_report(
    probe: Probe, error: type[BaseException]
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Quiet.start(Cursed(error))
            probe.watch(ref)
            with pytest.raises(ValueError, match="handler failed"):
                ref.ask("fail", timeout=3)
            probe.expect_terminated(ref)
            assert not registered(ref)
            with pytest.raises(pykka.ActorDeadError):
                ref.ask("query", timeout=3)
        assert Quiet.start().ask("query", timeout=3) == "answer"
        time.sleep(0.3)
    reports = [e for e in logs if e["event"] == "fsm_failed"]
    assert len(reports) == ROUNDS
    assert reports[0]["data"] == f"<unrepresentable Cursed: {error.__name__}>"
    assert not stuck_reports(logs)


def test_safe_repr_renders_a_base_exception_as_a_placeholder_off_the_main_thread() -> None:
    rendered: list[str] = []
    worker = threading.Thread(
        target=lambda: rendered.extend(
            [safe_repr(Cursed(KeyboardInterrupt)), state_label(Cursed(SystemExit))]
        )
    )
    worker.start()
    worker.join(5)
    assert rendered == [
        "<unrepresentable Cursed: KeyboardInterrupt>",
        "<unrepresentable Cursed: SystemExit>",
    ]


def test_safe_repr_lets_a_ctrl_c_on_the_main_thread_through() -> None:
    assert safe_repr(Cursed(SystemExit)) == "<unrepresentable Cursed: SystemExit>"
    with pytest.raises(KeyboardInterrupt):
        safe_repr(Cursed(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        state_label(Cursed(KeyboardInterrupt))
