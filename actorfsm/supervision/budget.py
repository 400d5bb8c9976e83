"""``RestartBudget``: how many restarts a window allows, and how long each one waits.

The accounting of restarts, kept for one child (``OneForOne``) or for all
the children of a supervisor (``AllForOne``, ``RestForOne``): restarts within
the strategy's window are counted and the one past ``max_restarts`` is
refused; each restart waits its backoff, and never comes sooner than
:data:`RESTART_FLOOR` after the previous start. Pure bookkeeping on a clock
the caller passes in, so it is tested without actors or threads.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable

from actorfsm.supervision.backoff import Backoff

RESTART_FLOOR = 0.1
"""The shortest time between two starts, in seconds, whatever the strategy.

A child that fails sooner after its start waits for the rest of it (systemd's
100 ms ``RestartSec``; Erlang bounds the same with its restart intensity), so
even without a backoff a failing ``on_start`` restarts at most ten times a
second, never in a spin.
"""


class RestartBudget:
    """The restarts of one child, or of one supervisor's children together."""

    __slots__ = ("_backoff_n", "_last_start", "_times", "floor", "max_restarts", "within")

    def __init__(self, max_restarts: int, within: float, floor: float = RESTART_FLOOR) -> None:
        self.max_restarts = max_restarts
        self.within = within
        self.floor = floor
        self._times: deque[float] = deque()
        self._backoff_n = 0
        self._last_start: float | None = None

    def started(self, now: float) -> None:
        """Note a start at ``now`` (the floor counts from the latest one)."""
        self._last_start = now

    def charge(
        self, now: float, backoff: Backoff | None, rand: Callable[[], float] = random.random
    ) -> float | None:
        """Take one restart at ``now``: the seconds it waits, or ``None`` past the limit.

        The wait is ``backoff``'s next delay (none without one), raised to
        what is left of the floor since the latest start.
        """
        times = self._times
        horizon = now - self.within
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) >= self.max_restarts:
            return None
        times.append(now)
        delay = 0.0
        if backoff is not None:
            delay = backoff.delay(self._backoff_n, rand)
            self._backoff_n += 1
        if self._last_start is not None:
            delay = max(delay, self._last_start + self.floor - now)
        return delay

    def stable(self) -> None:
        """The child ran long enough without failing: the next backoff starts from its minimum."""
        self._backoff_n = 0

    @property
    def backoff_count(self) -> int:
        """How many backoff waits since the last stable run (the next one's exponent)."""
        return self._backoff_n

    def restarts(self, now: float) -> int:
        """How many restarts count against the limit at ``now``."""
        return sum(1 for at in self._times if at > now - self.within)
