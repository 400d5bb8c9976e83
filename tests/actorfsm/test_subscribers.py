"""Transition subscribers: CurrentState at once, Transition on every change, dead ones dropped."""

from __future__ import annotations

import enum
from typing import Any

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
