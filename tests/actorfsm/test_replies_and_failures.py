"""Replies (.replying, asks answered with None) and failures (handlers, hooks, bad results)."""

from __future__ import annotations

import enum
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, Failure, StopEvent, Terminated, goto, stay, stop, unwatch
from actorfsm.testing import Probe, settle


class S(enum.Enum):
    A = 1
    B = 2


class Boom(Exception):
    pass


class Replier(FSM[S, int]):
    def __init__(self, probe: Any = None) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.A, 0)
        self.when(S.A, self.handle)
        self.when(S.B, self.handle)
        self.on_termination(self.terminated)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "query":
                return stay().replying(("answer", event.data))
            case "goto b":
                return goto(S.B).using(7).replying("went")
            case "nothing":
                return stay()
            case "stop replying":
                return stop().replying("bye")
            case "raise":
                raise Boom("handler failed")
            case "bad result":
                return 42
            case "bad tuple":
                return ("goto", S.B)
        return None

    def terminated(self, stop_event: StopEvent) -> None:
        if self.probe is not None:
            self.probe.tell(stop_event)


def test_replying_answers_the_ask() -> None:
    ref = Replier.start()
    assert ref.ask("query") == ("answer", 0)
    assert ref.ask("goto b") == "went"
    assert ref.ask("query") == ("answer", 7)


def test_an_event_without_reply_answers_an_ask_with_none() -> None:
    ref = Replier.start()
    assert ref.ask("nothing") is None


def test_a_reply_to_a_tell_is_dropped_and_logged_at_debug() -> None:
    ref = Replier.start()
    with capture_logs() as logs:
        ref.tell("query")
        settle(ref)
    dropped = [e for e in logs if e["event"] == "reply_dropped"]
    assert len(dropped) == 1
    assert dropped[0]["log_level"] == "debug"
    assert ref.is_alive()


def test_stop_with_replying_answers_the_ask(probe: Probe) -> None:
    ref = Replier.start(probe.ref)
    assert ref.ask("stop replying") == "bye"
    probe.expect_msg_type(StopEvent)


def test_handler_exception_stops_with_failure_and_the_asker_gets_it(probe: Probe) -> None:
    ref = Replier.start(probe.ref)
    probe.watch(ref)
    with capture_logs() as logs, pytest.raises(Boom, match="handler failed"):
        ref.ask("raise")
    stop_event = probe.expect_msg_type(StopEvent)
    assert isinstance(stop_event.reason, Failure)
    assert isinstance(stop_event.reason.cause, Boom)
    assert stop_event.state_name == S.A
    terminated = probe.expect_terminated(ref)
    assert terminated.reason == stop_event.reason
    assert [e["event"] for e in logs].count("fsm_failed") == 1
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("query")


def test_handler_exception_on_tell_stops_too(probe: Probe) -> None:
    ref = Replier.start(probe.ref)
    ref.tell("raise")
    stop_event = probe.expect_msg_type(StopEvent)
    assert isinstance(stop_event.reason, Failure)


def test_messages_queued_behind_a_failure_get_actor_dead_error(probe: Probe) -> None:
    ref = Replier.start(probe.ref)
    ref.tell("raise")
    pending = ref.ask("query", block=False)
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=3)


@pytest.mark.parametrize(("message", "shown"), [("bad result", "42"), ("bad tuple", "'goto'")])
def test_bad_handler_result_is_a_type_error_naming_handler_state_and_value(
    probe: Probe, message: str, shown: str
) -> None:
    ref = Replier.start(probe.ref)
    with pytest.raises(TypeError) as raised:
        ref.ask(message)
    text = str(raised.value)
    assert "Replier.handle" in text
    assert "S.A" in text
    assert shown in text
    stop_event = probe.expect_msg_type(StopEvent)
    assert isinstance(stop_event.reason.cause, TypeError)


def test_failing_on_transition_fails_the_fsm_and_the_asker_gets_that_error(probe: Probe) -> None:
    class BadTransition(Replier):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.on_transition(self.explode)

        def explode(self, from_state: S, to_state: S) -> None:
            raise Boom("transition failed")

    ref = BadTransition.start(probe.ref)
    with pytest.raises(Boom, match="transition failed"):
        ref.ask("goto b")
    stop_event = probe.expect_msg_type(StopEvent)
    assert stop_event.state_name == S.A  # the transition never completed
    assert isinstance(stop_event.reason, Failure)


def test_failing_on_termination_is_logged_and_the_fsm_still_stops(probe: Probe) -> None:
    class BadTermination(Replier):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.on_termination(self.explode)

        def explode(self, stop_event: StopEvent) -> None:
            raise Boom("termination failed")

    ref = BadTermination.start(probe.ref)
    probe.watch(ref)
    with capture_logs() as logs:
        assert ref.ask("stop replying") == "bye"
        probe.expect_terminated(ref)
    failures = [e for e in logs if e["event"] == "hook_failed"]
    assert len(failures) == 1
    assert failures[0]["hook"] == "on_termination"
    assert "BadTermination" in failures[0]["actor"]
    assert not ref.is_alive()


def test_on_termination_runs_exactly_once_when_stopped_twice(probe: Probe) -> None:
    ref = Replier.start(probe.ref)
    first = ref.stop(block=False)
    second = ref.stop(block=False)
    assert first.get(timeout=3) is True
    assert second.get(timeout=3) in (True, False)
    probe.expect_msg_type(StopEvent)
    probe.expect_no_msg(0.1)


def test_watching_a_dead_fsm_delivers_terminated_at_once(probe: Probe) -> None:
    ref = Replier.start()
    ref.stop()
    probe.watch(ref)
    terminated = probe.expect_msg_type(Terminated)
    assert terminated.ref is ref


def test_unwatch_ends_death_watch(probe: Probe) -> None:
    ref = Replier.start()
    probe.watch(ref)
    unwatch(probe.ref, ref)
    ref.stop()
    probe.expect_no_msg(0.2)
