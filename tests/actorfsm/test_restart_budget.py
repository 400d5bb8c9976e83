"""RestartBudget alone: the restart accounting on a clock the test passes in."""

from __future__ import annotations

import pytest

from actorfsm import Backoff, RestartBudget
from actorfsm.supervision import RESTART_FLOOR

NO_JITTER = Backoff(min=1.0, max=8.0, factor=2.0, jitter=0.0)


def test_restarts_within_the_window_are_counted_and_the_one_past_the_limit_refused() -> None:
    budget = RestartBudget(max_restarts=2, within=10.0)
    assert budget.charge(0.0, None) == 0.0
    assert budget.charge(1.0, None) == 0.0
    assert budget.charge(2.0, None) is None  # the third within 10 s
    assert budget.restarts(2.0) == 2


def test_restarts_older_than_the_window_no_longer_count() -> None:
    budget = RestartBudget(max_restarts=1, within=10.0)
    assert budget.charge(0.0, None) == 0.0
    assert budget.charge(9.0, None) is None
    assert budget.charge(10.5, None) == 0.0


def test_the_backoff_grows_per_restart_and_a_stable_run_resets_it() -> None:
    budget = RestartBudget(max_restarts=100, within=60.0)
    delays = [budget.charge(float(t), NO_JITTER) for t in range(5)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert budget.backoff_count == 5
    budget.stable()
    assert budget.charge(10.0, NO_JITTER) == 1.0


def test_no_restart_comes_sooner_than_the_floor_after_the_previous_start() -> None:
    budget = RestartBudget(max_restarts=100, within=60.0)
    budget.started(5.0)
    assert budget.charge(5.0, None) == pytest.approx(RESTART_FLOOR)  # failed at once
    assert budget.charge(5.04, None) == pytest.approx(RESTART_FLOOR - 0.04)
    assert budget.charge(5.0 + RESTART_FLOOR, None) == 0.0  # ran the floor: at once
    budget.started(7.0)
    assert budget.charge(7.0, NO_JITTER) == 1.0  # a longer backoff is not shortened


def test_the_floor_bounds_the_restart_rate_of_a_child_that_always_fails_at_once() -> None:
    budget = RestartBudget(max_restarts=10**6, within=60.0)
    now, starts = 0.0, 0
    while now < 1.0:
        budget.started(now)
        starts += 1
        delay = budget.charge(now, None)
        assert delay is not None
        now += delay
    assert starts <= 1 + 1.0 / RESTART_FLOOR
