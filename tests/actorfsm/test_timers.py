"""Named timers: single, fixed delay, fixed rate, replace, cancel (even when already queued)."""

from __future__ import annotations

import enum
import threading
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, StopEvent, stay, stop
from actorfsm.testing import Probe, VirtualClock, settle


class S(enum.Enum):
    ON = 1


class Timers(FSM[S, None]):
    """Starts and cancels timers on request; reports every other event to the probe."""

    def __init__(self, probe: Any, debug: bool = False) -> None:
        super().__init__()
        self.probe = probe
        self._trace = debug
        self._observe = self._observer()
        self.start_with(S.ON, None)
        self.when(S.ON, self.on)
        self.on_termination(self.terminated)

    def on(self, event: Event) -> Any:
        match event.event:
            case ("single", name, msg, delay):
                self.start_single_timer(name, msg, delay)
            case ("delay", name, msg, delay):
                self.start_timer_with_fixed_delay(name, msg, delay)
            case ("rate", name, msg, interval):
                self.start_timer_at_fixed_rate(name, msg, interval)
            case ("set", name, msg, interval, repeat):
                self.set_timer(name, msg, interval, repeat)
            case ("cancel", name):
                self.cancel_timer(name)
            case ("active?", name):
                return stay().replying(self.is_timer_active(name))
            case "stop":
                return stop()
            case message:
                self.probe.tell((message, {n: self.is_timer_active(n) for n in ("t", "u")}))
        return stay()

    def terminated(self, stop_event: StopEvent) -> None:
        self.probe.tell(("terminated", self.is_timer_active("t"), self.is_state_timer_active()))

    def block(self, gate: threading.Event) -> None:
        gate.wait(5)


def test_single_timer_fires_once_and_is_inactive_in_its_handler(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("single", "t", "tick", 2.0))
    assert ref.ask(("active?", "t")) is True
    virtual_clock.advance(1.9)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg(("tick", {"t": False, "u": False}))
    assert virtual_clock.advance(10) == 0
    assert ref.ask(("active?", "t")) is False


def test_fixed_rate_timer_fires_every_interval_in_due_order(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("rate", "t", "t-tick", 1.0))
    ref.tell(("rate", "u", "u-tick", 1.5))
    settle(ref)
    assert virtual_clock.advance(3.2) == 5  # t at 1, 2, 3; u at 1.5, 3.0
    received = [probe.receive()[0] for _ in range(5)]
    # At 3.0 both are due; u's entry was queued first (at 1.5, t's at 2.0).
    assert received == ["t-tick", "u-tick", "t-tick", "u-tick", "t-tick"]
    assert ref.ask(("active?", "t")) is True


def test_fixed_delay_timer_repeats(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("delay", "t", "tick", 0.5))
    settle(ref)
    assert virtual_clock.advance(2.0) == 4
    for _ in range(4):
        probe.expect_msg(("tick", {"t": True, "u": False}))


def test_set_timer_single_and_repeating(probe: Probe, virtual_clock: VirtualClock) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("set", "t", "once", 1.0, False))
    ref.tell(("set", "u", "again", 1.0, True))
    settle(ref)
    assert virtual_clock.advance(3.0) == 4


def test_setting_a_timer_with_an_existing_name_replaces_it(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("single", "t", "first", 1.0))
    ref.tell(("single", "t", "second", 2.0))
    settle(ref)
    virtual_clock.advance(1.5)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(1.0)
    probe.expect_msg(("second", {"t": False, "u": False}))


def test_cancelled_timer_message_is_never_processed_even_if_already_queued(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("single", "t", "cancelled tick", 1.0))
    ref.tell(("rate", "u", "cancelled rate", 1.0))
    settle(ref)
    gate = threading.Event()
    blocked = ref.proxy().block(gate)
    ref.tell(("cancel", "t"))  # queued before the timers fire
    ref.tell(("cancel", "u"))
    releaser = threading.Timer(0.2, gate.set)
    releaser.start()
    assert virtual_clock.advance(1.0) == 2  # both fired into the mailbox
    releaser.join()
    blocked.get(timeout=5)
    settle(ref)
    probe.expect_no_msg(0.1)
    assert virtual_clock.advance(5) == 0


def test_replaced_timer_message_already_queued_is_dropped(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("single", "t", "old", 1.0))
    settle(ref)
    gate = threading.Event()
    blocked = ref.proxy().block(gate)
    ref.tell(("single", "t", "new", 1.0))
    releaser = threading.Timer(0.2, gate.set)
    releaser.start()
    virtual_clock.advance(1.0)
    releaser.join()
    blocked.get(timeout=5)
    settle(ref)
    probe.expect_no_msg(0.1)
    virtual_clock.advance(1.0)
    probe.expect_msg(("new", {"t": False, "u": False}))


def test_timers_started_in_init_run_from_the_start(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    class Early(Timers):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.start_single_timer("t", "early", 1.0)

    Early.start(probe.ref)
    virtual_clock.advance(1.0)
    probe.expect_msg(("early", {"t": False, "u": False}))


def test_stopping_cancels_all_timers_before_on_termination(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("rate", "t", "tick", 1.0))
    ref.tell("stop")
    probe.expect_msg(("terminated", False, False))
    assert virtual_clock.advance(5) == 0


def test_timers_on_real_time(probe: Probe) -> None:
    ref = Timers.start(probe.ref)
    ref.tell(("single", "t", "real tick", 0.02))
    probe.expect_msg(("real tick", {"t": False, "u": False}), timeout=2)


def test_debug_trace_logs_timer_set_and_cancel(probe: Probe) -> None:
    ref = Timers.start(probe.ref, True)
    with capture_logs() as logs:
        ref.tell(("single", "t", "x", 10.0))
        ref.tell(("cancel", "t"))
        settle(ref)
    names = [entry["event"] for entry in logs]
    assert "timer_set" in names
    assert "timer_cancelled" in names


@pytest.mark.parametrize(
    ("method", "bad"),
    [
        ("start_single_timer", -1),
        ("start_single_timer", "soon"),
        ("start_timer_with_fixed_delay", 0),
        ("start_timer_at_fixed_rate", 0),
        ("start_timer_at_fixed_rate", float("inf")),
        ("start_timer_at_fixed_rate", None),
    ],
)
def test_bad_timer_durations_are_value_errors_at_the_call(method: str, bad: object) -> None:
    fsm = Timers(None)
    with pytest.raises(ValueError):
        getattr(fsm, method)("t", "msg", bad)


@pytest.mark.parametrize("method", ["start_timer_with_fixed_delay", "start_timer_at_fixed_rate"])
def test_a_repeating_timer_of_one_nanosecond_is_refused_so_it_cannot_spin(method: str) -> None:
    fsm = Timers(None)
    with pytest.raises(ValueError, match="at least"):
        getattr(fsm, method)("t", "msg", 1e-9)
