"""inspect(): snapshots without messages; diagram(): mermaid of declared and observed states."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

import pytest

from actorfsm import FSM, Event, FSMSnapshot, LoggingFSM, StateMetrics, diagram, goto, inspect
from actorfsm.testing import VirtualClock, settle
from actors.buncher import Buncher


class S(enum.Enum):
    IDLE = 1
    BUSY = 2
    DONE = 3


class Worker(LoggingFSM[S, int]):
    log_depth = 3

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.IDLE, 0)
        self.when(S.IDLE, self.handle)
        self.when(S.BUSY, self.handle, state_timeout=5.0)
        self.when(S.DONE, self.handle)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "work":
                self.start_single_timer("poll", "poll", 2.0)
                return goto(S.BUSY).using(event.data + 1)
            case "rest":
                return goto(S.IDLE)
            case "finish":
                return goto(S.DONE)
        return None


def test_snapshot_shows_state_data_timers_log_and_metrics(virtual_clock: VirtualClock) -> None:
    ref = Worker.start()
    for message in ("work", "rest", "work"):
        ref.tell(message)
    settle(ref)
    virtual_clock.advance(1.0)
    snapshot = inspect(ref)
    assert isinstance(snapshot, FSMSnapshot)
    assert snapshot.state_name == S.BUSY
    assert snapshot.state_data == 2
    assert snapshot.timers == {"poll": pytest.approx(1.0)}
    assert snapshot.state_timeout == pytest.approx(4.0)
    assert [entry.event for entry in snapshot.log] == ["work", "rest", "work"]
    assert snapshot.current_event is None and snapshot.busy_for is None
    assert snapshot.metrics[S.BUSY].entries == 2
    assert snapshot.metrics[S.IDLE].entries == 2  # the initial entry counts
    assert isinstance(snapshot.metrics[S.IDLE], StateMetrics)
    assert snapshot.metrics[S.IDLE].total_time >= 0
    assert snapshot.alive
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.state_name = S.DONE  # type: ignore[misc]


def test_snapshot_of_a_stopped_fsm() -> None:
    ref = Worker.start()
    ref.stop()
    assert inspect(ref).alive is False


def test_inspect_rejects_what_is_not_an_fsm() -> None:
    with pytest.raises(TypeError):
        inspect("not a ref")


def test_diagram_of_a_running_fsm_counts_observed_transitions() -> None:
    ref = Worker.start()
    for message in ("work", "rest", "work", "finish"):
        ref.tell(message)
    settle(ref)
    text = diagram(ref)
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert "    [*] --> IDLE" in lines
    assert {"    IDLE", "    BUSY", "    DONE"} <= set(lines)
    assert "    IDLE --> BUSY: 2" in lines
    assert "    BUSY --> IDLE: 1" in lines
    assert "    BUSY --> DONE: 1" in lines


def test_diagram_of_a_class_shows_declared_states_only() -> None:
    text = diagram(Buncher)
    assert text.splitlines() == ["stateDiagram-v2", "    [*] --> IDLE", "    IDLE", "    ACTIVE"]


def test_diagram_names_non_identifier_states_safely() -> None:
    class Strings(FSM[str, None]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with("waiting for data", None)
            self.when("waiting for data", lambda e: goto("end"))
            self.when("end", lambda e: None)

    ref = Strings.start()
    ref.tell("go")
    settle(ref)
    lines = diagram(ref).splitlines()
    assert "    [*] --> s0" in lines
    assert "    s0 --> s1_end: 1" in lines  # "end" is a mermaid keyword
    assert '    state "waiting for data" as s0' in lines


def test_diagram_of_a_class_needing_arguments_is_a_clear_error() -> None:
    class NeedsArgs(FSM[S, None]):
        def __init__(self, required: int) -> None:
            super().__init__()

    with pytest.raises(TypeError, match="constructor without arguments"):
        diagram(NeedsArgs)
