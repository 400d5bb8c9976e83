"""What a supervisor decides and within which limits: directives, deciders, strategies, specs.

A *decider* maps a child's exception to a :class:`Directive`; a *strategy*
(:class:`OneForOne` or :class:`AllForOne`) says which children a restart
touches, how many restarts a window allows and which :class:`Backoff` spaces
them; a :class:`ChildSpec` says how to build a child and whether it is
restarted at all. Everything is validated at construction, so a bad
configuration fails where it is written.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from actorfsm.backoff import Backoff
from actorfsm.durations import to_seconds
from actorfsm.fsm import FSM
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm.supervision")


class Directive(enum.Enum):
    """What a supervisor does with a failed child (Akka's supervisor directives)."""

    RESUME = "resume"
    """Keep the instance, its state and data; drop the failing message."""
    RESTART = "restart"
    """Replace the instance by a fresh one built from its ``ChildSpec``."""
    STOP = "stop"
    """Stop the child for good."""
    ESCALATE = "escalate"
    """Fail the supervisor with the child's exception (its own supervisor decides)."""


Decider = Callable[[BaseException], Directive]


class DependencyLost(Exception):
    """Raise it to say that something the actor depends on is gone for good.

    Like ``BrokenPipeError``, ``ConnectionResetError`` and ``EOFError``, it is
    a dependency error: restarting at once cannot help, so it is restarted only
    with backoff, and a streak of them is logged once and then summarised.
    """


DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    DependencyLost,
    BrokenPipeError,
    ConnectionResetError,
    EOFError,
)
"""The exceptions that say a dependency is gone (seed 002's dead manager process)."""


def is_dependency_error(cause: object) -> bool:
    """Whether ``cause`` says a dependency is gone (see :data:`DEPENDENCY_ERRORS`)."""
    return isinstance(cause, DEPENDENCY_ERRORS)


def default_decider(exc: BaseException) -> Directive:
    """Restart on any ``Exception``; escalate anything else.

    A ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
    ``SystemExit``) asks the program to end: restarting the child would ignore
    that, so it is escalated up to the top-level supervisor, whose
    ``on_give_up`` lets the program choose its exit.
    """
    return Directive.RESTART if isinstance(exc, Exception) else Directive.ESCALATE


def decide(decider: Decider, exc: BaseException, child: str) -> Directive:
    """Run ``decider`` safely: if it raises or returns a non-``Directive``, escalate.

    Called in the failing child's thread; both mistakes are logged once at
    error level (``decider_failed``, ``decider_invalid``).
    """
    try:
        directive = decider(exc)
    except BaseException as error:
        log.error(
            "decider_failed",
            child=child,
            failure=safe_repr(exc),
            directive="escalate",
            exc_info=(type(error), error, error.__traceback__),
        )
        return Directive.ESCALATE
    if not isinstance(directive, Directive):
        log.error(
            "decider_invalid",
            child=child,
            failure=safe_repr(exc),
            returned=safe_repr(directive),
            directive="escalate",
        )
        return Directive.ESCALATE
    return directive


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


Restart = Literal["permanent", "transient", "temporary"]
_RESTARTS = ("permanent", "transient", "temporary")


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to build a child, and when it is restarted.

    ``actor_class`` must be an :class:`~actorfsm.FSM` (a nested supervisor is
    ``ChildSpec(name, Supervisor, args=(strategy, children))``); each
    incarnation is ``actor_class(*args, **kwargs)``. ``restart`` is
    ``"permanent"`` (always restarted, even after a normal stop),
    ``"transient"`` (restarted only after a failure; a normal stop or a
    ``Shutdown`` is final) or ``"temporary"`` (never restarted).
    """

    name: str
    actor_class: type[FSM[Any, Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    restart: Restart = "permanent"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            msg = f"ChildSpec name must be a non-empty str, got {self.name!r}"
            raise ValueError(msg)
        if not (isinstance(self.actor_class, type) and issubclass(self.actor_class, FSM)):
            msg = (
                f"ChildSpec {self.name!r}: actor_class must be an FSM subclass "
                f"(supervision needs the engine's hooks), got {self.actor_class!r}"
            )
            raise TypeError(msg)
        if self.restart not in _RESTARTS:
            msg = (
                f"ChildSpec {self.name!r}: restart must be one of {_RESTARTS}, got {self.restart!r}"
            )
            raise ValueError(msg)
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))


@dataclass(frozen=True, slots=True)
class RestartStrategy:
    """The limits shared by :class:`OneForOne` and :class:`AllForOne`.

    ``max_restarts`` restarts are allowed within ``within`` seconds; the
    failure that would need one more makes the supervisor give up. ``decider``
    maps a child's exception to a :class:`Directive` (it runs in the child's
    thread: keep it a pure function). ``backoff``, when given, spaces every
    restart; without it only dependency errors wait (``DEPENDENCY_BACKOFF``).
    """

    max_restarts: int = 3
    within: float = 60.0
    decider: Decider = default_decider
    backoff: Backoff | None = None

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
        object.__setattr__(self, "within", within)


class OneForOne(RestartStrategy):
    """A failure restarts only the failed child; ``max_restarts`` counts per child."""

    __slots__ = ()


class AllForOne(RestartStrategy):
    """A failure restarts every child, in start order; ``max_restarts`` counts per supervisor.

    The other children are stopped first, one at a time in reverse start order.
    Temporary children stopped this way are not restarted (as in OTP).
    """

    __slots__ = ()
