"""Backoff between restarts: exponential, capped, jittered, reset after a stable run.

Restarting cannot fix a dead dependency (a closed pipe, a vanished manager
process): restarting at once only turns one failure into a loop that spins
and floods the log. A :class:`Backoff` spaces the restarts out
(``min * factor**n`` capped at ``max``), adds jitter so that many children
whose dependency died together do not restart in lock step, and forgets the
count once the child has run ``reset_after`` seconds without failing.

The waits are timers on the shared scheduler (:mod:`actorfsm.scheduler`),
never sleeps, so a test's ``VirtualClock`` drives them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from actorfsm.durations import Duration, seconds, to_seconds


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a supervisor waits before restart ``n`` (counting from 0) of a child.

    Restart ``n`` waits ``min(max, min * factor**n) * (1 + U[0, jitter))``
    seconds: the first waits ``min``. The count goes back to 0 once the child
    has run ``reset_after`` seconds without failure (default: ``max``).

    Arguments are seconds (or ``timedelta`` for ``min``, ``max`` and
    ``reset_after``); ``min > max``, a negative value, ``factor < 1`` or a
    non-positive ``reset_after`` is a ``ValueError`` here, not later.
    """

    min: Duration = 0.2
    max: Duration = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    reset_after: Duration | None = None

    def __post_init__(self) -> None:
        low = to_seconds(self.min, "Backoff min")
        high = to_seconds(self.max, "Backoff max")
        if math.isinf(high):
            msg = f"Backoff max must be finite, got {self.max!r}"
            raise ValueError(msg)
        if low > high:
            msg = f"Backoff min ({self.min!r}) must not exceed max ({self.max!r})"
            raise ValueError(msg)
        factor = _number(self.factor, "Backoff factor")
        if factor < 1.0:
            msg = f"Backoff factor must be at least 1 (a shrinking wait), got {self.factor!r}"
            raise ValueError(msg)
        jitter = _number(self.jitter, "Backoff jitter")
        if jitter < 0.0:
            msg = f"Backoff jitter must not be negative, got {self.jitter!r}"
            raise ValueError(msg)
        reset_after = None
        if self.reset_after is not None:
            reset_after = to_seconds(self.reset_after, "Backoff reset_after")
            if reset_after == 0.0:
                msg = "Backoff reset_after must be positive (or None for max)"
                raise ValueError(msg)
        object.__setattr__(self, "min", low)
        object.__setattr__(self, "max", high)
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "jitter", jitter)
        object.__setattr__(self, "reset_after", reset_after)

    @property
    def reset_interval(self) -> float:
        """Failure-free seconds after which the count resets: ``reset_after``, else ``max``."""
        return seconds(self.max if self.reset_after is None else self.reset_after)

    def base_delay(self, n: int) -> float:
        """The wait before restart ``n`` without jitter: ``min(max, min * factor**n)``."""
        try:
            grown = seconds(self.min) * self.factor**n
        except OverflowError:
            grown = math.inf
        high = seconds(self.max)
        return grown if grown < high else high

    def delay(self, n: int, rand: Callable[[], float] = random.random) -> float:
        """The wait before restart ``n``, jittered by ``rand()`` (uniform in ``[0, 1)``)."""
        return self.base_delay(n) * (1.0 + self.jitter * rand())


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{what} must be a finite number, got {value!r}"
        raise ValueError(msg)
    return float(value)


DEPENDENCY_BACKOFF = Backoff(min=0.2, max=30.0, factor=2.0, jitter=0.2)
"""What a supervisor without a configured :class:`Backoff` uses for dependency errors."""
