"""State timeouts: defaults, for_max, cancelled by any event, never after an intervening one."""

from __future__ import annotations

import enum
import threading
from datetime import timedelta
from typing import Any

import pytest

from actorfsm import FSM, Event, StateTimeout, SubscribeTransitionCallBack, goto, stay
from actorfsm.testing import Probe, VirtualClock, settle


class S(enum.Enum):
    IDLE = 1
    WAITING = 2
    OTHER = 3


class Timed(FSM[S, None]):
    """WAITING times out after 1 s by default; every event is reported to the probe."""

    def __init__(self, probe: Any, waiting_timeout: object = 1.0) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.IDLE, None)
        self.when(S.IDLE, self.idle)
        self.when(S.WAITING, self.waiting, state_timeout=waiting_timeout)
        self.when(S.OTHER, self.idle)

    def idle(self, event: Event) -> Any:
        match event.event:
            case "wait":
                return goto(S.WAITING)
            case ("wait for", seconds):
                return goto(S.WAITING).for_max(seconds)
        return None

    def waiting(self, event: Event) -> Any:
        self.probe.tell((event.event, self.is_state_timer_active()))
        match event:
            case Event(StateTimeout(), _):
                return goto(S.IDLE)
            case Event("stay", _):
                return stay()
            case Event("same", _):
                return goto(S.WAITING)
            case Event(("for_max", seconds), _):
                return stay().for_max(seconds)
            case Event(("set default", seconds), _):
                self.set_state_timeout(S.WAITING, seconds)
                return stay()
        return None  # unhandled: an implicit stay

    def block(self, gate: threading.Event) -> None:
        """A proxy call that holds the actor thread (proxy calls are not events)."""
        gate.wait(5)


def test_state_timeout_fires_after_the_default(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)  # not an event: only waits until the goto is applied
    virtual_clock.advance(0.99)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.02)
    probe.expect_msg((StateTimeout(), False))
    assert ref.proxy().state_name.get() == S.IDLE


