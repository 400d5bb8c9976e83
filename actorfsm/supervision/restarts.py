"""The restart sequence of a supervisor: restart within the budget, stop in order, or give up.

A failure's restart takes one restart from the child's :class:`RestartBudget`
(past it the supervisor gives up) and touches the strategy's scope: one child
restarts alone, after its wait; several are first stopped one at a time,
newest first (an event-driven STOPPING_CHILDREN state, never a blocking wait),
then started again in order. Giving up stops every child the same way, then
fails the supervisor. :class:`RestartSequence` is the base of
:class:`~actorfsm.Supervisor`, which starts the children.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import replace

from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.durations import seconds
from actorfsm.fsm import FSM
from actorfsm.messages import Failure, Reason, Shutdown
from actorfsm.rendering import safe_repr
from actorfsm.supervision.children import Child, RestartDue, StopPlan
from actorfsm.supervision.directive import Directive
from actorfsm.supervision.lifecycle import Lifecycle
from actorfsm.supervision.protocol import Incarnation
from actorfsm.supervision.reporter import LifecycleReporter
from actorfsm.supervision.strategy import RestartLimitExceeded, RestartStrategy


class SupervisorState(enum.Enum):
    """The supervisor's own states (its ``Transition`` s carry its own ``ActorRef``)."""

    SUPERVISING = "supervising"
    STOPPING_CHILDREN = "stopping_children"
    """Stopping children one at a time, in reverse start order, before a restart or give-up."""


