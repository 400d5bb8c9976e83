"""Reading the live system from outside: every running FSM, every supervision tree.

The metrics collector and the observer page both look at the whole process
without sending any actor a message (a stuck handler must not hide its FSM).
This module is the one place that knows where to find running FSMs (pykka's
``ActorRegistry``) and how to read a supervisor's children; each read is an
atomic attribute load or a copy retried if the owning thread resized it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pykka import ActorRegistry

from actorfsm import runners, scheduler
from actorfsm.durations import seconds
from actorfsm.fsm import FSM
from actorfsm.supervision.lifecycle import Lifecycle, LifecycleAlerts
from actorfsm.supervision.supervisor import Supervisor

T = TypeVar("T")

ALERT_KINDS = ("error_too_long", "starting_too_long", "stopping_too_long", "thrashing")
"""The four lifecycle alerts: in ERROR, STARTING or STOPPING past its bound; thrashing."""

_STUCK_KIND = {
    Lifecycle.ERROR: "error_too_long",
    Lifecycle.STARTING: "starting_too_long",
    Lifecycle.STOPPING: "stopping_too_long",
    Lifecycle.RESTARTING: "stopping_too_long",
}


def snapshot(read: Callable[[], T]) -> T:
    """``read()`` a container another thread may be resizing, retrying until it succeeds."""
    while True:
        try:
            return read()
        except RuntimeError:
            continue


def live_fsms() -> list[FSM[Any, Any]]:
    """Every FSM started and not yet stopped, in start order."""
    return _live(FSM)


def live_supervisors() -> list[Supervisor]:
    """Every supervisor started and not yet stopped, in start order."""
    return _live(Supervisor)


def _live(kind: type[T]) -> list[T]:
    """The running actors that are instances of ``kind`` (one ``isinstance`` per class)."""
    found: list[T] = []
    append = found.append
    wanted: dict[type, bool] = {}
    for ref in ActorRegistry.get_all():
        actor: Any = ref._actor_weakref()
        cls = actor.__class__
        keep = wanted.get(cls)
        if keep is None:
            keep = wanted[cls] = isinstance(actor, kind)
        if keep:
            append(actor)
    return found


def find(fsm_id: str) -> FSM[Any, Any] | None:
    """The running FSM whose id is ``fsm_id``, or ``None``."""
    ref = ActorRegistry.get_by_urn(f"urn:uuid:{fsm_id}")
    actor = None if ref is None else ref._actor_weakref()
    return actor if isinstance(actor, FSM) else None


_URN_PREFIX = len("urn:uuid:")


def fsm_id(fsm: FSM[Any, Any]) -> str:
    """A stable id for one FSM incarnation: its actor urn without the ``urn:uuid:`` prefix."""
    return fsm.actor_urn[_URN_PREFIX:]


def fsm_name(fsm: FSM[Any, Any]) -> str:
    """What people call an FSM: its child name under a supervisor, else its class and id."""
    hooks = fsm._supervision
    if hooks is not None:
        name = getattr(hooks, "name", None)
        if isinstance(name, str):
            return name
    return f"{fsm.__class__.__name__}-{fsm.actor_urn[-8:]}"


@dataclass(frozen=True, slots=True)
class ChildView:
    """One supervised child as the supervisor sees it now (times in seconds)."""

    name: str
    actor_class: str
    restart: str
    """The restart type of its spec: ``"permanent"``, ``"transient"`` or ``"temporary"``."""
    state: Lifecycle
    in_state_for: float
    restarts: int
    errors: int
    failure_streak: int
    dead_letters: int
    alerts: tuple[str, ...]
    last_failure: object
    restart_in: float | None
    fsm: FSM[Any, Any] | None
    """The current incarnation (``None`` between incarnations)."""


def children(supervisor: Supervisor) -> list[ChildView]:
    """The children of ``supervisor``, in start order."""
    now = scheduler.current().now()
    alerts: LifecycleAlerts = supervisor._alerts
    views = []
    for child in supervisor._order:
        monitor = child.monitor
        state = monitor.state
        since = monitor.since
        ref = child.actor
        actor = None if ref is None else ref._actor_weakref()
        restart_at = child.restart_at
        streak = child.streaks
        views.append(
            ChildView(
                name=child.spec.name,
                actor_class=child.spec.actor_class.__name__,
                restart=child.spec.restart,
                state=state,
                in_state_for=max(0.0, now - since),
                restarts=monitor.restarts,
                errors=monitor.errors,
                failure_streak=streak._count if streak._key is not None else 0,
                dead_letters=child.ref.dead_letters,
                alerts=_alerts_of(alerts, state, now - since, snapshot(monitor._recent.copy), now),
                last_failure=monitor.last_failure,
                restart_in=None if restart_at is None else max(0.0, restart_at - now),
                fsm=actor if isinstance(actor, FSM) else None,
            )
        )
    return views


def _alerts_of(
    alerts: LifecycleAlerts, state: Lifecycle, in_state: float, recent: Iterable[float], now: float
) -> tuple[str, ...]:
    """The alerts a child is in now, by the same bounds its supervisor logs them with."""
    active = []
    bound = alerts.bound(state)
    if bound is not None and in_state > bound:
        active.append(_STUCK_KIND[state])
    limit = alerts.thrash_transitions
    if limit is not None:
        horizon = now - seconds(alerts.thrash_window)
        if sum(1 for at in recent if at > horizon) > limit:
            active.append("thrashing")
    return tuple(active)


def is_top_level(supervisor: Supervisor) -> bool:
    """Whether ``supervisor`` is the root of a tree (no supervisor of its own)."""
    return supervisor.supervision_hooks is None


def mailbox_depth(fsm: FSM[Any, Any]) -> int:
    """How many messages wait in ``fsm``'s mailbox."""
    inbox: Any = fsm.actor_inbox
    queue = getattr(inbox, "queue", None)
    return len(queue) if queue is not None else int(inbox.qsize())


def timers_armed(fsm: FSM[Any, Any]) -> int:
    """Named timers armed, plus one for an armed state timeout."""
    timers, state_timer = fsm._timers, fsm._state_timer
    named = 0 if timers is None else len(timers)
    return named + (state_timer is not None and state_timer.deadline is not None)


def running_thread(fsm: FSM[Any, Any]) -> int | None:
    """The ident of the thread handling ``fsm``'s messages now (``None``: none)."""
    for runner in runners.runners():
        if runner.current is fsm:
            return runner.ident
    return None


def is_stuck(fsm: FSM[Any, Any]) -> bool:
    """Whether the stuck-handler watcher reported ``fsm``'s current call as stuck."""
    return fsm._stuck_since is not None


def running_count() -> int:
    """How many actors are running (FSMs and any other pykka actors)."""
    return len(ActorRegistry.get_all())
