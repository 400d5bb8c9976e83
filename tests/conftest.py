"""Shared test set-up: every test's actors are stopped after it, and no virtual clock leaks."""

from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest

from actorfsm import scheduler
from actorfsm.testing import stop_actors_started_since

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolate_actors() -> Iterator[None]:
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    installed = scheduler.current()
    yield
    stop_actors_started_since(before)
    assert scheduler.current() is installed, "a test left a virtual clock installed"
