"""Restart strategies: which children a restart touches, within which limits, after which wait.

:class:`OneForOne` restarts only the failed child, :class:`AllForOne` all of
them, :class:`RestForOne` the failed child and the children started after it
(OTP's ``rest_for_one``: the later children depend on the earlier ones). Each
strategy bounds restarts (``max_restarts`` within ``within`` seconds, then
the supervisor gives up) and may space them with a :class:`Backoff`. Every
value is validated at construction, so a bad configuration fails where it is
written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from actorfsm.durations import Duration, to_seconds
from actorfsm.rendering import safe_repr
from actorfsm.supervision.backoff import DEPENDENCY_BACKOFF, Backoff
from actorfsm.supervision.dependency import is_dependency_error
from actorfsm.supervision.directive import Decider, default_decider


class RestartLimitExceeded(Exception):
    """A supervisor gave up: a child failed more often than its strategy allows.

    The supervisor stops with ``Failure(RestartLimitExceeded(...))``, which its
    own supervisor sees as a child failure.
    """

    def __init__(self, child: str, max_restarts: int, within: float, cause: object) -> None:
        super().__init__(
            f"child {child!r} needed restart {max_restarts + 1} within {within:g} s "
            f"(max_restarts={max_restarts}); last failure: {safe_repr(cause, 200)}"
        )
        self.child = child
        self.max_restarts = max_restarts
        self.within = within
        self.cause = cause


@dataclass(frozen=True, slots=True)
class RestartStrategy:
    """The limits shared by :class:`OneForOne`, :class:`AllForOne` and :class:`RestForOne`.

    ``max_restarts`` restarts are allowed within ``within`` seconds (or a
    ``timedelta``, kept as seconds); the
    failure that would need one more makes the supervisor give up. ``decider``
    maps a child's exception to a :class:`Directive` (it runs in the child's
    thread: keep it a pure function). ``backoff``, when given, spaces every
    restart; without it only dependency errors wait (``DEPENDENCY_BACKOFF``).
    ``dependency_errors`` adds exception types to the dependency family (see
    :func:`~actorfsm.supervision.dependency.is_dependency_error`).
    """

    max_restarts: int = 3
    within: Duration = 60.0
    decider: Decider = default_decider
    backoff: Backoff | None = None
    dependency_errors: tuple[type[BaseException], ...] = ()

    shared_budget: ClassVar[bool] = True
    """Whether ``max_restarts`` counts per supervisor (``True``) or per child."""

    def __post_init__(self) -> None:
        restarts = self.max_restarts
        if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 0:
            msg = f"max_restarts must be an int >= 0, got {restarts!r}"
            raise ValueError(msg)
        within = to_seconds(self.within, "within")
        if within <= 0.0:
            msg = f"within must be positive seconds, got {self.within!r}"
            raise ValueError(msg)
        if not callable(self.decider):
            msg = f"decider must be callable, got {self.decider!r}"
            raise TypeError(msg)
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            msg = f"backoff must be a Backoff or None, got {self.backoff!r}"
            raise TypeError(msg)
        extra = tuple(self.dependency_errors)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in extra):
            msg = f"dependency_errors must be exception types, got {self.dependency_errors!r}"
            raise TypeError(msg)
        object.__setattr__(self, "within", within)
        object.__setattr__(self, "dependency_errors", extra)

    def scope(self, order: Sequence[str], failed: str) -> tuple[str, ...]:
        """The children a failure of ``failed`` restarts, in start order."""
        raise NotImplementedError

    def backoff_for(self, cause: object) -> Backoff | None:
        """The backoff a restart after ``cause`` waits: the configured one, else for
        a dependency error ``DEPENDENCY_BACKOFF``, else none."""
        if self.backoff is not None:
            return self.backoff
        if is_dependency_error(cause, self.dependency_errors):
            return DEPENDENCY_BACKOFF
        return None


class OneForOne(RestartStrategy):
    """A failure restarts only the failed child; ``max_restarts`` counts per child."""

    __slots__ = ()
    shared_budget = False

    def scope(self, order: Sequence[str], failed: str) -> tuple[str, ...]:
        """Only ``failed``."""
        return (failed,)


class AllForOne(RestartStrategy):
    """A failure restarts every child, in start order; ``max_restarts`` counts per supervisor.

    The other children are stopped first, one at a time in reverse start order.
    Temporary children stopped this way are not restarted (as in OTP).
    """

    __slots__ = ()

    def scope(self, order: Sequence[str], failed: str) -> tuple[str, ...]:
        """Every child."""
        return tuple(order)


class RestForOne(RestartStrategy):
    """A failure restarts the failed child and those started after it, in start order.

    OTP's ``rest_for_one``: list children in dependency order (a child after
    the ones it needs); the later children are stopped first, newest first,
    then all are started again in order. Children before the failed one keep
    running. ``max_restarts`` counts per supervisor.
    """

    __slots__ = ()

    def scope(self, order: Sequence[str], failed: str) -> tuple[str, ...]:
        """``failed`` and every child after it."""
        return tuple(order[order.index(failed) :])