class RestartSequence(FSM[SupervisorState, StopPlan | None]):
    """The restart and stop sequences a supervisor runs in its own thread."""

    _children: dict[str, Child]
    _order: tuple[Child, ...]
    _names: tuple[str, ...]
    _strategy: RestartStrategy
    _lifecycle: LifecycleReporter
    _pending_starts: deque[Child]
    _awaiting: Child | None

    def _start(self, child: Child) -> None:
        """Start a new incarnation of ``child``."""
        raise NotImplementedError

    def _start_all(self, names: Sequence[str]) -> None:
        """Start the children ``names`` that are down and not retired, in order."""
        raise NotImplementedError

    def _now(self) -> float:
        raise NotImplementedError

    def _restart(self, child: Child, reason: Reason) -> NextState:
        """Restart within the budget, after its wait, with the strategy's scope; else give up."""
        cause = reason.cause if isinstance(reason, Failure) else None
        backoff = self._strategy.backoff_for(cause)
        delay = child.budget.charge(self._now(), backoff)
        if delay is None:
            return self._give_up(self._limit(child, cause))
        scope = self._strategy.scope(self._names, child.name)
        if len(scope) > 1:
            return self._stop_children(scope, delay=delay, backoff=backoff is not None)
        if delay > 0.0:
            self.start_single_timer(("restart", child.name), RestartDue(scope), delay)
            self._schedule(child, delay, backoff is not None)
        else:
            self._start(child)
        return stay()

    def _limit(self, child: Child, cause: object) -> RestartLimitExceeded:
        strategy = self._strategy
        within = seconds(strategy.within)
        return RestartLimitExceeded(child.name, strategy.max_restarts, within, cause)

    def _schedule(self, child: Child, delay: float, backoff: bool) -> None:
        """Note when the child's restart is due; during a backoff its asks fail at once."""
        due = self._now() + delay
        child.restart_at = due
        if backoff:
            child.ref._backing_off(due)

    def _give_up(self, cause: BaseException) -> NextState:
        """Stop every child (reverse start order), then fail with ``cause``.

        Failure streaks end as the children are retired, once all have stopped:
        a child that fails again while the others stop (it was restarting)
        joins its streak instead of being reported anew.
        """
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.give_up(self)
        return self._stop_children(self._names, give_up=cause)

    # -------------------------------------------------------------- stopping

    def _stop_children(
        self,
        scope: tuple[str, ...],
        give_up: BaseException | None = None,
        delay: float = 0.0,
        backoff: bool = False,
    ) -> NextState:
        self.cancel_timer("restart_group")
        self._pending_starts.clear()  # nor a start still queued behind another child's
        self._awaiting = None
        for child in self._order:  # no restart may come while children stop
            self.cancel_timer(("restart", child.name))
            child.restart_at = None
        plan = StopPlan(tuple(reversed(scope)), scope, give_up, delay, backoff)
        return self._stop_next(plan)

    def _stop_next(self, plan: StopPlan) -> NextState:
        """Ask the first child still running to stop and wait for it; when none is left, go on."""
        remaining = plan.remaining
        while remaining:
            child = self._children[remaining[0]]
            if child.incarnation is not None:
                if not child.stop_requested:
                    child.stop_requested = True
                    if child.monitor.state in (Lifecycle.RUNNING, Lifecycle.STARTING):
                        keep = plan.give_up is None and child.spec.restart != "temporary"
                        self._lifecycle.move(
                            child, Lifecycle.RESTARTING if keep else Lifecycle.STOPPING
                        )
                    if child.actor is not None:
                        child.actor.stop(block=False)
                return goto(SupervisorState.STOPPING_CHILDREN).using(
                    replace(plan, remaining=remaining)
                )
            remaining = remaining[1:]
        return self._after_stopping(plan)

    def _down_while_stopping(
        self,
        child: Child,
        reason: Reason,
        directive: Directive | None,
        requested: bool,
        plan: StopPlan,
    ) -> NextState:
        if directive is Directive.ESCALATE and plan.give_up is None:
            plan = replace(plan, give_up=as_exception(reason))
        if plan.give_up is None:
            if not child.spec.restarted_after(reason, directive, requested):
                self._retire(child, reason)
            elif child.name not in plan.restart:  # (RestForOne) an earlier child failed too
                plan = self._widen(plan, child, reason)
        elif child.monitor.state is not Lifecycle.ERROR:
            self._lifecycle.move(child, Lifecycle.STOPPED)
        return self._stop_next(plan)

    def _widen(self, plan: StopPlan, child: Child, reason: Reason) -> StopPlan:
        """Add the scope of ``child``'s failure to a restart in progress (within the budget)."""
        cause = reason.cause if isinstance(reason, Failure) else None
        backoff = self._strategy.backoff_for(cause)
        delay = child.budget.charge(self._now(), backoff)
        if delay is None:
            return replace(plan, give_up=self._limit(child, cause))
        scope = self._strategy.scope(self._names, child.name)
        restart = tuple(name for name in self._names if name in scope or name in plan.restart)
        return replace(
            plan,
            remaining=tuple(reversed(restart)),
            restart=restart,
            delay=max(plan.delay, delay),
            backoff=plan.backoff or backoff is not None,
        )

    def _after_stopping(self, plan: StopPlan) -> NextState:
        if plan.give_up is not None:
            for child in self._order:
                self._retire(child, child.last_reason or Shutdown())
            hooks = self.supervision_hooks
            if isinstance(hooks, Incarnation):  # escalated causes were logged here already
                logged = not isinstance(plan.give_up, RestartLimitExceeded)
                hooks.gave_up(str(self), plan.give_up, logged)
            return stop(Failure(plan.give_up))
        if plan.delay > 0.0:
            self.start_single_timer("restart_group", RestartDue(plan.restart), plan.delay)
            for name in plan.restart:
                if not self._children[name].retired:
                    self._schedule(self._children[name], plan.delay, plan.backoff)
        else:
            self._start_all(plan.restart)
        return goto(SupervisorState.SUPERVISING).using(None)

    def _retire(self, child: Child, reason: Reason) -> None:
        """The child is stopped for good: STOPPED, and its ``ChildRef`` closed."""
        child.retired = True
        child.restart_at = None
        child.streaks.end()
        self._lifecycle.move(child, Lifecycle.STOPPED)
        child.ref._close(reason)


def as_exception(reason: Reason) -> BaseException:
    """The exception a failure ``reason`` escalates as."""
    cause = reason.cause if isinstance(reason, Failure) else None
    if isinstance(cause, BaseException):
        return cause
    return RuntimeError(f"child failed with {safe_repr(cause)}")
