"""``LifecycleReporter``: a supervisor's reports about its children's lifecycles.

Every lifecycle transition of a child is published to the supervisor's
transition subscribers, arms the alert for a child that stays too long in a
state (``lifecycle_alert`` kind ``stuck``) and is checked for thrashing
(kind ``thrashing``); each alert is logged once per episode. The timers are
the supervisor's own, passed in as callables, so that the reports come from
the supervisor's thread.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import structlog

from actorfsm.subscribers import Transition
from actorfsm.supervision.children import AlertDue, Child
from actorfsm.supervision.lifecycle import Lifecycle, LifecycleAlerts

log = structlog.get_logger("actorfsm.supervision")


class LifecycleReporter:
    """Publishes a supervisor's child transitions and logs its lifecycle alerts."""

    __slots__ = ("_cancel", "_now", "_publish", "_start_timer", "alerts", "closing", "supervisor")

    def __init__(
        self,
        supervisor: str,
        alerts: LifecycleAlerts,
        *,
        now: Callable[[], float],
        publish: Callable[[Transition], None],
        start_timer: Callable[[Hashable, AlertDue, float], None],
        cancel_timer: Callable[[Hashable], None],
    ) -> None:
        self.supervisor = supervisor
        self.alerts = alerts
        self._now = now
        self._publish = publish
        self._start_timer = start_timer
        self._cancel = cancel_timer
        self.closing = False
        """Set once the supervisor stops: transitions are still published, no alert is armed."""

    def move(self, child: Child, state: Lifecycle) -> None:
        """Record a lifecycle transition: publish it, arm its stuck alert, check for thrashing."""
        now = self._now()
        old = child.monitor.move(state, now)
        if old is None:
            return
        self._publish(Transition(child.ref, old, state))
        if self.closing:
            return
        bound = self.alerts.bound(state)
        if bound is None:
            self._cancel(("alert", child.name))
        else:
            alert = AlertDue(child.name, child.monitor.entries)
            self._start_timer(("alert", child.name), alert, bound)
        transitions = child.monitor.thrashing(now)
        if transitions is not None:
            log.warning(
                "lifecycle_alert",
                supervisor=self.supervisor,
                child=child.name,
                kind="thrashing",
                state=state.name,
                transitions=transitions,
                window=self.alerts.thrash_window,
            )

    def alert_due(self, child: Child, entry: int) -> None:
        """The stuck alert's timer fired: log it if the child is still in that stay."""
        monitor = child.monitor
        if monitor.entries != entry:
            return  # it left that state (and maybe came back: a new episode)
        log.warning(
            "lifecycle_alert",
            supervisor=self.supervisor,
            child=child.name,
            kind="stuck",
            state=monitor.state.name,
            elapsed=self._now() - monitor.since,
            bound=self.alerts.bound(monitor.state),
        )
