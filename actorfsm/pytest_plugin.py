"""pytest plugin (registered through the ``pytest11`` entry point): ``probe`` and ``virtual_clock``.

Installing actorfsm is enough for a project's own tests to use these fixtures.
The ``probe`` fixture also stops, after the test, every actor the test started,
so one test's actors never leak into the next.
"""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from actorfsm.testing import Probe, VirtualClock, stop_actors_started_since


@pytest.fixture
def probe() -> Iterator[Probe]:
    """A fresh :class:`~actorfsm.testing.Probe`; the test's actors are stopped after it."""
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    test_probe = Probe()
    yield test_probe
    stop_actors_started_since(before)


@pytest.fixture
def virtual_clock() -> Iterator[VirtualClock]:
    """A :class:`~actorfsm.testing.VirtualClock` installed for the duration of the test."""
    with VirtualClock() as clock:
        yield clock
