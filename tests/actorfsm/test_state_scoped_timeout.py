"""gen_statem's state-scoped timeout (``.for_state``) beside Akka's state timeout (``.for_max``)."""

from __future__ import annotations

import enum
from typing import Any

from actorfsm import FSM, Event, NextState, StateTimeout, goto, settle_all, stay
from actorfsm.testing import Probe, VirtualClock


class S(enum.Enum):
    LOCKED = 1
    OPEN = 2


class CodeLock(FSM[S, None]):
    """A door that relocks 10 s after opening, however many buttons are pressed meanwhile."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.LOCKED, None)
        self.when(S.LOCKED, self.locked)
        self.when(S.OPEN, self.open)

    def locked(self, event: Event) -> NextState | None:
        match event:
            case Event("code", _):
                return goto(S.OPEN).for_state(10.0)
            case Event(StateTimeout(), _):
                self.probe.tell("timeout while locked")
        return stay()

    def open(self, event: Event) -> NextState | None:
        match event:
            case Event(StateTimeout(), _):
                self.probe.tell("relock")
                return goto(S.LOCKED)
            case Event("button", _):
                return stay()  # an event in the state: the state-scoped timeout keeps running
            case Event("hold open", _):
                return stay().for_state(10.0)  # given again: restarts
            case Event("keep open", _):
                return stay().for_state(None)  # cancels
            case Event("lock", _):
                return goto(S.LOCKED)
        return None


def test_other_events_do_not_cancel_a_state_scoped_timeout(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = CodeLock.start(probe.ref)
    ref.tell("code")
    settle_all()  # opened at virtual time 0
    for _ in range(5):
        virtual_clock.advance(1.9)
        ref.tell("button")  # with .for_max each of these would cancel it
    virtual_clock.advance(0.6)
    probe.expect_msg("relock")
    ref.stop()


def test_giving_it_again_restarts_it_and_none_cancels_it(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = CodeLock.start(probe.ref)
    ref.tell("code")
    settle_all()
    virtual_clock.advance(9.0)
    ref.tell("hold open")
    settle_all()
    virtual_clock.advance(9.0)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(1.0)
    probe.expect_msg("relock")
    ref.tell("code")
    ref.tell("keep open")
    settle_all()
    virtual_clock.advance(60.0)
    probe.expect_no_msg(0.05)
    ref.stop()


def test_a_state_change_cancels_it(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = CodeLock.start(probe.ref)
    ref.tell("code")
    ref.tell("lock")
    virtual_clock.advance(30.0)
    probe.expect_no_msg(0.05)  # no StateTimeout reaches LOCKED
    ref.stop()
