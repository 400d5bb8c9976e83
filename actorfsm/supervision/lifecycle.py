"""The lifecycle of a supervised child and what a supervisor monitors about it.

Every child moves through the state machine of a supervised service::

    STOPPED --> STARTING --> RUNNING --> STOPPING --> STOPPED
    STARTING --> ERROR (start-up failed)     RUNNING --> ERROR (runtime failure)
    ERROR --> STARTING (restart)             ERROR --> STOPPED (not restarted)
    RUNNING --> RESTARTING --> STARTING (restarted with its siblings)

For each child the supervisor keeps what an operator needs to monitor: the
current state and since when, the time spent in each state, the number of
transitions (thrashing), restarts and error occurrences. :class:`LifecycleAlerts`
holds the bounds past which a child counts as stuck or thrashing; the
supervisor logs ``lifecycle_alert`` once per episode.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from actorfsm.durations import Duration, seconds, to_optional_timeout, to_seconds


class Lifecycle(enum.Enum):
    """Where a supervised child is in its life (a supervised service's states)."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"
    RESTARTING = "restarting"


@dataclass(frozen=True, slots=True)
class ChildStatus:
    """A snapshot of one child, the answer to ``GetChildStatus(name)``.

    ``since`` and ``time_in_state`` are on the scheduler's clock
    (``time.monotonic()``, or the ``VirtualClock`` in tests); ``time_in_state``
    includes the time spent so far in the current state. ``last_failure`` is
    the exception (or ``Failure`` cause) of the latest failure, ``errors`` the
    number of failures so far (resumed ones included). ``restart_at`` is when
    a restart waiting for its backoff is due (same clock), else ``None``.
    """

    name: str
    state: Lifecycle
    restarts: int
    last_failure: object
    since: float
    errors: int = 0
    transitions: int = 0
    time_in_state: Mapping[Lifecycle, float] = field(default_factory=dict)
    restart_at: float | None = None


@dataclass(frozen=True, slots=True)
class LifecycleAlerts:
    """When a supervisor logs ``lifecycle_alert`` (warning level) about a child.

    Defaults: a child in ERROR for more than 5 minutes, in
    STARTING for more than 10, in STOPPING (or RESTARTING, which is a stop on
    the way to a start) for more than 2; thrashing is more than
    ``thrash_transitions`` lifecycle transitions within ``thrash_window``
    seconds (default: more than 15 in 60 s, about five restarts a minute: more
    than the default restart limit, 3 in 60 s, lets happen before it gives up,
    so a child the supervisor is about to give up on raises no extra alert).
    ``None`` turns a check off. Each alert is logged once per episode: a stuck
    alert once per stay in the state, a thrashing alert again only after the
    transition rate fell back under the bound.
    """

    error_after: Duration | None = 300.0
    starting_after: Duration | None = 600.0
    stopping_after: Duration | None = 120.0
    thrash_transitions: int | None = 15
    thrash_window: Duration = 60.0

    def __post_init__(self) -> None:
        for name in ("error_after", "starting_after", "stopping_after"):
            bound = to_optional_timeout(getattr(self, name), f"LifecycleAlerts {name}")
            if bound == 0.0:
                msg = f"LifecycleAlerts {name} must be positive (or None to turn it off)"
                raise ValueError(msg)
            object.__setattr__(self, name, bound)
        transitions = self.thrash_transitions
        if transitions is not None and (
            isinstance(transitions, bool) or not isinstance(transitions, int) or transitions < 1
        ):
            msg = f"LifecycleAlerts thrash_transitions must be a positive int, got {transitions!r}"
            raise ValueError(msg)
        window = to_seconds(self.thrash_window, "LifecycleAlerts thrash_window")
        if window == 0.0 or math.isinf(window):
            msg = f"LifecycleAlerts thrash_window must be positive and finite, got {window!r}"
            raise ValueError(msg)
        object.__setattr__(self, "thrash_window", window)

    def bound(self, state: Lifecycle) -> float | None:
        """How long a child may stay in ``state`` before it counts as stuck (``None``: ever)."""
        if state is Lifecycle.ERROR:
            bound = self.error_after
        elif state is Lifecycle.STARTING:
            bound = self.starting_after
        elif state is Lifecycle.STOPPING or state is Lifecycle.RESTARTING:
            bound = self.stopping_after
        else:
            return None
        return None if bound is None else seconds(bound)


class LifecycleMonitor:
    """One child's lifecycle state and counters, on a clock the caller passes in.

    Pure bookkeeping, used only from the supervisor's thread: :meth:`move`
    records a transition, :meth:`thrashing` says when a thrashing episode
    begins, :meth:`status` takes a snapshot.
    """

    __slots__ = (
        "_recent",
        "_thrashing",
        "_time",
        "alerts",
        "entries",
        "errors",
        "last_failure",
        "restarts",
        "since",
        "state",
        "transitions",
    )

    def __init__(self, alerts: LifecycleAlerts, now: float) -> None:
        self.alerts = alerts
        self.state = Lifecycle.STOPPED
        self.since = now
        self.entries = 0
        """How many states were entered: tells one stay in a state from the next."""
        self.transitions = 0
        self.restarts = 0
        self.errors = 0
        self.last_failure: object = None
        self._time: dict[Lifecycle, float] = {}
        self._recent: deque[float] = deque()
        self._thrashing = False

    def move(self, state: Lifecycle, now: float) -> Lifecycle | None:
        """Enter ``state``; return the state left, or ``None`` if already there."""
        old = self.state
        if state is old:
            return None
        self._time[old] = self._time.get(old, 0.0) + (now - self.since)
        self.state = state
        self.since = now
        self.entries += 1
        self.transitions += 1
        self._recent.append(now)
        return old

    def failed(self, cause: object) -> None:
        """Count an error occurrence."""
        self.errors += 1
        self.last_failure = cause

    def thrashing(self, now: float) -> int | None:
        """The transitions in the window if a thrashing episode begins now, else ``None``."""
        limit = self.alerts.thrash_transitions
        recent = self._recent
        horizon = now - seconds(self.alerts.thrash_window)
        while recent and recent[0] <= horizon:
            recent.popleft()
        if limit is None or len(recent) <= limit:
            self._thrashing = False
            return None
        if self._thrashing:
            return None
        self._thrashing = True
        return len(recent)

    def status(self, name: str, now: float, restart_at: float | None = None) -> ChildStatus:
        """A snapshot, with the current state's time counted up to ``now``."""
        times = dict(self._time)
        times[self.state] = times.get(self.state, 0.0) + (now - self.since)
        return ChildStatus(
            name=name,
            state=self.state,
            restarts=self.restarts,
            last_failure=self.last_failure,
            since=self.since,
            errors=self.errors,
            transitions=self.transitions,
            time_in_state=times,
            restart_at=restart_at,
        )
