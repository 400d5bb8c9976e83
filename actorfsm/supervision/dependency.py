"""Dead dependencies: the failures that restarting at once cannot fix.

A lost peer (a refused or reset connection, a timed-out service, a closed
pipe, a vanished manager process) stays lost for a while: restarting the
child at once only turns one failure into a loop that spins and floods the
log. Such failures always wait out a backoff, even when the strategy
configures none. The family is recognised by type (``ConnectionError`` and
its subclasses, ``TimeoutError``, ``EOFError``, :class:`DependencyLost`) and,
for a bare ``OSError``, by the errno a lost peer gives; a strategy adds its
own types with ``dependency_errors=(...)``.
"""

from __future__ import annotations

import errno


class DependencyLost(Exception):
    """Raise it to say that something the actor depends on is gone.

    Like ``ConnectionRefusedError`` or ``TimeoutError``, it is a dependency
    error: the child is restarted only after a backoff, and a streak of them
    is logged once and then summarised.
    """


DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    DependencyLost,
    ConnectionError,  # BrokenPipe, ConnectionReset, ConnectionRefused, ConnectionAborted
    TimeoutError,
    EOFError,
)
"""The exception types that say a dependency is gone, whatever their errno."""

LOST_PEER_ERRNOS: frozenset[int] = frozenset(
    getattr(errno, name)
    for name in (
        "EPIPE",
        "ECONNRESET",
        "ECONNREFUSED",
        "ECONNABORTED",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "EHOSTDOWN",
        "ETIMEDOUT",
        "ENOTCONN",
    )
    if hasattr(errno, name)
)
"""The errnos of an ``OSError`` that say the peer is lost (a bare ``OSError`` carries them)."""


def is_dependency_error(cause: object, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether ``cause`` says a dependency is gone: one of :data:`DEPENDENCY_ERRORS`,
    an ``OSError`` with an errno of :data:`LOST_PEER_ERRNOS`, or one of ``extra``."""
    if isinstance(cause, DEPENDENCY_ERRORS) or (extra and isinstance(cause, extra)):
        return True
    return isinstance(cause, OSError) and cause.errno in LOST_PEER_ERRNOS
