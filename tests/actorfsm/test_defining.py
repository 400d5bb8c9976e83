"""Defining an FSM: start_with, when, when_unhandled, on_transition, on_termination."""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    Event,
    Failure,
    FSMError,
    Normal,
    Shutdown,
    StopEvent,
    goto,
    stay,
    stop,
)
from actorfsm.testing import Probe


class S(enum.Enum):
    A = 1
    B = 2
    C = 3


@dataclass(frozen=True)
class Go:
    state: S


@dataclass(frozen=True)
class Tag:
    name: str


class Machine(FSM[S, Any]):
    """Goes where ``Go`` says; reports transitions and termination to a probe."""

    def __init__(self, probe: Any, data: Any = 0) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.A, data)
        for state in S:
            self.when(state, self.go)
        self.on_transition(self.report_transition)
        self.on_termination(self.report_stop)

    def go(self, event: Event) -> Any:
        match event:
            case Event(Go(state), data):
                return goto(state).using(data + 1)
            case Event("stop", _):
                return stop()
            case Event("stay", _):
                return stay()
        return None

    def report_transition(self, from_state: S, to_state: S) -> None:
        self.probe.tell(("transition", from_state, to_state, self.state_data, self.next_state_data))

    def report_stop(self, stop_event: StopEvent) -> None:
        self.probe.tell(stop_event)


def test_initial_state_is_entered_on_start_without_transition(probe: Probe) -> None:
    ref = Machine.start(probe.ref)
    assert ref.proxy().state_name.get() == S.A
    assert ref.proxy().state_data.get() == 0
    probe.expect_no_msg(0.1)


def test_goto_runs_transition_handlers_with_old_and_new_data(probe: Probe) -> None:
    ref = Machine.start(probe.ref, 10)
    ref.tell(Go(S.B))
    probe.expect_msg(("transition", S.A, S.B, 10, 11))
    assert ref.proxy().state_name.get() == S.B
    assert ref.proxy().state_data.get() == 11


def test_stay_and_goto_same_state_run_no_transition_handlers(probe: Probe) -> None:
    ref = Machine.start(probe.ref)
    ref.tell("stay")
    ref.tell(Go(S.A))
    assert ref.proxy().state_data.get() == 1  # goto(A).using(data + 1) was applied
    probe.expect_no_msg(0.1)


def test_transition_handlers_are_stacked_and_run_in_order(probe: Probe) -> None:
    class Stacked(Machine):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.on_transition(lambda f, t: self.probe.tell(("second", f, t)))

    ref = Stacked.start(probe.ref)
    ref.tell(Go(S.C))
    probe.expect_msg(("transition", S.A, S.C, 0, 1))
    probe.expect_msg(("second", S.A, S.C))


