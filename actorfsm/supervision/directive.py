"""What a supervisor does with a failed child: the directives and the deciders that choose them.

A *decider* maps a child's exception to a :class:`Directive`. It runs in the
failing child's thread, so it must be a pure function; :func:`decide` runs it
so that a decider that raises or answers nonsense escalates instead of
breaking supervision.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import structlog

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
"""Maps a child's exception to a :class:`Directive` (called in the child's thread)."""


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
