"""Which supervisor an FSM is constructed under: hooks set for the constructing thread.

A supervisor constructs each incarnation of a child inside ``supervised(hooks)``,
so the hooks are in place before the child handles anything, with nothing to
pass through the child's own constructor.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actorfsm.stopping import SupervisionHooks

_construction = threading.local()


@contextlib.contextmanager
def supervised(hooks: SupervisionHooks) -> Iterator[None]:
    """Attach ``hooks`` to every FSM constructed in this thread inside the ``with`` block."""
    previous = hooks_in_force()
    _construction.hooks = hooks
    try:
        yield
    finally:
        _construction.hooks = previous


def hooks_in_force() -> SupervisionHooks | None:
    """The hooks of the innermost ``supervised`` block of this thread, if any."""
    return getattr(_construction, "hooks", None)
