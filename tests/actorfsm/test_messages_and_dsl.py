"""Message shapes (field names, match_args) and the next-state descriptions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from actorfsm import (
    CurrentState,
    Event,
    Failure,
    LogEntry,
    NextState,
    Normal,
    Shutdown,
    StateTimeout,
    StopEvent,
    Terminated,
    Transition,
    goto,
    stay,
    stop,
)


@pytest.mark.parametrize(
    ("cls", "fields"),
    [
        (Event, ("event", "data")),
        (StopEvent, ("reason", "state_name", "state_data")),
        (Failure, ("cause",)),
        (CurrentState, ("fsm_ref", "state")),
        (Transition, ("fsm_ref", "from_state", "to_state")),
        (LogEntry, ("state_name", "state_data", "event", "at")),
        (Terminated, ("ref", "reason")),
        (StateTimeout, ()),
        (Normal, ()),
        (Shutdown, ()),
    ],
)
def test_messages_are_frozen_dataclasses_with_match_args(
    cls: type, fields: tuple[str, ...]
) -> None:
    assert dataclasses.is_dataclass(cls)
    assert tuple(f.name for f in dataclasses.fields(cls)) == fields
    assert cls.__match_args__ == fields  # type: ignore[attr-defined]
    instance = cls(*range(len(fields)))
    assert instance == cls(*range(len(fields)))
    for name in fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(instance, name, "changed")


def test_markers_match_with_class_patterns() -> None:
    match StopEvent(Failure(ValueError("x")), "S", "D"):
        case StopEvent(Failure(cause), state, data):
            assert isinstance(cause, ValueError)
            assert (state, data) == ("S", "D")
        case _:
            pytest.fail("StopEvent pattern did not match")
    match Event(StateTimeout(), 1):
        case Event(StateTimeout(), data):
            assert data == 1
        case _:
            pytest.fail("StateTimeout pattern did not match")


def test_descriptions_are_immutable_comparable_values() -> None:
    assert stay() is stay()
    assert goto("B").using(1).for_max(2).replying("ok") == goto("B").using(1).for_max(2).replying(
        "ok"
    )
    assert goto("B") != goto("C")
    description = goto("B").using(1)
    assert description.data == 1
    assert goto("B").data is not None
    with pytest.raises(AttributeError):
        description.state = "C"  # type: ignore[misc]
    assert isinstance(stay().postponing(), NextState)
    assert stay().postponing().postpone is True


def test_for_max_normalises_durations() -> None:
    assert stay().for_max(timedelta(seconds=2)).timeout == 2.0
    assert stay().for_max(None).timeout is None
    assert stay().for_max(float("inf")).timeout is None


def test_stop_reasons_are_normalised_and_validated() -> None:
    assert stop().reason == Normal()
    assert stop(Shutdown).reason == Shutdown()
    assert stop(Failure("why")).reason == Failure("why")
    with pytest.raises(TypeError, match="stop reason"):
        stop("because")
