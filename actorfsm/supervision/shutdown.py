"""A supervisor's last act: stop its children newest first, then report that it gave up.

When a supervisor stops (from outside, or after giving up), each child still
running is stopped in reverse start order and waited for, up to a bound, so a
child never outlives the supervisor that started it; a top-level supervisor
that gave up then calls its ``on_give_up`` hook (default: one
``supervisor_gave_up`` line at error level).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pykka
import structlog

from actorfsm.death_watch import final_reason, unwatch
from actorfsm.fsm import FSM
from actorfsm.messages import Failure, Shutdown
from actorfsm.rendering import safe_repr
from actorfsm.supervision.children import Child
from actorfsm.supervision.lifecycle import Lifecycle

log = structlog.get_logger("actorfsm.supervision")

GiveUpHook = Callable[[Failure], object]
"""Called with the supervisor's ``Failure`` when a top-level supervisor gives up."""


def stop_in_reverse(
    supervisor: FSM[Any, Any],
    children: Sequence[Child],
    timeout: float,
    move: Callable[[Child, Lifecycle], None],
) -> None:
    """Stop each running child, newest first, waiting up to ``timeout`` for each."""
    watcher = supervisor.actor_ref
    for child in reversed(children):
        ref = child.actor
        if ref is not None and ref.is_alive():
            move(child, Lifecycle.STOPPING)
            unwatch(watcher, ref)
            try:
                ref.stop(block=True, timeout=timeout)
            except pykka.Timeout:
                log.warning(
                    "child_stop_timeout",
                    supervisor=str(supervisor),
                    child=child.name,
                    timeout=timeout,
                )
        if ref is not None:
            child.last_reason = final_reason(ref) or Shutdown()
        child.incarnation = child.actor = None


def call_on_give_up(supervisor: str, hook: GiveUpHook | None, reason: Failure) -> None:
    """Tell the program that a top-level supervisor gave up: ``hook(reason)``, or log it."""
    if hook is None:
        log.error("supervisor_gave_up", supervisor=supervisor, reason=safe_repr(reason))
        return
    try:
        hook(reason)
    except Exception:
        log.exception("on_give_up_failed", supervisor=supervisor, reason=safe_repr(reason))
