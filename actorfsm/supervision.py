"""Supervision: supervisors that restart failed FSM actors within limits and with backoff.

pykka has no supervision: a failed actor is gone and nobody restarts it. A
:class:`Supervisor` (itself an FSM) starts its children from
:class:`ChildSpec` s, watches them (:func:`~actorfsm.watch`), and when one
fails asks the strategy's decider what to do: resume it, restart it (only it
under :class:`OneForOne`, all under :class:`AllForOne`), stop it, or escalate
to its own supervisor. Restarts are bounded (``max_restarts`` within
``within`` seconds, then the supervisor gives up) and spaced by
:class:`Backoff` timers on the shared scheduler, never by sleeping; a dead
dependency (``DependencyLost``, ``BrokenPipeError``, ...) always backs off, so
it cannot turn into a restart loop that floods the log (seed 002).

Each failure is reported once: the child's ``fsm_failed`` report goes to its
supervisor, which logs the first failure of a streak of identical ones and
counts the rest silently, then logs ``failure_repeated`` with the count when
the streak ends. Users reach children through :class:`ChildRef` s, which
survive restarts, and monitor them through ``GetChildStatus`` and lifecycle
``Transition`` s (see :mod:`actorfsm.lifecycle`).

This module is the public face of supervision: everything a program needs is
importable from here (and re-exported from :mod:`actorfsm`).
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import pykka
import structlog
from pykka import ActorRef

from actorfsm import metric_hooks as _metrics
from actorfsm import scheduler
from actorfsm.backoff import DEPENDENCY_BACKOFF, Backoff
from actorfsm.child_ref import ChildRef
from actorfsm.death_watch import Terminated, Watch, final_reason, unwatch, watch
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.fsm import FSM, supervised
from actorfsm.incarnation import Incarnation, StartedSignal, bare_fields
from actorfsm.lifecycle import ChildStatus, Lifecycle, LifecycleAlerts, LifecycleMonitor
from actorfsm.messages import Event, Failure, Reason, Shutdown, StopEvent
from actorfsm.pykka_seam import Envelope
from actorfsm.rendering import safe_repr
from actorfsm.strategy import (
    DEPENDENCY_ERRORS,
    AllForOne,
    ChildSpec,
    Decider,
    DependencyLost,
    Directive,
    OneForOne,
    RestartLimitExceeded,
    RestartStrategy,
    decide,
    default_decider,
    is_dependency_error,
)
from actorfsm.streak_log import StreakLog
from actorfsm.subscribers import Transition
from actorfsm.supervision_messages import (
    AlertDue,
    ChildDown,
    ChildFailed,
    ChildStarted,
    GetChild,
    GetChildStatus,
    RestartAllDue,
    RestartDue,
    Stable,
)

__all__ = [
    "DEPENDENCY_BACKOFF",
    "DEPENDENCY_ERRORS",
    "AllForOne",
    "Backoff",
    "ChildRef",
    "ChildSpec",
    "ChildStatus",
    "Decider",
    "DependencyLost",
    "Directive",
    "GetChild",
    "GetChildStatus",
    "Lifecycle",
    "LifecycleAlerts",
    "OneForOne",
    "RestartLimitExceeded",
    "RestartStrategy",
    "Supervisor",
    "SupervisorState",
    "Terminated",
    "default_decider",
    "is_dependency_error",
    "unwatch",
    "watch",
]

log = structlog.get_logger("actorfsm.supervision")

GiveUpHook = Callable[[Failure], object]


# ------------------------------------------------- the supervisor's own states


class SupervisorState(enum.Enum):
    """The supervisor's own states (its ``Transition`` s carry its own ``ActorRef``)."""

    SUPERVISING = "supervising"
    STOPPING_CHILDREN = "stopping_children"
    """Stopping children one at a time, in reverse start order, before a restart or give-up."""


@dataclass(frozen=True, slots=True)
class _StopPlan:
    """STOPPING_CHILDREN's data: who is still to stop (the first is awaited), then what.

    With ``give_up`` set the supervisor then fails with it; without, it
    restarts all its children after ``delay`` seconds (``AllForOne``).
    """

    remaining: tuple[str, ...]
    give_up: BaseException | None = None
    delay: float = 0.0