def test_any_event_cancels_the_timeout_before_its_handler_runs(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    virtual_clock.advance(0.5)
    ref.tell("stay")
    probe.expect_msg(("stay", False))  # cancelled while the handler runs
    settle(ref)
    virtual_clock.advance(0.9)  # 1.4 s after entering, 0.9 s after the re-arm
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg((StateTimeout(), False))


@pytest.mark.parametrize("event", ["stay", "same", "unhandled"])
def test_stay_goto_same_and_unhandled_rearm_the_default(
    probe: Probe, virtual_clock: VirtualClock, event: str
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    virtual_clock.advance(0.8)
    ref.tell(event)
    probe.expect_msg((event, False))
    settle(ref)
    virtual_clock.advance(0.8)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.3)
    probe.expect_msg((StateTimeout(), False))


def test_for_max_overrides_the_default_for_one_entry(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell(("wait for", 5))
    settle(ref)
    virtual_clock.advance(4.9)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg((StateTimeout(), False))
    ref.tell("wait")  # back to the 1 s default
    settle(ref)
    virtual_clock.advance(1.01)
    probe.expect_msg((StateTimeout(), False))


@pytest.mark.parametrize("no_timeout", [None, float("inf")])
def test_for_max_none_or_inf_cancels_the_default(
    probe: Probe, virtual_clock: VirtualClock, no_timeout: float | None
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell(("wait for", no_timeout))
    settle(ref)
    assert virtual_clock.advance(100) == 0
    probe.expect_no_msg(0.05)
    assert ref.proxy().state_name.get() == S.WAITING


def test_for_max_accepts_timedelta(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = Timed.start(probe.ref)
    ref.tell(("wait for", timedelta(milliseconds=300)))
    settle(ref)
    virtual_clock.advance(0.31)
    probe.expect_msg((StateTimeout(), False))


def test_is_state_timer_active_outside_handlers(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = Timed.start(probe.ref)
    assert ref.proxy().is_state_timer_active().get() is False
    ref.tell("wait")
    assert ref.proxy().is_state_timer_active().get() is True


def test_set_state_timeout_changes_the_default_at_run_time(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    ref.tell(("set default", 3.0))
    probe.expect_msg((("set default", 3.0), False))
    settle(ref)
    virtual_clock.advance(2.9)  # the stay re-armed with the new default
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg((StateTimeout(), False))


def test_a_later_when_replaces_the_default_and_one_without_keeps_it(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    class Redeclared(Timed):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.when(S.WAITING, self.waiting, state_timeout=2.0)
            self.when(S.WAITING, self.waiting)  # keeps 2.0

    ref = Redeclared.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    virtual_clock.advance(1.9)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg((StateTimeout(), False))


def test_start_with_timeout_applies_to_the_initial_state(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    class StartsWaiting(Timed):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.start_with(S.WAITING, None, timeout=0.5)

    StartsWaiting.start(probe.ref)
    virtual_clock.advance(0.51)
    probe.expect_msg((StateTimeout(), False))


def test_proxy_calls_and_subscriptions_do_not_cancel_the_timeout(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    virtual_clock.advance(0.6)
    assert ref.proxy().state_name.get() == S.WAITING
    ref.ask(SubscribeTransitionCallBack(Probe().ref))
    virtual_clock.advance(0.5)
    probe.expect_msg((StateTimeout(), False))


def test_state_timeout_never_arrives_after_an_intervening_event(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timed.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    gate = threading.Event()
    blocked = ref.proxy().block(gate)  # holds the actor; not an event
    ref.tell("stay")  # queued before the timeout fires
    releaser = threading.Timer(0.2, gate.set)
    releaser.start()
    delivered = virtual_clock.advance(1.5)  # fires now, queued behind "stay"
    releaser.join()
    blocked.get(timeout=5)
    assert delivered == 1
    probe.expect_msg(("stay", False))
    probe.expect_no_msg(0.1)  # the stale timeout was dropped
    virtual_clock.advance(1.01)  # the re-armed one still fires
    probe.expect_msg((StateTimeout(), False))


def test_state_timeout_on_real_time(probe: Probe) -> None:
    ref = Timed.start(probe.ref, 0.05)
    ref.tell("wait")
    probe.expect_msg((StateTimeout(), False), timeout=2.0)


@pytest.mark.parametrize("bad", [-1, "1s", float("nan"), object()])
def test_bad_timeouts_are_value_errors_at_the_call(bad: object) -> None:
    fsm = Timed(None)
    with pytest.raises(ValueError):
        fsm.when(S.OTHER, fsm.idle, state_timeout=bad)
    with pytest.raises(ValueError):
        fsm.set_state_timeout(S.OTHER, bad)
    with pytest.raises(ValueError):
        stay().for_max(bad)
    with pytest.raises(ValueError):
        fsm.start_with(S.IDLE, None, timeout=bad)


def test_initialize_re_arms_the_current_state_timeout(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    class Reinitialised(Timed):
        def reinit(self) -> None:
            self.initialize()

    ref = Reinitialised.start(probe.ref)
    ref.tell("wait")
    settle(ref)
    virtual_clock.advance(0.8)
    ref.proxy().reinit().get()  # a proxy call: not an event, but it re-arms
    virtual_clock.advance(0.8)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.3)
    probe.expect_msg((StateTimeout(), False))


def test_start_with_none_keeps_the_default_and_inf_cancels_it(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    class StartsWaiting(Timed):
        def __init__(self, probe: Any, initial_timeout: float | None) -> None:
            super().__init__(probe)
            self.start_with(S.WAITING, None, initial_timeout)

    StartsWaiting.start(probe.ref, None)  # the state's default: 1 s
    virtual_clock.advance(1.0)
    probe.expect_msg((StateTimeout(), False))
    StartsWaiting.start(probe.ref, float("inf"))
    assert virtual_clock.advance(100) == 0
    probe.expect_no_msg(0.05)
