"""pytest plugin (registered through the ``pytest11`` entry point): ``probe`` and ``virtual_clock``.

Installing actorfsm is enough for a project's own tests to use these fixtures.
After every test, whatever fixtures it used, the plugin stops every actor the
test started and left running (FSMs and plain pykka actors alike), so one
test's actors never leak into the next and a pytest run never hangs at exit
on an actor's thread; it names them in an :class:`ActorsLeftRunning` warning,
shown in pytest's warnings summary under the test's name. A test (or fixture)
that stops its own actors gets no warning; ``-W error::actorfsm.pytest_plugin.
ActorsLeftRunning`` turns leaks into test errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pykka
import pytest

from actorfsm.testing import LeftRunning, Probe, VirtualClock, stop_actors_started_since

STOP_TIMEOUT = 5.0
"""Seconds the plugin waits, after a test, for the actors it left running to stop."""

NAMES_SHOWN = 10
"""At most this many actors are named in one warning; the rest are counted."""


class ActorsLeftRunning(UserWarning):
    """A test ended with actors it started still running; the plugin stopped them."""


@pytest.fixture(autouse=True)
def _stop_the_tests_actors(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop, after the test and its other fixtures, every actor started meanwhile; name them.

    The warning points at the test's own line, not at this plugin.
    """
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    yield
    left = stop_actors_started_since(before, STOP_TIMEOUT)
    if left:
        _, line, _ = request.node.location
        warnings.warn_explicit(
            ActorsLeftRunning(describe(left)),
            ActorsLeftRunning,
            filename=str(request.node.path),
            lineno=(line or 0) + 1,
        )


def describe(left: LeftRunning) -> str:
    """One line naming the actors a test left running, and those that would not stop."""
    names = left.stopped + left.still_running
    text = f"the test left {_count(names)} running: {_names(names)}"
    if not left.still_running:
        return f"{text} (the actorfsm plugin stopped them)"
    return (
        f"{text}; still running {STOP_TIMEOUT:g} s after the actorfsm plugin's stop request "
        f"(stuck in a handler?): {_names(left.still_running)}"
    )


def _count(names: tuple[str, ...]) -> str:
    return "1 actor" if len(names) == 1 else f"{len(names)} actors"


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN]) or "none"
    hidden = len(names) - NAMES_SHOWN
    return f"{shown} and {hidden} more" if hidden > 0 else shown


@pytest.fixture
def probe() -> Iterator[Probe]:
    """A fresh :class:`~actorfsm.testing.Probe`, stopped after the test."""
    test_probe = Probe()
    yield test_probe
    test_probe.ref.stop(timeout=STOP_TIMEOUT)


@pytest.fixture
def virtual_clock() -> Iterator[VirtualClock]:
    """A :class:`~actorfsm.testing.VirtualClock` installed for the duration of the test."""
    with VirtualClock() as clock:
        yield clock
