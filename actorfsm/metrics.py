"""Prometheus metrics for FSMs, supervisors and the runtime (``pip install actorfsm[observer]``).

Off by default, and then free: nothing here is imported by the engine. One call,
``enable()``, installs a sink in :mod:`actorfsm.metric_hooks` and registers the
metrics with a ``prometheus_client`` registry (the default one unless given).
Labels are classes, states, child names and exception types, never actor ids,
so a million FSMs of ten classes make the same number of series as one.

Counted as it happens (a hook per transition, unhandled event, failure,
postponed event, restart, give-up, dead letter and scheduler batch) and
sampled at scrape time (FSMs per state, events handled, mailbox depths, stuck
handlers, timers, children's lifecycle states and alerts, dispatcher workers)
by :class:`actorfsm.metrics_collector.RuntimeCollector`. Messages handled
are counted by each FSM's mailbox (one increment per message, on the sender's
side), so FSMs constructed before ``enable()`` are in every gauge but do not
count their messages.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

from actorfsm import metric_hooks
from actorfsm.dispatch import Dispatcher
from actorfsm.mailbox import Mailbox, RejectFn
from actorfsm.metrics_collector import RuntimeCollector
from actorfsm.pykka_seam import Envelope
from actorfsm.rendering import state_label
from actorfsm.runners import Owner

__all__ = ["CountingMailbox", "Metrics", "current", "disable", "enable"]

C = TypeVar("C", bound=Collector)

TIME_IN_STATE_BUCKETS = (0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 600.0, 3600.0, float("inf"))
LATENESS_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, float("inf"))
LATENESS_SAMPLES = 64
"""At most this many timers of one scheduler batch are observed (a burst stays cheap)."""


class CountingMailbox(Mailbox):
    """A mailbox that counts what it is given: what was taken is given minus still queued.

    The count is one increment on the sender's side, after the message is
    queued (so a message is never counted as taken before it is). Messages
    rejected after the FSM stopped are not counted as taken.
    """

    __slots__ = ("given", "taken_at_close")

    def __init__(self, owner: Owner, dispatcher: Dispatcher) -> None:
        super().__init__(owner, dispatcher)
        self.given = 0
        self.taken_at_close: int | None = None

    def put(self, envelope: Envelope[Any], /) -> None:
        """Enqueue and count ``envelope``; schedule the FSM if it was idle."""
        self.queue.append(envelope)
        self.given += 1
        if self._token.acquire(False):
            self._schedule(self)

    def put_many(self, envelopes: list[Envelope[Any]]) -> None:
        """Enqueue and count ``envelopes`` in order with at most one scheduling."""
        self.queue.extend(envelopes)
        self.given += len(envelopes)
        if self._token.acquire(False):
            self._schedule(self)

    def close(self, reject: RejectFn) -> None:
        """Freeze the count of messages taken, then refuse everything from now on."""
        if self.taken_at_close is None:
            self.taken_at_close = self.given - len(self.queue)
        super().close(reject)

    def taken(self) -> int:
        """How many messages the FSM took from this mailbox so far."""
        closed = self.taken_at_close
        return closed if closed is not None else self.given - len(self.queue)


class _EventCount:
    """One FSM's mailbox and how much of what it took was already added to a state's total."""

    __slots__ = ("cls", "flushed", "fsm", "mailbox", "state")

    def __init__(self, fsm: Any, mailbox: CountingMailbox) -> None:
        self.fsm = weakref.ref(fsm)
        self.cls = type(fsm).__name__
        self.mailbox = mailbox
        self.flushed = 0
        self.state: object = None


class Metrics:
    """The installed metrics: the engine's sink and the counters it feeds."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.registered: list[Collector] = []
        """What :func:`disable` unregisters."""
        self._lock = threading.Lock()
        self._counts: dict[int, _EventCount] = {}
        self._retired: list[_EventCount] = []
        self.events_handled: dict[tuple[str, str], int] = {}
        """Totals per (class, state) flushed so far; read by the collector."""
        self.transitions = self._counter(
            "actorfsm_transitions",
            "State changes, per FSM class and (from, to) state.",
            ["fsm_class", "from_state", "to_state"],
        )
        self.time_in_state = self._registered(
            Histogram(
                "actorfsm_time_in_state_seconds",
                "How long an FSM stayed in a state, observed as it leaves it.",
                ["fsm_class", "state"],
                buckets=TIME_IN_STATE_BUCKETS,
                registry=None,
            )
        )
        self.unhandled_events = self._counter(
            "actorfsm_unhandled_events",
            "Events no handler of the current state took.",
            ["fsm_class", "state"],
        )
        self.failures = self._counter(
            "actorfsm_failures",
            "Handler, hook and start-up failures, per exception type.",
            ["fsm_class", "state", "exception"],
        )
        self.postponed_events = self._counter(
            "actorfsm_postponed_events",
            "Events postponed, counted as the state change returns them to the mailbox.",
            ["fsm_class", "state"],
        )
        self.restarts = self._counter(
            "actorfsm_child_restarts",
            "Restarts of a supervised child.",
            ["supervisor_class", "child"],
        )
        self.give_ups = self._counter(
            "actorfsm_supervisor_give_ups",
            "Supervisors that gave up (restart limit exceeded or failure escalated).",
            ["supervisor_class"],
        )
        self.dead_letters_total = self._counter(
            "actorfsm_dead_letters",
            "Tells dropped because their child was stopped for good.",
            ["fsm_class", "child"],
        )
        self.scheduler_lateness = self._registered(
            Histogram(
                "actorfsm_scheduler_lateness_seconds",
                "How late the scheduler fired timers (sampled per batch).",
                buckets=LATENESS_BUCKETS,
                registry=None,
            )
        )
        self.collector = self._registered(RuntimeCollector(self.flush_events))

    def _registered(self, collector: C) -> C:
        """Register ``collector`` and remember it for :func:`disable`."""
        self.registry.register(collector)
        self.registered.append(collector)
        return collector

    def _counter(self, name: str, documentation: str, labels: list[str]) -> Counter:
        return self._registered(Counter(name, documentation, labels, registry=None))

    # ------------------------------------------------------------ the sink

    def mailbox(self, owner: Owner, dispatcher: Dispatcher) -> CountingMailbox:
        """A counting mailbox for a new FSM, whose count is followed from now on."""
        mailbox = CountingMailbox(owner, dispatcher)
        record = _EventCount(owner, mailbox)
        with self._lock:
            previous = self._counts.get(id(owner))
            if previous is not None:
                self._retired.append(previous)
            self._counts[id(owner)] = record
        return mailbox

    def transition(self, fsm: Any, old_state: object, new_state: object, stayed: float) -> None:
        """Count the change, observe the stay, and add the events handled in ``old_state``."""
        cls = type(fsm).__name__
        old = state_label(old_state)
        self.transitions.labels(cls, old, state_label(new_state)).inc()
        self.time_in_state.labels(cls, old).observe(stayed)
        postponed = fsm._postponed
        if postponed:
            self.postponed_events.labels(cls, old).inc(len(postponed))
        record = self._counts.get(id(fsm))
        if record is not None and record.fsm() is fsm:
            with self._lock:
                self._flush(record, old)
                record.state = new_state

    def unhandled(self, fsm: Any) -> None:
        """Count an unhandled event in the FSM's current state."""
        self.unhandled_events.labels(type(fsm).__name__, state_label(fsm.state_name)).inc()

    def failure(self, fsm: Any, cause: object) -> None:
        """Count a failure by exception type (``Failure`` for a non-exception cause)."""
        kind = type(cause).__name__ if isinstance(cause, BaseException) else "Failure"
        self.failures.labels(type(fsm).__name__, state_label(fsm.state_name), kind).inc()

    def restart(self, supervisor: object, child: str) -> None:
        """Count a child's restart."""
        self.restarts.labels(type(supervisor).__name__, child).inc()

    def give_up(self, supervisor: object) -> None:
        """Count a supervisor giving up."""
        self.give_ups.labels(type(supervisor).__name__).inc()

    def dead_letters(self, actor_class: type, child: str, count: int) -> None:
        """Count tells dropped for a child stopped for good."""
        self.dead_letters_total.labels(actor_class.__name__, child).inc(count)

    def timers_fired(self, entries: Sequence[tuple[float, int, object]], now: float) -> None:
        """Observe how late a batch of timers fired (at most ``LATENESS_SAMPLES`` of them)."""
        step = max(1, len(entries) // LATENESS_SAMPLES)
        observe = self.scheduler_lateness.observe
        for due, _token, _target in entries[::step]:
            observe(max(0.0, now - due))

    # -------------------------------------------------- events, at scrape

    def flush_events(self) -> dict[tuple[str, str], int]:
        """Add every FSM's events since the last flush to its state's total; return the totals."""
        with self._lock:
            retired, self._retired = self._retired, []
            for record in retired:
                self._flush(record, record.state)
            dead = []
            for key, record in self._counts.items():
                fsm = record.fsm()
                if fsm is None:
                    dead.append(key)
                else:
                    record.state = fsm.state_name
                self._flush(record, record.state)
            for key in dead:
                del self._counts[key]
            return dict(self.events_handled)

    def _flush(self, record: _EventCount, state: object) -> None:
        """Move ``record``'s new events to ``state``'s total (lock held)."""
        counted = record.mailbox.taken()
        delta = counted - record.flushed
        if delta > 0:
            record.flushed = counted
            key = (record.cls, state_label(state))
            self.events_handled[key] = self.events_handled.get(key, 0) + delta


def enable(registry: CollectorRegistry | None = None) -> Metrics:
    """Turn metrics on, registered with ``registry`` (default: prometheus_client's).

    Calling it again with the same (or no) registry returns the metrics
    already on; a different registry is an error (one sink per process).
    """
    installed = metric_hooks.sink
    if isinstance(installed, Metrics):
        if registry is None or registry is installed.registry:
            return installed
        msg = "metrics are already enabled with another registry; call disable() first"
        raise RuntimeError(msg)
    metrics = Metrics(REGISTRY if registry is None else registry)
    metric_hooks.sink = metrics
    return metrics


def disable() -> None:
    """Turn metrics off and unregister them (FSMs keep counting into a detached counter)."""
    installed = metric_hooks.sink
    metric_hooks.sink = None
    if isinstance(installed, Metrics):
        for collector in installed.registered:
            installed.registry.unregister(collector)


def current() -> Metrics | None:
    """The metrics on now, or ``None``."""
    installed = metric_hooks.sink
    return installed if isinstance(installed, Metrics) else None
