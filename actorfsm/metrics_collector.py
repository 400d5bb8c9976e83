"""The metrics read at scrape time: one pass over the live FSMs and supervision trees.

Gauges (FSMs per state, mailbox depth, stuck handlers, timers armed, children's
lifecycle states and alerts, dispatcher workers) are sampled when Prometheus
scrapes, never per message; events handled are flushed from each FSM's counter
into per-state totals at the same moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actorfsm import census, dispatch
from actorfsm.rendering import state_label
from actorfsm.supervision.lifecycle import Lifecycle
from actorfsm.supervision.supervisor import Supervisor

CLASS_STATE = ["fsm_class", "state"]
CHILD = ["supervisor_class", "child"]
CLASS = ["fsm_class"]


class RuntimeCollector(Collector):
    """Collects the sampled metrics; ``events_handled()`` flushes and returns the event totals."""

    def __init__(self, events_handled: Callable[[], dict[tuple[str, str], int]]) -> None:
        self._events_handled = events_handled

    def describe(self) -> list[Metric]:
        """Nothing up front: the families depend on the FSMs running at scrape time."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One pass over every live FSM and every supervisor's children."""
        fsms = census.live_fsms()
        yield from self._fsm_families(fsms)
        yield from self._supervision_families(census.live_supervisors())
        yield from _dispatcher_families()

    def _fsm_families(self, fsms: list[Any]) -> Iterator[Metric]:
        in_state: Counter[tuple[str, str]] = Counter()
        depth: Counter[str] = Counter()
        deepest: dict[str, int] = {}
        stuck: Counter[str] = Counter()
        timers: Counter[str] = Counter()
        labels: dict[int, tuple[object, str]] = {}
        for fsm in fsms:
            cls = type(fsm).__name__
            state = fsm.state_name
            known = labels.get(id(state))  # by id: an enum member hashes through Python code
            if known is None or known[0] is not state:
                known = labels[id(state)] = (state, state_label(state))
            label = known[1]
            in_state[cls, label] += 1
            queued = census.mailbox_depth(fsm)
            depth[cls] += queued
            if queued > deepest.get(cls, -1):
                deepest[cls] = queued
            stuck[cls] += census.is_stuck(fsm)
            timers[cls] += census.timers_armed(fsm)
        yield _gauge(
            "actorfsm_fsms", "Running FSMs, per class and current state.", in_state, CLASS_STATE
        )
        events = CounterMetricFamily(
            "actorfsm_events_handled", "Events handled, per class and state.", labels=CLASS_STATE
        )
        for (cls, state), count in sorted(self._events_handled().items()):
            events.add_metric([cls, state], count)
        yield events
        yield _gauge("actorfsm_mailbox_depth", "Messages queued, summed per class.", depth, CLASS)
        yield _gauge(
            "actorfsm_mailbox_depth_max", "The deepest mailbox, per class.", deepest, CLASS
        )
        yield _gauge(
            "actorfsm_stuck_handlers", "Handlers reported stuck now, per class.", stuck, CLASS
        )
        yield _gauge(
            "actorfsm_timers_armed", "Named timers and state timeouts armed.", timers, CLASS
        )

    def _supervision_families(self, supervisors: list[Supervisor]) -> Iterator[Metric]:
        states: Counter[tuple[str, str, str]] = Counter()
        seconds: dict[tuple[str, str, str], float] = {}
        streaks: dict[tuple[str, str], int] = {}
        alerts: Counter[tuple[str, str, str]] = Counter()
        for supervisor in supervisors:
            sup = type(supervisor).__name__
            for child in census.children(supervisor):
                key = (sup, child.name, child.state.name)
                for lifecycle in Lifecycle:
                    states[sup, child.name, lifecycle.name] += lifecycle is child.state
                seconds[key] = max(seconds.get(key, 0.0), child.in_state_for)
                streak_key = (sup, child.name)
                streaks[streak_key] = max(streaks.get(streak_key, 0), child.failure_streak)
                for kind in census.ALERT_KINDS:
                    alerts[sup, child.name, kind] += kind in child.alerts
        yield _gauge(
            "actorfsm_children",
            "Supervised children, per lifecycle state.",
            states,
            [*CHILD, "lifecycle"],
        )
        yield _gauge(
            "actorfsm_child_state_seconds",
            "The longest time a child has been in its current lifecycle state.",
            seconds,
            [*CHILD, "lifecycle"],
        )
        yield _gauge(
            "actorfsm_failure_streak",
            "The longest run of identical failures of a child still going on.",
            streaks,
            CHILD,
        )
        yield _gauge(
            "actorfsm_lifecycle_alerts",
            "Children in a lifecycle alert now (the supervisor's LifecycleAlerts bounds).",
            alerts,
            [*CHILD, "alert"],
        )


def _dispatcher_families() -> Iterator[Metric]:
    """Per dispatcher pool: its worker threads, and how many handle a message now."""
    busy = GaugeMetricFamily(
        "actorfsm_dispatcher_workers_busy",
        "Dispatcher workers handling a message now.",
        labels=["dispatcher"],
    )
    workers = GaugeMetricFamily(
        "actorfsm_dispatcher_workers",
        "Dispatcher worker threads (replacements for blocked ones included).",
        labels=["dispatcher"],
    )
    for pool in dispatch.pools():
        busy.add_metric([pool.name], pool.busy())
        workers.add_metric([pool.name], pool.workers())
    yield busy
    yield workers


def _gauge(name: str, documentation: str, values: Any, labels: list[str]) -> GaugeMetricFamily:
    """A gauge family from ``{label values: value}`` (a bare string is the one label)."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
    return family