def test_several_when_handlers_of_a_state_are_tried_in_declaration_order(probe: Probe) -> None:
    class Layered(FSM[S, list[str]]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with(S.A, [])
            self.when(S.A, self.first)
            self.when(S.A, self.second)

        def first(self, event: Event) -> Any:
            match event:
                case Event(Tag("both"), _):
                    return stay().replying("first")
            return None

        def second(self, event: Event) -> Any:
            match event:
                case Event(Tag("both") | Tag("second"), _):
                    return stay().replying("second")
            return None

    ref = Layered.start()
    assert ref.ask(Tag("both")) == "first"
    assert ref.ask(Tag("second")) == "second"


def test_when_unhandled_gets_what_no_when_handler_took_and_is_replaced(probe: Probe) -> None:
    class Fallback(Machine):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.when_unhandled(lambda e: stay().replying("old"))
            self.when_unhandled(lambda e: stay().replying(("new", e.event)))

    ref = Fallback.start(probe.ref)
    assert ref.ask("unknown") == ("new", "unknown")


def test_unhandled_event_without_handler_warns_and_stays(probe: Probe) -> None:
    ref = Machine.start(probe.ref, 5)
    with capture_logs() as logs:
        assert ref.ask("nobody handles this") is None
    warnings = [e for e in logs if e["event"] == "unhandled_event"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert "nobody handles this" in warnings[0]["fsm_event"]
    assert warnings[0]["state"] == repr(S.A)
    assert warnings[0]["data"] == "5"
    assert ref.proxy().state_name.get() == S.A


def test_stop_runs_on_termination_with_normal(probe: Probe) -> None:
    ref = Machine.start(probe.ref, 3)
    probe.watch(ref)
    ref.tell("stop")
    probe.expect_msg(StopEvent(Normal(), S.A, 3))
    terminated = probe.expect_terminated(ref)
    assert terminated.reason == Normal()
    assert not ref.is_alive()


def test_ref_stop_runs_on_termination_with_shutdown(probe: Probe) -> None:
    ref = Machine.start(probe.ref, 3)
    assert ref.stop() is True
    probe.expect_msg(StopEvent(Shutdown(), S.A, 3))
    probe.expect_no_msg(0.1)  # exactly once


def test_stop_with_reason_class_is_normalised_and_data_replaced(probe: Probe) -> None:
    class Stopper(Machine):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.when_unhandled(lambda e: stop(Shutdown, "final"))

    ref = Stopper.start(probe.ref)
    ref.tell("anything")
    probe.expect_msg(StopEvent(Shutdown(), S.A, "final"))


def test_on_termination_is_replaced_not_stacked(probe: Probe) -> None:
    class Replaced(Machine):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.on_termination(lambda e: self.probe.tell(("replacement", e.reason)))

    ref = Replaced.start(probe.ref)
    ref.tell("stop")
    probe.expect_msg(("replacement", Normal()))
    probe.expect_no_msg(0.1)


def test_goto_unknown_state_fails_naming_the_state(probe: Probe) -> None:
    class Partial(FSM[S, None]):
        def __init__(self, probe: Any) -> None:
            super().__init__()
            self.start_with(S.A, None)
            self.when(S.A, lambda e: goto(S.C))
            self.on_termination(probe.tell)

    ref = Partial.start(probe.ref)
    with pytest.raises(FSMError, match=r"Next state <S\.C: 3> does not exist"):
        ref.ask("go")
    stop_event = probe.expect_msg_type(StopEvent)
    assert isinstance(stop_event.reason, Failure)
    assert "does not exist" in str(stop_event.reason.cause)


def test_start_with_state_without_when_fails_at_start(probe: Probe) -> None:
    class NoInitial(FSM[S, None]):
        def __init__(self, probe: Any) -> None:
            super().__init__()
            self.start_with(S.B, None)
            self.when(S.A, lambda e: stay())
            self.on_termination(probe.tell)

    ref = NoInitial.start(probe.ref)
    stop_event = probe.expect_msg_type(StopEvent)
    assert isinstance(stop_event.reason, Failure)
    assert "Initial state" in str(stop_event.reason.cause)
    probe.watch(ref)
    probe.expect_terminated(ref)


def test_missing_start_with_fails_at_start(probe: Probe) -> None:
    class NoStart(FSM[S, None]):
        def __init__(self) -> None:
            super().__init__()
            self.when(S.A, lambda e: stay())

    ref = NoStart.start()
    probe.watch(ref)
    terminated = probe.expect_terminated(ref)
    assert "start_with" in str(terminated.reason.cause)


def test_unhashable_state_is_a_type_error_at_declaration() -> None:
    class Bad(FSM[Any, None]):
        def __init__(self) -> None:
            super().__init__()
            self.when(["not", "hashable"], lambda e: stay())

    with pytest.raises(TypeError, match="hashable"):
        Bad()


def test_next_state_data_outside_on_transition_raises() -> None:
    class Peek(FSM[S, int]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with(S.A, 0)
            self.when(S.A, lambda e: stay())

    ref = Peek.start()
    with pytest.raises(RuntimeError, match="on_transition"):
        ref.proxy().next_state_data.get()


def test_fsm_is_a_pykka_actor_and_handlers_run_on_its_dispatcher(probe: Probe) -> None:
    class Where(FSM[S, None]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with(S.A, None)
            self.when(S.A, self.where)

        def where(self, event: Event) -> Any:
            return stay().replying(threading.current_thread().name)

    ref = Where.start()
    assert isinstance(ref, pykka.ActorRef)
    where = ref.ask("where")
    assert where != threading.current_thread().name
    assert where.startswith(("actorfsm-default", "actorfsm-Where"))  # the pool or a pinned thread


def test_on_start_hook_runs_in_actor_after_initial_state(probe: Probe) -> None:
    class Hooked(FSM[S, None]):
        def __init__(self, probe: Any) -> None:
            super().__init__()
            self.probe = probe
            self.start_with(S.B, None)
            self.when(S.B, lambda e: stay())

        def on_start(self) -> None:
            self.probe.tell(("started in", self.state_name))

    Hooked.start(probe.ref)
    probe.expect_msg(("started in", S.B))


def test_on_transition_may_start_timers_and_replace_when_unhandled(probe: Probe) -> None:
    class Rewiring(Machine):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.on_transition(self.rewire)

        def rewire(self, from_state: S, to_state: S) -> None:
            self.start_single_timer("entered", ("timer in", to_state), 0.01)
            self.when_unhandled(self.report_unhandled)

        def report_unhandled(self, event: Event) -> Any:
            self.probe.tell(("unhandled in", self.state_name, event.event))
            return stay()

    ref = Rewiring.start(probe.ref)
    ref.tell(Go(S.B))
    probe.expect_msg(("transition", S.A, S.B, 0, 1))
    probe.expect_msg(("unhandled in", S.B, ("timer in", S.B)), timeout=2)


def test_an_ask_that_leads_to_stop_without_reply_gets_none(probe: Probe) -> None:
    ref = Machine.start(probe.ref)
    assert ref.ask("stop") is None
    probe.expect_msg(StopEvent(Normal(), S.A, 0))


class Keeper(FSM[S, int]):
    """Keeps every other Event it is handed (the engine refills one no one else holds)."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Event[int]] = []
        self.start_with(S.A, 0)
        self.when(S.A, self.count)

    def count(self, event: Event[int]) -> Any:
        match event:
            case Event("kept", _):
                return stay().replying([(e.event, e.data) for e in self.kept])
            case Event(Tag(), n):
                if n % 2 == 0:
                    self.kept.append(event)
                return stay().using(n + 1)
        return None


def test_an_event_a_handler_keeps_is_never_changed_by_later_events() -> None:
    ref = Keeper.start()
    try:
        for n in range(10):
            ref.tell(Tag(f"t{n}"))
        kept = ref.ask("kept", timeout=5)
    finally:
        ref.stop()
    assert kept == [(Tag(f"t{n}"), n) for n in range(0, 10, 2)]
