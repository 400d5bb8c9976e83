"""The Buncher, Akka's FSM example: queue messages during a burst, send them as one batch.

``SetTarget`` sets where batches go; ``Queue`` adds to the current batch;
``Flush`` (or one second without messages) ends the burst and sends ``Batch``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

import structlog

from actorfsm import FSM, Event, NextState, StateTimeout, goto, stay

log = structlog.get_logger("actors.buncher")


@dataclass(frozen=True, slots=True)
class SetTarget:
    """Received: where to send batches."""

    ref: Any


@dataclass(frozen=True, slots=True)
class Queue:
    """Received: one object to add to the current batch."""

    obj: Any


@dataclass(frozen=True, slots=True)
class Flush:
    """Received: the burst has ended; send what is queued."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Sent to the target: the objects queued during one burst, in order."""

    obj: tuple[Any, ...]


class State(enum.Enum):
    """No message queued (IDLE) or some queued (ACTIVE)."""

    IDLE = enum.auto()
    ACTIVE = enum.auto()


@dataclass(frozen=True, slots=True)
class Todo:
    """The target to send batches to and the objects queued so far."""

    target: Any
    queue: tuple[Any, ...] = ()


class Buncher(FSM[State, Todo | None]):
    """Batches ``Queue`` objects and sends them on ``Flush`` or after ``idle_timeout`` seconds."""

    def __init__(self, idle_timeout: float = 1.0) -> None:
        super().__init__()
        self.start_with(State.IDLE, None)
        self.when(State.IDLE, self.idle)
        self.when(State.ACTIVE, self.active, state_timeout=idle_timeout)
        self.when_unhandled(self.unhandled)
        self.on_transition(self.transition)

    def idle(self, event: Event) -> NextState | None:
        match event:
            case Event(SetTarget(ref), None):
                return stay().using(Todo(ref))
        return None

    def active(self, event: Event) -> NextState | None:
        match event:
            case Event(Flush() | StateTimeout(), Todo() as todo):
                return goto(State.IDLE).using(replace(todo, queue=()))
        return None

    def unhandled(self, event: Event) -> NextState | None:
        match event:
            case Event(Queue(obj), Todo(_, queue) as todo):
                return goto(State.ACTIVE).using(replace(todo, queue=(*queue, obj)))
            case Event(message, data):
                log.warning(
                    "buncher_unhandled",
                    request=repr(message),
                    state=self.state_name.name,
                    data=repr(data),
                )
                return stay()
        return None

    def transition(self, from_state: State, to_state: State) -> None:
        match (from_state, to_state):
            case (State.ACTIVE, State.IDLE):
                match self.state_data:
                    case Todo(target, queue):
                        target.tell(Batch(queue))
