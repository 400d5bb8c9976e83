"""The pytest plugin stops, after each test, every actor the test left running, and names them.

Whatever fixtures the test used (none, only ``virtual_clock``, ``probe``): a
pytest run never hangs at exit on an actor's thread, and one test's actors
never leak into the next.
"""

from __future__ import annotations

import enum
import threading
from typing import Any

import pykka
import pytest

from actorfsm import FSM, Event, stay
from actorfsm.pytest_plugin import STOP_TIMEOUT, describe
from actorfsm.testing import LeftRunning, stop_actors_started_since

RUN_TIMEOUT = 30.0
"""Seconds the inner pytest run gets: it takes about two; a hang is what this catches."""

LEAKY_TESTS = """
import enum

import pykka

from actorfsm import FSM, stay


class S(enum.Enum):
    A = 1


class Idle(FSM):
    def __init__(self):
        super().__init__()
        self.start_with(S.A, None)
        self.when(S.A, lambda event: stay())


class Plain(pykka.ThreadingActor):
    '''A plain pykka actor: its thread is not a daemon, it alone keeps a process alive.'''


REFS = []


def test_starts_actors_without_fixtures():
    REFS.extend([Idle.start(), Plain.start()])


def test_starts_an_fsm_with_only_the_virtual_clock(virtual_clock):
    REFS.append(Idle.start())


def test_starts_an_fsm_with_a_probe(probe):
    REFS.append(Idle.start())


def test_stops_its_own_actors(probe):
    ref = Plain.start()
    ref.stop()


def test_every_earlier_actor_was_stopped():
    assert len(REFS) == 4
    assert not [ref for ref in REFS if ref.is_alive()]
"""


def test_a_run_whose_tests_leave_actors_ends_and_names_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=5, warnings=3)
    result.stdout.fnmatch_lines(
        [
            "test_leaky.py::test_starts_actors_without_fixtures",
            "*ActorsLeftRunning: the test left 2 actors running: "
            "Plain (urn:uuid:*), Idle (urn:uuid:*) (the actorfsm plugin stopped them)",
            "test_leaky.py::test_starts_an_fsm_with_only_the_virtual_clock",
            "*ActorsLeftRunning: the test left 1 actor running: Idle (urn:uuid:*)*",
            "test_leaky.py::test_starts_an_fsm_with_a_probe",
            "*ActorsLeftRunning: the test left 1 actor running: Idle (urn:uuid:*)*",
        ]
    )
    assert "test_stops_its_own_actors" not in result.stdout.str()


def test_leaks_can_be_made_errors_with_a_warning_filter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY_TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "error::actorfsm.pytest_plugin.ActorsLeftRunning",
        timeout=RUN_TIMEOUT,
    )
    result.assert_outcomes(passed=5, errors=3)


class S(enum.Enum):
    A = 1


class Gated(FSM[S, threading.Event]):
    """Its handler waits for the gate: a stop request waits behind it."""

    handler_warn_after = None

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.start_with(S.A, gate)
        self.when(S.A, self.wait)

    def wait(self, event: Event) -> Any:
        event.data.wait(10)
        return stay()


def test_an_actor_that_will_not_stop_is_named_as_still_running() -> None:
    gate = threading.Event()
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    ref = Gated.start(gate)
    ref.tell("hold")
    left = stop_actors_started_since(before, timeout=0.2)
    gate.set()
    assert str(ref) in left.still_running
    assert str(ref) not in left.stopped
    text = describe(left)
    assert f"still running {STOP_TIMEOUT:g} s after the actorfsm plugin's stop request" in text
    assert text.endswith(f"(stuck in a handler?): {ref}")


def test_only_the_first_ten_actors_are_named() -> None:
    names = tuple(f"A{i}" for i in range(12))
    assert describe(LeftRunning(names, ())) == (
        "the test left 12 actors running: A0, A1, A2, A3, A4, A5, A6, A7, A8, A9 and 2 more "
        "(the actorfsm plugin stopped them)"
    )
    assert not LeftRunning((), ())
