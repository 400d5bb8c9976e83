"""``Supervisor``: an FSM that starts its children, watches them and restarts them within limits.

pykka has no supervision: a failed actor is gone and nobody restarts it. A
:class:`Supervisor` starts its children from :class:`ChildSpec` s, watches
them, and when one fails asks the strategy's decider what to do: resume it,
restart it (and, as the strategy says, its siblings), stop it, or escalate to
its own supervisor. Restarts are bounded by a :class:`RestartBudget` and
spaced by backoff timers on the shared scheduler, never by sleeping.

Each failure is reported once: the child's report goes to its supervisor,
which logs the first failure of a streak of identical ones and counts the
rest silently (:class:`StreakLog`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from actorfsm import metric_hooks as _metrics
from actorfsm import scheduler
from actorfsm.death_watch import Terminated, watch
from actorfsm.dsl import NextState, stay
from actorfsm.durations import seconds
from actorfsm.messages import Event, Failure, Reason, Shutdown, StopEvent
from actorfsm.supervised import supervised
from actorfsm.supervision.budget import RestartBudget
from actorfsm.supervision.child_ref import ChildRef
from actorfsm.supervision.child_spec import ChildSpec
from actorfsm.supervision.children import AlertDue, Child, RestartDue, Stable
from actorfsm.supervision.directive import Directive, decide
from actorfsm.supervision.lifecycle import Lifecycle, LifecycleAlerts, LifecycleMonitor
from actorfsm.supervision.protocol import (
    ChildDown,
    ChildFailed,
    ChildStarted,
    Incarnation,
    bare_fields,
)
from actorfsm.supervision.queries import GetChild, GetChildStatus
from actorfsm.supervision.reporter import LifecycleReporter
from actorfsm.supervision.restarts import RestartSequence, SupervisorState, as_exception
from actorfsm.supervision.shutdown import GiveUpHook, call_on_give_up, stop_in_reverse
from actorfsm.supervision.strategy import RestartStrategy
from actorfsm.supervision.streak_log import StreakLog


class Supervisor(RestartSequence):
    """An FSM that starts, watches and restarts its children.

    ``Supervisor.start(strategy, children, on_give_up=None, alerts=None)``
    starts the supervisor; its ``on_start`` starts the children in order
    (constructors run in the supervisor's thread). ``strategy`` is a
    :class:`OneForOne`, :class:`AllForOne` or :class:`RestForOne`;
    ``children`` a list of :class:`ChildSpec`. Ask it ``GetChild(name)`` for a
    :class:`ChildRef` and ``GetChildStatus(name)`` for a :class:`ChildStatus`.
    Transition subscribers get, besides the supervisor's own transitions, a
    ``Transition(child_ref, from_lifecycle, to_lifecycle)`` for every
    lifecycle change of every child.

    When a restart limit is exceeded or a child's failure is escalated, the
    supervisor stops its children one at a time in reverse start order, each
    waited for (an event-driven STOPPING_CHILDREN state, never a blocking
    wait), then stops with ``Failure(RestartLimitExceeded(...))`` or
    ``Failure(exception)``. A nested supervisor's parent sees that as a child
    failure; a top-level one calls ``on_give_up(reason)`` (default: one
    ``supervisor_gave_up`` line at error level). Stopped from outside
    (``ref.stop()``), it stops its children in reverse order, waiting up to
    :attr:`child_stop_timeout` each.
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
        if not isinstance(strategy, RestartStrategy) or type(strategy) is RestartStrategy:
            msg = f"strategy must be OneForOne, AllForOne or RestForOne, got {strategy!r}"
            raise TypeError(msg)
        if on_give_up is not None and not callable(on_give_up):
            msg = f"on_give_up must be callable, got {on_give_up!r}"
            raise TypeError(msg)
        self._strategy = strategy
        self._on_give_up = on_give_up
        self._alerts = LifecycleAlerts() if alerts is None else alerts
        # Constructed under a parent's hooks means nested: the parent reports our failure.
        self._top_level = self.supervision_hooks is None
        self._children: dict[str, Child] = {}
        now = self._now()
        limits = (strategy.max_restarts, seconds(strategy.within))
        shared = RestartBudget(*limits)
        for spec in children:
            if not isinstance(spec, ChildSpec):
                msg = f"children must be ChildSpec instances, got {spec!r}"
                raise TypeError(msg)
            if spec.name in self._children:
                msg = f"two children are named {spec.name!r}"
                raise ValueError(msg)
            budget = shared if strategy.shared_budget else RestartBudget(*limits)
            self._children[spec.name] = Child(
                spec,
                ChildRef(spec.name, spec.actor_class, str(self)),
                LifecycleMonitor(self._alerts, now),
                StreakLog(str(self), spec.name),
                budget,
            )
        for spec in children:
            unknown = [name for name in spec.siblings() if name not in self._children]
            if unknown:
                msg = f"ChildSpec {spec.name!r} names unknown siblings {unknown}"
                raise ValueError(msg)
        self._order = tuple(self._children.values())
        self._names = tuple(self._children)
        self._by_ref: dict[object, Incarnation] = {}
        self._pending_starts: deque[Child] = deque()
        self._awaiting: Child | None = None
        self._lifecycle = LifecycleReporter(
            str(self),
            self._alerts,
            now=self._now,
            publish=self.tell_subscribers,
            start_timer=self.start_single_timer,
            cancel_timer=self.cancel_timer,
        )

        self.start_with(SupervisorState.SUPERVISING, None)
        self.when(SupervisorState.SUPERVISING, self._common)
        self.when(SupervisorState.SUPERVISING, self._supervising)
        self.when(SupervisorState.STOPPING_CHILDREN, self._common)
        self.on_termination(self._stop_children_now)

    def on_start(self) -> None:
        """Start the children in order, each once the previous one runs (as OTP does)."""
        self._start_all(self._names)

    # ------------------------------------------------------------- handlers

    def _common(self, event: Event) -> NextState | None:
        """Queries, the children's protocol and monitoring, handled the same in every state."""
        match event.event:
            case GetChild(name):
                child = self._children.get(name)
                return stay().replying(None if child is None else child.ref)
            case GetChildStatus(name):
                child = self._children.get(name)
                if child is None:
                    return stay().replying(None)
                return stay().replying(child.monitor.status(name, self._now(), child.restart_at))
            case Terminated(ref, reason):
                incarnation = self._by_ref.get(ref)
                if incarnation is None:
                    return stay()
                return self._on_down(incarnation, reason or Shutdown())
            case ChildDown(incarnation, reason):
                return self._on_down(incarnation, reason)
            case ChildFailed(incarnation, cause, fields, directive, logged):
                self._on_failure(incarnation, cause, fields, directive, logged)
                return stay()
            case ChildStarted(incarnation):
                self._on_started(incarnation)
                return stay()
            case Stable(incarnation):
                self._on_stable(incarnation)
                return stay()
            case AlertDue(name, entry):
                self._lifecycle.alert_due(self._children[name], entry)
                return stay()
        return None

    def _supervising(self, event: Event) -> NextState | None:
        """The restart timers: they are cancelled when the supervisor stops its children."""
        match event.event:
            case RestartDue(names):
                self._start_all(names)
                return stay()
        return None

    # -------------------------------------------------------------- starting

    def _start(self, child: Child) -> None:
        """Start a new incarnation of ``child`` and make its ``ChildRef`` point at it."""
        child.restart_at = None
        if child.ever_started:
            child.monitor.restarts += 1
            if _metrics.sink is not None:  # metrics hook
                _metrics.sink.restart(self, child.spec.name)
        child.ever_started = True
        child.stop_requested = False
        child.reported = None
        self._lifecycle.move(child, Lifecycle.STARTING)
        child.budget.started(self._now())
        spec = child.spec
        incarnation = Incarnation(self.actor_ref, spec.name, child.ref, self._strategy.decider)
        child.incarnation = incarnation
        try:
            args, kwargs = spec.arguments(self._sibling)
            with supervised(incarnation):
                ref = spec.actor_class.start(*args, **kwargs)
        except BaseException as exc:  # a constructor that raises is a failure like any other
            directive = decide(self._strategy.decider, exc, spec.name)
            fields = bare_fields(f"{spec.actor_class.__name__} (constructor)")
            self.actor_ref.tell(ChildFailed(incarnation, exc, fields, directive))
            self.actor_ref.tell(ChildDown(incarnation, Failure(exc)))
            return
        child.actor = ref
        self._by_ref[ref] = incarnation
        watch(self.actor_ref, ref)
        child.ref._install(incarnation, ref)

    def _sibling(self, name: str) -> ChildRef:
        return self._children[name].ref

    def _start_all(self, names: Sequence[str]) -> None:
        """Start the children ``names`` one after another: the next once the previous ran
        ``on_start`` (or failed to).

        FSMs share worker threads, so children started at once would run their
        ``on_start`` concurrently; starting in order means in order.
        """
        self._pending_starts = deque(self._children[name] for name in names)
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
        self._lifecycle.move(child, Lifecycle.RUNNING)
        self._arm_stable(child, incarnation)

    def _arm_stable(self, child: Child, incarnation: Incarnation) -> None:
        """End the streak and the backoff count once the child has run this long without failing."""
        backoff = self._strategy.backoff_for(child.monitor.last_failure)
        delay = seconds(self._strategy.within) if backoff is None else backoff.reset_interval
        if math.isfinite(delay):
            self.start_single_timer(("stable", child.name), Stable(incarnation), delay)

    def _on_stable(self, incarnation: Incarnation) -> None:
        child = self._children[incarnation.name]
        if child.incarnation is incarnation:
            child.streaks.end()
            child.budget.stable()

    # -------------------------------------------------------------- failures

    def _on_failure(
        self,
        incarnation: Incarnation,
        cause: BaseException,
        fields: dict[str, object],
        directive: Directive,
        logged: bool,
    ) -> None:
        child = self._children.get(incarnation.name)
        if child is None or child.incarnation is not incarnation:
            return  # from an incarnation of an earlier supervisor
        child.reported = (cause, directive)
        self._note_failure(child, cause, fields, directive, report=not logged)
        if directive is Directive.RESUME:
            self._arm_stable(child, incarnation)

    def _note_failure(
        self,
        child: Child,
        cause: object,
        fields: dict[str, object],
        directive: Directive,
        *,
        report: bool,
    ) -> None:
        """Count a failure and log it once per streak (unless ``report`` is off)."""
        child.monitor.failed(cause)
        child.streaks.failed(cause, fields, directive.value, report=report)
        if directive is not Directive.RESUME:
            self._lifecycle.move(child, Lifecycle.ERROR)

    def _on_down(self, incarnation: Incarnation, reason: Reason) -> NextState:
        """An incarnation stopped: restart, retire, or give up, as strategy and spec say."""
        child = self._children[incarnation.name]
        if child.incarnation is not incarnation:
            return stay()
        actor, child.actor, child.incarnation = child.actor, None, None
        if self._awaiting is child:  # it failed to start: start the rest
            self._start_next()
        if actor is not None:
            self._by_ref.pop(actor, None)
        self.cancel_timer(("stable", child.name))
        child.last_reason = reason
        requested, child.stop_requested = child.stop_requested, False
        directive = None
        if isinstance(reason, Failure):
            directive = self._directive_for(child, actor, reason.cause)
        elif not requested:
            self._lifecycle.move(child, Lifecycle.STOPPING)  # it stopped itself
            self._lifecycle.move(child, Lifecycle.STOPPED)
        plan = self.state_data
        if self.state_name is SupervisorState.STOPPING_CHILDREN and plan is not None:
            return self._down_while_stopping(child, reason, directive, requested, plan)
        if directive is Directive.ESCALATE:
            return self._give_up(as_exception(reason))
        if not child.spec.restarted_after(reason, directive, requested):
            self._retire(child, reason)
            return stay()
        return self._restart(child, reason)

    def _directive_for(self, child: Child, actor: object, cause: object) -> Directive:
        """The directive for a failure that stopped the child (deciding now if unreported)."""
        reported, child.reported = child.reported, None
        if reported is not None and reported[0] is cause:
            directive = reported[1]
        else:  # it stopped itself with Failure(...)
            if isinstance(cause, BaseException):
                directive = decide(self._strategy.decider, cause, child.name)
            else:
                directive = Directive.RESTART
            self._note_failure(child, cause, bare_fields(str(actor)), directive, report=True)
        # A stopped incarnation cannot be resumed: a fresh one replaces it.
        return Directive.RESTART if directive is Directive.RESUME else directive

    def _stop_children_now(self, stop_event: StopEvent) -> None:
        """on_termination: stop what still runs (newest first, bounded waits), close the refs."""
        self._lifecycle.closing = True
        stop_in_reverse(self, self._order, self.child_stop_timeout, self._lifecycle.move)
        for child in self._order:
            if not child.retired:
                self._retire(child, child.last_reason or Shutdown())
        reason = stop_event.reason
        if isinstance(reason, Failure) and self._top_level:
            call_on_give_up(str(self), self._on_give_up, reason)

    def _now(self) -> float:
        return scheduler.current().now()
