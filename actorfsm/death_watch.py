"""Death watch: be told with ``Terminated(ref, reason)`` when an FSM stops.

Works for any FSM, including one that is already dead (``Terminated`` is sent
at once, with the reason it stopped with if that is still known).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

from pykka import ActorDeadError

from actorfsm.messages import Reason
from actorfsm.recipient import Ref

# The final reason of a stopped FSM is kept on its ref, as long as anybody
# holds the ref. Not in a weak-keyed dict: a Failure's traceback holds the
# actor, which holds its ref, so the dict's value would keep its own key (and
# every failed instance) alive forever; on the ref it is a plain cycle that
# the garbage collector frees.
_FINAL_REASON = "_actorfsm_final_reason"


@dataclass(frozen=True, slots=True)
class Terminated:
    """Sent to watchers when the watched FSM stops, for whatever reason."""

    ref: Ref
    reason: Reason | None
    """Why it stopped (``None`` when that is no longer known)."""


class Watch(NamedTuple):
    """Internal message: ``watcher`` wants (``watching``) or no longer wants ``Terminated``."""

    watcher: Ref
    watching: bool


def record_final_reason(ref: object, reason: Reason) -> None:
    """Remember why ``ref``'s actor stopped (called by the FSM as it stops)."""
    setattr(ref, _FINAL_REASON, reason)


def final_reason(ref: object) -> Reason | None:
    """Why ``ref``'s actor stopped, or ``None`` if unknown (not an FSM, or still alive)."""
    return getattr(ref, _FINAL_REASON, None)


def notify(watcher: Ref, ref: Ref, reason: Reason | None) -> None:
    """Send ``Terminated`` to ``watcher``, ignoring a watcher that is itself dead."""
    with contextlib.suppress(ActorDeadError):
        watcher.tell(Terminated(ref, reason))


def watch(watcher_ref: Ref, target_ref: Ref) -> None:
    """Make ``target_ref`` send ``Terminated(target_ref, reason)`` to ``watcher_ref`` when it stops.

    ``target_ref`` is an FSM's ``ActorRef`` or a supervisor's ``ChildRef``
    (anything with ``tell``). If the target is already dead, ``Terminated``
    is sent at once.
    """
    try:
        target_ref.tell(Watch(watcher_ref, True))
    except ActorDeadError:
        notify(watcher_ref, target_ref, final_reason(target_ref))


def unwatch(watcher_ref: Ref, target_ref: Ref) -> None:
    """Stop watching ``target_ref`` (no effect if it is dead or was not watched)."""
    with contextlib.suppress(ActorDeadError):
        target_ref.tell(Watch(watcher_ref, False))