class _Child:
    """The supervisor's record of one child (touched only in the supervisor's thread)."""

    __slots__ = (
        "backoff_n",
        "ever_started",
        "incarnation",
        "last_reason",
        "monitor",
        "ref",
        "restart_at",
        "restart_times",
        "retired",
        "spec",
        "stop_requested",
        "streaks",
    )

    def __init__(
        self, spec: ChildSpec, ref: ChildRef, monitor: LifecycleMonitor, streaks: StreakLog
    ) -> None:
        self.spec = spec
        self.ref = ref
        self.monitor = monitor
        self.incarnation: Incarnation | None = None
        self.ever_started = False
        self.stop_requested = False
        self.retired = False
        self.last_reason: Reason | None = None
        self.restart_times: deque[float] = deque()
        self.restart_at: float | None = None  # a backoff restart is due then
        self.backoff_n = 0
        self.streaks = streaks


# ----------------------------------------------------------------- Supervisor


class Supervisor(FSM[SupervisorState, _StopPlan | None]):
    """An FSM that starts, watches and restarts its children.

    ``Supervisor.start(strategy, children, on_give_up=None, alerts=None)``
    starts the supervisor; its ``on_start`` starts the children in order
    (constructors run in the supervisor's thread). ``strategy`` is a
    :class:`OneForOne` or :class:`AllForOne`; ``children`` a list of
    :class:`ChildSpec`. Ask it ``GetChild(name)`` for a :class:`ChildRef` and
    ``GetChildStatus(name)`` for a :class:`ChildStatus`. Transition
    subscribers get, besides the supervisor's own transitions, a
    ``Transition(child_ref, from_lifecycle, to_lifecycle)`` for every lifecycle
    change of every child (``fsm_ref`` is the :class:`ChildRef`, whose
    ``name`` says which child).

    When a restart limit is exceeded or a child's failure is escalated, the
    supervisor stops its children one at a time in reverse start order, each
    waited for (an event-driven STOPPING_CHILDREN state, never a blocking
    wait), then stops with ``Failure(RestartLimitExceeded(...))`` or
    ``Failure(exception)``. A nested supervisor's parent sees that as a child
    failure; a top-level one calls ``on_give_up(reason)`` (default: one
    ``supervisor_gave_up`` line at error level), which programs use to choose
    their exit code. Stopped from outside (``ref.stop()``), it stops its
    children in reverse order, waiting up to :attr:`child_stop_timeout` each.
    """

    reports_own_failures = True  # gives up with one supervisor_gave_up line, or to its parent

    child_stop_timeout: ClassVar[float] = 5.0
    """How long stopping the supervisor waits for each child to stop, in seconds."""

    def __init__(
        self,
        strategy: RestartStrategy,
        children: Sequence[ChildSpec],
        on_give_up: GiveUpHook | None = None,
        alerts: LifecycleAlerts | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(strategy, RestartStrategy):
            msg = f"strategy must be OneForOne(...) or AllForOne(...), got {strategy!r}"
            raise TypeError(msg)
        if on_give_up is not None and not callable(on_give_up):
            msg = f"on_give_up must be callable, got {on_give_up!r}"
            raise TypeError(msg)
        self._strategy = strategy
        self._all_for_one = isinstance(strategy, AllForOne)
        self._on_give_up = on_give_up
        self._alerts = LifecycleAlerts() if alerts is None else alerts
        # Constructed under a parent's hooks means nested: the parent reports our failure.
        self._top_level = self.supervision_hooks is None
        self._children: dict[str, _Child] = {}
        now = self._now()
        for spec in children:
            if not isinstance(spec, ChildSpec):
                msg = f"children must be ChildSpec instances, got {spec!r}"
                raise TypeError(msg)
            if spec.name in self._children:
                msg = f"two children are named {spec.name!r}"
                raise ValueError(msg)
            ref = ChildRef(spec.name, spec.actor_class, str(self))
            monitor = LifecycleMonitor(self._alerts, now)
            streaks = StreakLog(str(self), spec.name)
            self._children[spec.name] = _Child(spec, ref, monitor, streaks)
        self._order = tuple(self._children.values())
        self._by_ref: dict[ActorRef[Any], Incarnation] = {}
        self._restart_times: deque[float] = deque()  # AllForOne counts per supervisor
        self._backoff_n = 0
        self._closing = False
        self._pending_starts: deque[_Child] = deque()
        self._awaiting: _Child | None = None

        self.start_with(SupervisorState.SUPERVISING, None)
        self.when(SupervisorState.SUPERVISING, self._common)
        self.when(SupervisorState.SUPERVISING, self._supervising)
        self.when(SupervisorState.STOPPING_CHILDREN, self._common)
        self.on_termination(self._stop_children_now)

    def on_start(self) -> None:
        """Start the children in order, each once the previous one runs (as OTP does)."""
        self._start_in_order(self._order)

    # ------------------------------------------------------------- handlers

    def _common(self, event: Event) -> NextState | None:
        """Queries, reports and monitoring, handled the same in every state."""
        match event.event:
            case GetChild(name):
                child = self._children.get(name)
                return stay().replying(None if child is None else child.ref)
            case GetChildStatus(name):
                child = self._children.get(name)
                now = self._now()
                status = (
                    None if child is None else child.monitor.status(name, now, child.restart_at)
                )
                return stay().replying(status)
            case Terminated(ref, reason):
                incarnation = self._by_ref.get(ref)
                return stay() if incarnation is None else self._on_down(incarnation, reason)
            case ChildDown(incarnation, reason):
                return self._on_down(incarnation, reason)
            case ChildFailed(incarnation, cause, fields, directive):
                self._on_failure(incarnation, cause, fields, directive)
                return stay()
            case ChildStarted(incarnation):
                self._on_started(incarnation)
                return stay()
            case Stable(incarnation):
                self._on_stable(incarnation)
                return stay()
            case AlertDue(name, entry):
                self._on_alert_due(self._children[name], entry)
                return stay()
        return None

    def _supervising(self, event: Event) -> NextState | None:
        """The backoff timers: they are cancelled when the supervisor stops its children."""
        match event.event:
            case RestartDue(name):
                child = self._children[name]
                if child.incarnation is None and not child.retired:
                    self._start(child)
                return stay()
            case RestartAllDue():
                self._start_all()
                return stay()
        return None

    # -------------------------------------------------------------- starting

    def _start(self, child: _Child) -> None:
        """Start a new incarnation of ``child`` and make its ``ChildRef`` point at it."""
        child.restart_at = None
        if child.ever_started:
            child.monitor.restarts += 1
            if _metrics.sink is not None:  # metrics hook
                _metrics.sink.restart(self, child.spec.name)
        child.ever_started = True
        child.stop_requested = False
        self._move(child, Lifecycle.STARTING)
        spec = child.spec
        incarnation = Incarnation(self.actor_ref, spec.name, child.ref, self._strategy.decider)
        child.incarnation = incarnation
        try:
            with supervised(incarnation):
                ref = spec.actor_class.start(*spec.args, **spec.kwargs)
        except BaseException as exc:  # a constructor that raises is a failure like any other
            directive = decide(self._strategy.decider, exc, spec.name)
            fields = bare_fields(f"{spec.actor_class.__name__} (constructor)")
            self.actor_ref.tell(ChildFailed(incarnation, exc, fields, directive))
            self.actor_ref.tell(ChildDown(incarnation, Failure(exc)))
            return
        incarnation.ref = ref
        self._by_ref[ref] = incarnation
        # One request both watches the child and, answered after on_start, says it runs.
        signal = StartedSignal(incarnation)
        ref.actor_inbox.put(Envelope(Watch(self.actor_ref, True), reply_to=signal))  # type: ignore[arg-type]
        child.ref._install(incarnation, ref)

    def _start_all(self) -> None:
        self._start_in_order(self._order)

    def _start_in_order(self, children: Sequence[_Child]) -> None:
        """Start ``children`` one after another: the next once the previous ran ``on_start``.

        FSMs share worker threads, so two children started at once would run
        their ``on_start`` concurrently; starting in order means in order.
        """
        self._pending_starts = deque(children)
        self._start_next()

    def _start_next(self) -> None:
        self._awaiting = None
        while self._pending_starts:
            child = self._pending_starts.popleft()
            if child.incarnation is None and not child.retired:
                self._start(child)
                if child.incarnation is not None:
                    self._awaiting = child
                    return

    def _on_started(self, incarnation: Incarnation) -> None:
        child = self._children[incarnation.name]
        if self._awaiting is child:
            self._start_next()
        if child.incarnation is not incarnation or child.stop_requested:
            return
        self._move(child, Lifecycle.RUNNING)
        self._arm_stable(child, incarnation)

    def _arm_stable(self, child: _Child, incarnation: Incarnation) -> None:
        """End the streak and the backoff count once the child has run this long without failing."""
        backoff = self._backoff_for(child.monitor.last_failure)
        delay = self._strategy.within if backoff is None else backoff.reset_interval
        if math.isfinite(delay):
            self.start_single_timer(("stable", child.spec.name), Stable(incarnation), delay)

    def _on_stable(self, incarnation: Incarnation) -> None:
        child = self._children[incarnation.name]
        if child.incarnation is incarnation:
            child.streaks.end()
            child.backoff_n = 0
            self._backoff_n = 0

    # -------------------------------------------------------------- failures

    def _on_failure(
        self,
        incarnation: Incarnation,
        cause: BaseException,
        fields: dict[str, Any],
        directive: Directive,
    ) -> None:
        child = self._children.get(incarnation.name)
        if child is None or child.incarnation is not incarnation:
            return  # from an incarnation of an earlier supervisor
        incarnation.reported_cause = cause
        incarnation.reported = directive
        self._note_failure(child, cause, fields, directive, report=True)
        if directive is Directive.RESUME:
            self._arm_stable(child, incarnation)

    def _note_failure(
        self,
        child: _Child,
        cause: object,
        fields: dict[str, Any],
        directive: Directive,
        *,
        report: bool,
    ) -> None:
        """Count a failure and log it once per streak (unless ``report`` is off)."""
        child.monitor.failed(cause)
        child.streaks.failed(cause, fields, directive.value, report=report)
        if directive is not Directive.RESUME:
            self._move(child, Lifecycle.ERROR)

    def _on_down(self, incarnation: Incarnation, reason: Reason) -> NextState:
        """An incarnation stopped: restart, retire, or give up, as strategy and spec say."""
        child = self._children[incarnation.name]
        if child.incarnation is not incarnation:
            return stay()
        child.incarnation = None
        if self._awaiting is child:  # it failed to start: start the rest
            self._start_next()
        if incarnation.ref is not None:
            self._by_ref.pop(incarnation.ref, None)
        self.cancel_timer(("stable", child.spec.name))
        child.last_reason = reason
        requested, child.stop_requested = child.stop_requested, False
        directive = None
        if isinstance(reason, Failure):
            directive = self._directive_for(child, incarnation, reason.cause)
        elif not requested:
            self._move(child, Lifecycle.STOPPING)  # it stopped itself: seed 001's way down
            self._move(child, Lifecycle.STOPPED)
        plan = self.state_data
        if self.state_name is SupervisorState.STOPPING_CHILDREN and plan is not None:
            return self._down_while_stopping(child, reason, directive, requested, plan)
        if directive is Directive.ESCALATE:
            return self._give_up(_as_exception(reason))
        if not self._wants_restart(child, reason, directive, requested):
            self._retire(child, reason)
            return stay()
        return self._restart(child, reason)

    def _directive_for(self, child: _Child, incarnation: Incarnation, cause: Any) -> Directive:
        """The directive for a failure that stopped ``incarnation`` (deciding now if unreported)."""
        if incarnation.reported_cause is cause and incarnation.reported is not None:
            directive = incarnation.reported
        else:  # it stopped itself with Failure(...), or is a supervisor that failed
            if isinstance(cause, BaseException):
                directive = decide(self._strategy.decider, cause, child.spec.name)
            else:
                directive = Directive.RESTART
            fields = bare_fields(str(incarnation.ref))
            logged = incarnation.logged_cause is cause
            self._note_failure(child, cause, fields, directive, report=not logged)
        # A stopped incarnation cannot be resumed: a fresh one replaces it.
        return Directive.RESTART if directive is Directive.RESUME else directive

    def _wants_restart(
        self, child: _Child, reason: Reason, directive: Directive | None, requested: bool
    ) -> bool:
        restart = child.spec.restart
        if restart == "temporary":
            return False
        if requested:
            return True
        if isinstance(reason, Failure):
            return directive is Directive.RESTART
        return restart == "permanent"

    def _restart(self, child: _Child, reason: Reason) -> NextState:
        """Restart within the limit, after the backoff; past the limit, give up."""
        strategy = self._strategy
        cause = reason.cause if isinstance(reason, Failure) else None
        now = self._now()
        times = self._restart_times if self._all_for_one else child.restart_times
        while times and times[0] <= now - strategy.within:
            times.popleft()
        if len(times) >= strategy.max_restarts:
            limit = RestartLimitExceeded(
                child.spec.name, strategy.max_restarts, strategy.within, cause
            )
            return self._give_up(limit)
        times.append(now)
        backoff = self._backoff_for(cause)
        delay = 0.0
        if backoff is not None:
            if self._all_for_one:
                delay = backoff.delay(self._backoff_n)
                self._backoff_n += 1
            else:
                delay = backoff.delay(child.backoff_n)
                child.backoff_n += 1
        if self._all_for_one:
            return self._stop_children(delay=delay)
        if delay > 0.0:
            name = child.spec.name
            self.start_single_timer(("restart", name), RestartDue(name), delay)
            child.restart_at = now + delay
        else:
            self._start(child)
        return stay()

    def _backoff_for(self, cause: object) -> Backoff | None:
        if self._strategy.backoff is not None:
            return self._strategy.backoff
        return DEPENDENCY_BACKOFF if is_dependency_error(cause) else None

    def _give_up(self, cause: BaseException) -> NextState:
        """Stop every child (reverse start order), then fail with ``cause``.

        Failure streaks end as the children are retired, once all have stopped:
        a child that fails again while the others stop (it was restarting)
        joins its streak instead of being reported anew.
        """
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.give_up(self)
        parent = self.supervision_hooks
        if isinstance(parent, Incarnation) and not isinstance(cause, RestartLimitExceeded):
            parent.logged_cause = cause  # escalated: already logged here, once
        return self._stop_children(give_up=cause)

    # -------------------------------------------------------------- stopping

    def _stop_children(self, give_up: BaseException | None = None, delay: float = 0.0) -> NextState:
        self.cancel_timer("restart_all")
        for child in self._order:  # no backoff restart may come while children stop
            self.cancel_timer(("restart", child.spec.name))
            child.restart_at = None
        names = tuple(child.spec.name for child in reversed(self._order))
        return self._stop_next(_StopPlan(names, give_up, delay))

    def _stop_next(self, plan: _StopPlan) -> NextState:
        """Ask the first child still running to stop and wait for it; when none is left, go on."""
        remaining = plan.remaining
        restarting = plan.give_up is None
        while remaining:
            child = self._children[remaining[0]]
            incarnation = child.incarnation
            if incarnation is not None:
                if not child.stop_requested:
                    child.stop_requested = True
                    if child.monitor.state in (Lifecycle.RUNNING, Lifecycle.STARTING):
                        keep = restarting and child.spec.restart != "temporary"
                        self._move(child, Lifecycle.RESTARTING if keep else Lifecycle.STOPPING)
                    if incarnation.ref is not None:
                        incarnation.ref.stop(block=False)
                return goto(SupervisorState.STOPPING_CHILDREN).using(
                    replace(plan, remaining=remaining)
                )
            remaining = remaining[1:]
        return self._after_stopping(plan)

    def _down_while_stopping(
        self,
        child: _Child,
        reason: Reason,
        directive: Directive | None,
        requested: bool,
        plan: _StopPlan,
    ) -> NextState:
        if directive is Directive.ESCALATE and plan.give_up is None:
            plan = replace(plan, give_up=_as_exception(reason))
        if plan.give_up is None:
            if not self._wants_restart(child, reason, directive, requested):
                self._retire(child, reason)
        elif child.monitor.state is not Lifecycle.ERROR:
            self._move(child, Lifecycle.STOPPED)
        return self._stop_next(plan)

    def _after_stopping(self, plan: _StopPlan) -> NextState:
        if plan.give_up is not None:
            for child in self._order:
                self._retire(child, child.last_reason or Shutdown())
            return stop(Failure(plan.give_up))
        if plan.delay > 0.0:
            self.start_single_timer("restart_all", RestartAllDue(), plan.delay)
            due = self._now() + plan.delay
            for child in self._order:
                if not child.retired:
                    child.restart_at = due
        else:
            self._start_all()
        return goto(SupervisorState.SUPERVISING).using(None)

    def _retire(self, child: _Child, reason: Reason) -> None:
        """The child is stopped for good: STOPPED, and its ``ChildRef`` closed."""
        child.retired = True
        child.restart_at = None
        child.streaks.end()
        self._move(child, Lifecycle.STOPPED)
        child.ref._close(reason)

    def _stop_children_now(self, stop_event: StopEvent) -> None:
        """on_termination: stop what still runs (reverse order, bounded waits), close the refs."""
        self._closing = True
        for child in reversed(self._order):
            incarnation = child.incarnation
            ref = None if incarnation is None else incarnation.ref
            if ref is not None and ref.is_alive():
                self._move(child, Lifecycle.STOPPING)
                unwatch(self.actor_ref, ref)
                try:
                    ref.stop(block=True, timeout=self.child_stop_timeout)
                except pykka.Timeout:
                    log.warning(
                        "child_stop_timeout",
                        supervisor=str(self),
                        child=child.spec.name,
                        timeout=self.child_stop_timeout,
                    )
            if ref is not None:
                child.last_reason = final_reason(ref) or Shutdown()
            child.incarnation = None
        for child in self._order:
            if not child.retired:
                self._retire(child, child.last_reason or Shutdown())
        reason = stop_event.reason
        if isinstance(reason, Failure) and self._top_level:
            self._call_on_give_up(reason)

    def _call_on_give_up(self, reason: Failure) -> None:
        hook = self._on_give_up
        if hook is None:
            log.error("supervisor_gave_up", supervisor=str(self), reason=safe_repr(reason))
            return
        try:
            hook(reason)
        except Exception:
            log.exception("on_give_up_failed", supervisor=str(self), reason=safe_repr(reason))

    # ------------------------------------------------------------ lifecycle

    def _move(self, child: _Child, state: Lifecycle) -> None:
        """Record a lifecycle transition: publish it, arm its stuck alert, check for thrashing."""
        now = self._now()
        old = child.monitor.move(state, now)
        if old is None:
            return
        self._publish(Transition(child.ref, old, state))
        if self._closing:
            return
        name = child.spec.name
        bound = self._alerts.bound(state)
        if bound is None:
            self.cancel_timer(("alert", name))
        else:
            self.start_single_timer(("alert", name), AlertDue(name, child.monitor.entries), bound)
        transitions = child.monitor.thrashing(now)
        if transitions is not None:
            log.warning(
                "lifecycle_alert",
                supervisor=str(self),
                child=name,
                kind="thrashing",
                state=state.name,
                transitions=transitions,
                window=self._alerts.thrash_window,
            )

    def _on_alert_due(self, child: _Child, entry: int) -> None:
        monitor = child.monitor
        if monitor.entries != entry:
            return  # it left that state (and maybe came back: a new episode)
        log.warning(
            "lifecycle_alert",
            supervisor=str(self),
            child=child.spec.name,
            kind="stuck",
            state=monitor.state.name,
            elapsed=self._now() - monitor.since,
            bound=self._alerts.bound(monitor.state),
        )

    def _publish(self, transition: Transition) -> None:
        """Tell the supervisor's transition subscribers about a child's lifecycle transition."""
        self.tell_subscribers(transition)

    @staticmethod
    def _now() -> float:
        return scheduler.current().now()


def _as_exception(reason: Reason) -> BaseException:
    cause = reason.cause if isinstance(reason, Failure) else None
    if isinstance(cause, BaseException):
        return cause
    return RuntimeError(f"child failed with {safe_repr(cause)}")
