"""The test kit: Probe, VirtualClock and settle (the pytest plugin: test_pytest_plugin.py)."""

from __future__ import annotations

import enum
import time
from typing import Any

import pytest

from actorfsm import FSM, Event, StateTimeout, goto
from actorfsm.testing import Probe, VirtualClock


def test_expect_msg_returns_the_message_and_fails_with_what_came_instead(probe: Probe) -> None:
    probe.ref.tell("hello")
    assert probe.expect_msg("hello") == "hello"
    probe.ref.tell("surprise")
    with pytest.raises(AssertionError, match="expected 'hello', got 'surprise'"):
        probe.expect_msg("hello")


def test_expect_msg_fails_when_nothing_comes(probe: Probe) -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="got nothing"):
        probe.expect_msg("never", timeout=0.1)
    assert time.monotonic() - started < 2


def test_expect_msg_type(probe: Probe) -> None:
    probe.ref.tell(42)
    assert probe.expect_msg_type(int) == 42
    probe.ref.tell("text")
    with pytest.raises(AssertionError, match="expected a int, got 'text'"):
        probe.expect_msg_type(int)


def test_expect_no_msg_fails_when_a_message_arrives(probe: Probe) -> None:
    probe.expect_no_msg(0.05)
    probe.ref.tell("unexpected")
    with pytest.raises(AssertionError, match="unexpected"):
        probe.expect_no_msg(0.5)


def test_receive_returns_anything_or_fails_after_timeout(probe: Probe) -> None:
    probe.ref.tell(("any", 1))
    assert probe.receive() == ("any", 1)
    with pytest.raises(AssertionError):
        probe.receive(timeout=0.05)


def test_ignore_msg_drops_what_matches_until_cleared(probe: Probe) -> None:
    probe.ignore_msg(lambda message: isinstance(message, str))
    probe.ref.tell("chatter")
    probe.ref.tell(1)
    assert probe.receive() == 1
    probe.ref.tell("more chatter")
    probe.expect_no_msg(0.1)
    probe.ignore_msg(None)
    probe.ref.tell("heard")
    assert probe.expect_msg("heard") == "heard"


def test_probe_answers_asks_with_none_and_stops() -> None:
    test_probe = Probe()
    assert test_probe.ref.ask("q") is None
    assert test_probe.receive() == "q"
    test_probe.stop()
    test_probe.ref.actor_stopped.wait(3)
    assert not test_probe.ref.is_alive()


class S(enum.Enum):
    ONE = 1
    TWO = 2
    THREE = 3


class Chain(FSM[S, None]):
    """ONE times out to TWO after 1 s, TWO to THREE after 1 s."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.start_with(S.ONE, None)
        self.when(S.ONE, self.next_on_timeout(S.TWO), state_timeout=1.0)
        self.when(S.TWO, self.next_on_timeout(S.THREE), state_timeout=1.0)
        self.when(S.THREE, lambda e: None)
        self.on_transition(lambda f, t: probe.tell((f, t)))

    @staticmethod
    def next_on_timeout(to: S) -> Any:
        def handler(event: Event) -> Any:
            match event:
                case Event(StateTimeout(), _):
                    return goto(to)
            return None

        return handler


def test_advance_fires_cascading_timeouts_within_the_window(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    Chain.start(probe.ref)
    assert virtual_clock.advance(2.5) == 2
    probe.expect_msg((S.ONE, S.TWO))
    probe.expect_msg((S.TWO, S.THREE))
    assert virtual_clock.now() == pytest.approx(2.5)


def test_virtual_clock_as_context_manager_restores_real_time(probe: Probe) -> None:
    with VirtualClock() as clock:
        Chain.start(probe.ref)
        probe.expect_no_msg(0.05)
        clock.advance(1.0)
        probe.expect_msg((S.ONE, S.TWO))
        assert clock.pending() >= 1
    with pytest.raises(ValueError):
        VirtualClock().advance(-1)


def test_without_virtual_clock_real_time_drives_timers(probe: Probe) -> None:
    class Fast(Chain):
        def __init__(self, probe: Any) -> None:
            super().__init__(probe)
            self.set_state_timeout(S.ONE, 0.01)

    Fast.start(probe.ref)
    probe.expect_msg((S.ONE, S.TWO), timeout=2)
