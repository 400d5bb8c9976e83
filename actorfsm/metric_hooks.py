"""Where the engine and the supervisors report what the metrics count.

The engine calls ``sink`` only behind ``if metric_hooks.sink is not None``: with
metrics off (the default) each hook point costs one global load and one test,
and nothing is imported from ``prometheus_client``. ``actorfsm.metrics.enable``
installs the sink. No hook runs in an FSM's message loop: messages handled are
counted by the mailbox (:attr:`MetricsSink.mailbox_class`, one increment per message
on the sender's side: given minus still queued is taken), and read per FSM at
transitions and scrapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from actorfsm.dispatch import Dispatcher
from actorfsm.mailbox import Mailbox
from actorfsm.runners import Owner


class MetricsSink(Protocol):
    """What the hooks call; every method runs in the thread of the actor that reports."""

    def mailbox(self, owner: Owner, dispatcher: Dispatcher) -> Mailbox:
        """A new FSM's mailbox: one that also counts the messages it is given."""

    def transition(self, fsm: Any, old_state: object, new_state: object, stayed: float) -> None:
        """A real state change after ``stayed`` seconds in ``old_state``.

        Called before the FSM's postponed events (postponed in ``old_state``)
        go back to its mailbox: they are counted here.
        """

    def unhandled(self, fsm: Any) -> None:
        """An event no handler of the current state took."""

    def failure(self, fsm: Any, cause: object) -> None:
        """A handler, hook or start-up raised (or a handler stopped with ``Failure``)."""

    def restart(self, supervisor: object, child: str) -> None:
        """A supervisor starts a new incarnation of ``child`` (not its first)."""

    def give_up(self, supervisor: object) -> None:
        """A supervisor gives up (restart limit exceeded, or a failure escalated)."""

    def dead_letters(self, actor_class: type, child: str, count: int) -> None:
        """``count`` tells to a child stopped for good were dropped."""

    def timers_fired(self, entries: Sequence[tuple[float, int, object]], now: float) -> None:
        """The scheduler took these ``(due, token, target)`` entries at ``now``."""


sink: MetricsSink | None = None
"""The installed sink; ``None`` while metrics are off."""


def mailbox(owner: Owner, dispatcher: Dispatcher) -> Mailbox:
    """A new FSM's mailbox: the engine's own, or the sink's counting one while metrics are on."""
    if sink is None:
        return Mailbox(owner, dispatcher)
    return sink.mailbox(owner, dispatcher)
