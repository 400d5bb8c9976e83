"""Postponing (gen_statem's postpone): events kept until the next real state change."""

from __future__ import annotations

import enum
from typing import Any

import pykka
import pytest

from actorfsm import FSM, Event, goto, stay, stop
from actorfsm.testing import Probe, settle


class S(enum.Enum):
    CLOSED = 1
    OPEN = 2


class Door(FSM[S, None]):
    """Work arriving while CLOSED is postponed until the door opens."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.CLOSED, None)
        self.when(S.CLOSED, self.closed)
        self.when(S.OPEN, self.open)

    def closed(self, event: Event) -> Any:
        match event.event:
            case "open":
                return goto(S.OPEN)
            case "stay closed":
                return stay()
            case "die":
                return stop()
            case ("work", _):
                return stay().postponing()
        return None

    def open(self, event: Event) -> Any:
        match event.event:
            case ("work", n):
                self.probe.tell(("done", n))
                return stay().replying(("done", n))
            case "close":
                return goto(S.CLOSED)
        return None


def test_postponed_events_come_back_in_order_before_newer_messages(probe: Probe) -> None:
    ref = Door.start(probe.ref)
    ref.tell(("work", 1))
    ref.tell(("work", 2))
    ref.tell("open")
    ref.tell(("work", 3))
    for n in (1, 2, 3):
        probe.expect_msg(("done", n))


def test_without_a_state_change_postponed_events_stay_postponed(probe: Probe) -> None:
    ref = Door.start(probe.ref)
    ref.tell(("work", 1))
    ref.tell("stay closed")
    settle(ref)
    probe.expect_no_msg(0.1)
    ref.tell("open")
    probe.expect_msg(("done", 1))


def test_a_postponed_ask_keeps_its_asker_waiting_until_handled(probe: Probe) -> None:
    ref = Door.start(probe.ref)
    answer = ref.ask(("work", 9), block=False)
    settle(ref)
    with pytest.raises(pykka.Timeout):
        answer.get(timeout=0.1)
    ref.tell("open")
    assert answer.get(timeout=3) == ("done", 9)


def test_postponed_asks_fail_with_actor_dead_error_when_the_fsm_stops(probe: Probe) -> None:
    ref = Door.start(probe.ref)
    answer = ref.ask(("work", 1), block=False)
    ref.tell("die")
    with pytest.raises(pykka.ActorDeadError):
        answer.get(timeout=3)


def test_events_postponed_again_wait_for_the_next_change(probe: Probe) -> None:
    ref = Door.start(probe.ref)
    ref.tell(("work", 1))
    ref.tell("open")
    probe.expect_msg(("done", 1))
    ref.tell("close")
    ref.tell(("work", 2))
    ref.tell("open")
    probe.expect_msg(("done", 2))
