"""Safe, bounded rendering of user values (events, state data) for logs and reports.

A failure report must never fail: a value whose ``repr`` raises, or is huge,
is rendered as a short placeholder or truncated to :data:`REPR_LIMIT`
characters.
"""

from __future__ import annotations

import threading

REPR_LIMIT = 500
"""The longest rendering of one value, in characters, before it is truncated."""


def safe_repr(value: object, limit: int = REPR_LIMIT) -> str:
    """``repr(value)``, never raising and at most ``limit`` characters (plus a marker).

    Whatever a ``__repr__`` raises, ``SystemExit`` included, becomes a
    placeholder naming the exception: reports are rendered on the threads that
    run FSMs, where an escaping exception would leave the FSM half-stopped.
    The one exception is a ``KeyboardInterrupt`` on the main thread, which is
    the user's Ctrl-C and must still stop the program.
    """
    try:
        text = repr(value)
    except BaseException as exc:  # a broken __repr__ must not break the report
        _keep_ctrl_c(exc)
        return f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    if not isinstance(text, str):
        return f"<unrepresentable {type(value).__name__}>"
    if len(text) > limit:
        return f"{text[:limit]}...<{len(text) - limit} more chars>"
    return text


def state_label(state: object) -> str:
    """A state's display name: an enum member's name, else ``str(state)``."""
    name = getattr(state, "name", None)
    if isinstance(name, str):
        return name
    try:
        return str(state)
    except BaseException as exc:
        _keep_ctrl_c(exc)
        return safe_repr(state)


def _keep_ctrl_c(exc: BaseException) -> None:
    """Re-raise ``exc`` if it is the user's Ctrl-C: a ``KeyboardInterrupt`` on the main thread."""
    if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
        raise exc
