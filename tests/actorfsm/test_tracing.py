"""Tracing (``debug_events``, ``ACTORFSM_DEBUG=1``) misses nothing: ``for_max`` on stay, postponing.

The engine serves ``stay()`` and its modifiers on a fast path; the trace must
still say when that path re-arms the state timeout, and every postponed event
is traced when it is set aside.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, goto, stay
from actorfsm.testing import settle


class S(enum.Enum):
    IDLE = 1
    BUSY = 2


class Traced(FSM[S, int]):
    """``extend`` stays with a longer timeout; ``later`` is postponed in IDLE; ``go`` to BUSY."""

    debug_events: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.IDLE, 0)
        self.when(S.IDLE, self.idle, state_timeout=60.0)
        self.when(S.BUSY, self.busy)

    def idle(self, event: Event) -> Any:
        match event.event:
            case "extend":
                return stay().for_max(30.0)
            case "extend and reply":
                return stay().for_max(20.0).replying("extended")
            case "later":
                return stay().postponing()
            case "go":
                return goto(S.BUSY)
        return None

    def busy(self, event: Event) -> Any:
        match event.event:
            case "later":
                return stay().replying("handled in BUSY")
        return None


class TracedByEnvironment(Traced):
    debug_events: ClassVar[bool] = False


def traced(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


@pytest.fixture(params=["debug_events", "ACTORFSM_DEBUG"])
def fsm_class(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> type[Traced]:
    if request.param == "ACTORFSM_DEBUG":
        monkeypatch.setenv("ACTORFSM_DEBUG", "1")
        return TracedByEnvironment
    return Traced


def test_stay_for_max_traces_the_state_timeout_it_sets(fsm_class: type[Traced]) -> None:
    ref = fsm_class.start()
    settle(ref)
    with capture_logs() as logs:
        ref.ask("extend")
        assert ref.ask("extend and reply") == "extended"
    timeouts = traced(logs, "state_timeout_set")
    assert [e["after"] for e in timeouts] == [30.0, 20.0]
    assert all(fsm_class.__name__ in e["actor"] for e in timeouts)
    assert all(e["log_level"] == "debug" for e in timeouts)


def test_a_postponed_event_is_traced_when_set_aside(fsm_class: type[Traced]) -> None:
    ref = fsm_class.start()
    with capture_logs() as logs:
        later = ref.ask("later", block=False)
        ref.ask("go")
        assert later.get(timeout=3) == "handled in BUSY"
    names = [e["event"] for e in logs if e["event"] in ("event_postponed", "transition")]
    assert names == ["event_postponed", "transition"]
    (postponed,) = traced(logs, "event_postponed")
    assert postponed["fsm_event"] == "'later'"
    assert postponed["log_level"] == "debug"
