"""Transition subscribers: CurrentState at once, Transition on every change, dead ones dropped.

A subscriber is served on the FSM's thread, so nothing it does may break the
FSM: one whose ``__eq__`` raises is served as any other, one that is no ref
(or whose first ``tell`` raises) is refused with one warning, one whose later
``tell`` raises is dropped with one warning.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
    goto,
    stay,
)
from actorfsm.testing import Probe, settle


class S(enum.Enum):
    A = 1
    B = 2


class Flip(FSM[S, None]):
    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.A, None)
        self.when(S.A, self.flip(S.B))
        self.when(S.B, self.flip(S.A))

    @staticmethod
    def flip(to: S) -> Any:
        def handler(event: Event) -> Any:
            return stay() if event.event == "stay" else goto(to)

        return handler


def test_subscriber_gets_current_state_then_transitions(probe: Probe) -> None:
    ref = Flip.start()
    ref.tell(SubscribeTransitionCallBack(probe.ref))
    probe.expect_msg(CurrentState(ref, S.A))
    ref.tell("flip")
    probe.expect_msg(Transition(ref, S.A, S.B))
    ref.tell("stay")
    ref.tell("flip")
    probe.expect_msg(Transition(ref, S.B, S.A))  # no Transition for the stay


def test_fsm_ref_is_the_ref_start_returned(probe: Probe) -> None:
    ref = Flip.start()
    ref.tell(SubscribeTransitionCallBack(probe.ref))
    current = probe.expect_msg_type(CurrentState)
    assert current.fsm_ref is ref


def test_unsubscribe_ends_notifications(probe: Probe) -> None:
    ref = Flip.start()
    ref.tell(SubscribeTransitionCallBack(probe.ref))
    probe.expect_msg_type(CurrentState)
    ref.tell(UnsubscribeTransitionCallBack(probe.ref))
    ref.tell("flip")
    settle(ref)
    probe.expect_no_msg(0.1)


def test_dead_subscriber_is_dropped_with_one_warning_and_the_fsm_goes_on(probe: Probe) -> None:
    ref = Flip.start()
    doomed = Probe()
    ref.tell(SubscribeTransitionCallBack(doomed.ref))
    ref.tell(SubscribeTransitionCallBack(probe.ref))
    doomed.expect_msg_type(CurrentState)
    probe.expect_msg_type(CurrentState)
    doomed.ref.stop()
    with capture_logs() as logs:
        for _ in range(4):
            ref.tell("flip")
        for _ in range(4):
            probe.expect_msg_type(Transition)
    warnings = [e for e in logs if e["event"] == "transition_subscriber_dead"]
    assert len(warnings) == 1
    assert ref.is_alive()


def test_subscribing_a_dead_actor_warns_and_fails_gracefully(probe: Probe) -> None:
    ref = Flip.start()
    dead = Probe()
    dead.ref.stop()
    with capture_logs() as logs:
        ref.ask(SubscribeTransitionCallBack(dead.ref))
    assert [e["event"] for e in logs] == ["transition_subscriber_dead"]
    ref.tell("flip")
    settle(ref)
    assert ref.is_alive()


ROUNDS = 10
"""More FSMs than a pool has workers: one dead worker per round would starve the pool."""


class Touchy:
    """A ref (it forwards to a probe) whose ``__eq__`` raises, and whose ``tell`` may."""

    def __init__(self, probe: Probe, *, tell_fails_after: int | None = None) -> None:
        self.probe = probe
        self.tells_left = tell_fails_after

    def tell(self, message: Any) -> None:
        if self.tells_left is not None:
            if self.tells_left == 0:
                raise RuntimeError("tell failed")
            self.tells_left -= 1
        self.probe.ref.tell(message)

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__ raised")

    __hash__ = object.__hash__


def logged(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_a_subscriber_whose_eq_raises_is_served_like_any_other(probe: Probe) -> None:
    other = Probe()
    for _ in range(ROUNDS):
        ref = Flip.start()
        ref.ask(SubscribeTransitionCallBack(other.ref), timeout=3)
        touchy = Touchy(probe)
        ref.ask(SubscribeTransitionCallBack(touchy), timeout=3)
        ref.ask(SubscribeTransitionCallBack(touchy), timeout=3)  # subscribed once all the same
        probe.expect_msg(CurrentState(ref, S.A))
        probe.expect_msg(CurrentState(ref, S.A))
        ref.ask("flip", timeout=3)
        probe.expect_msg(Transition(ref, S.A, S.B))
        ref.ask(UnsubscribeTransitionCallBack(touchy), timeout=3)
        ref.ask("flip", timeout=3)
        probe.expect_no_msg(0.05)
        other.expect_msg(CurrentState(ref, S.A))
        other.expect_msg(Transition(ref, S.A, S.B))
        other.expect_msg(Transition(ref, S.B, S.A))
        ref.stop(timeout=3)
    other.stop()


@pytest.mark.parametrize("subscriber", [None, "nobody", 42])
def test_subscribing_something_that_is_no_ref_is_refused_with_one_warning(
    subscriber: Any,
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Flip.start()
            with pytest.raises(TypeError, match="needs an actor ref"):
                ref.ask(SubscribeTransitionCallBack(subscriber), timeout=3)
            ref.tell(SubscribeTransitionCallBack(subscriber))  # refused too, nobody to tell
            ref.ask("flip", timeout=3)
            ref.stop(timeout=3)
    refused = logged(logs, "system_message_refused")
    assert len(refused) == 2 * ROUNDS
    assert "Flip" in refused[0]["actor"]
    assert "needs an actor ref" in refused[0]["error"]
    assert not logged(logs, "fsm_failed")


def test_a_subscriber_whose_tell_raises_is_refused_then_dropped_once(probe: Probe) -> None:
    with capture_logs() as logs:
        ref = Flip.start()
        with pytest.raises(RuntimeError, match="tell failed"):
            ref.ask(SubscribeTransitionCallBack(Touchy(probe, tell_fails_after=0)), timeout=3)
        ref.ask(SubscribeTransitionCallBack(Touchy(probe, tell_fails_after=1)), timeout=3)
        probe.expect_msg(CurrentState(ref, S.A))
        ref.ask("flip", timeout=3)  # its tell raises now: dropped
        ref.ask("flip", timeout=3)  # not told again
    assert len(logged(logs, "system_message_refused")) == 1
    dropped = logged(logs, "listener_failed")
    assert len(dropped) == 1
    assert "tell failed" in dropped[0]["error"]
    probe.expect_no_msg(0.05)
