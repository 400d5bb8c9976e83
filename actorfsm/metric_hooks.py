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

from typing import Any, Protocol

from actorfsm.mailbox import Mailbox


class MetricsSink(Protocol):
    """What the hooks call; every method runs in the thread of the actor that reports."""

    @property
    def mailbox_class(self) -> type[Mailbox]:
        """The class of a new FSM's mailbox: one that also counts the messages it is given."""

    def constructed(self, fsm: Any) -> None:
        """An FSM was constructed (its mailbox is ``fsm.actor_inbox``)."""

    def transition(self, fsm: Any, old_state: Any, new_state: Any, stayed: float) -> None:
        """A real state change after ``stayed`` seconds in ``old_state``."""

    def unhandled(self, fsm: Any) -> None:
        """An event no handler of the current state took."""

    def failure(self, fsm: Any, cause: object) -> None:
        """A handler, hook or start-up raised (or a handler stopped with ``Failure``)."""

    def postponed(self, fsm: Any) -> None:
        """An event was postponed until the next state change."""

    def restart(self, supervisor: Any, child: str) -> None:
        """A supervisor starts a new incarnation of ``child`` (not its first)."""

    def give_up(self, supervisor: Any) -> None:
        """A supervisor gives up (restart limit exceeded, or a failure escalated)."""

    def dead_letters(self, actor_class: type[Any], child: str, count: int) -> None:
        """``count`` tells to a child stopped for good were dropped."""

    def timers_fired(self, entries: list[tuple[float, int, Any]], now: float) -> None:
        """The scheduler took these ``(due, token, target)`` entries at ``now``."""


sink: MetricsSink | None = None
"""The installed sink; ``None`` while metrics are off."""
