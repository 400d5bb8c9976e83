"""FSMs the cluster tests run in host processes (a module workers can import by name)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from actorfsm import Event, LoggingFSM, NextState, goto, stay, stop

NODES = ({"n1": 1, "dev": 1}, {"n2": 1, "dev": 1})
"""The session cluster's nodes besides the head: their own resource each, and a ``dev`` unit."""


class Gate(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Record:
    n: int


@dataclass(frozen=True, slots=True)
class Close:
    pass


@dataclass(frozen=True, slots=True)
class Open:
    pass


@dataclass(frozen=True, slots=True)
class Seen:
    pass


@dataclass(frozen=True, slots=True)
class Count:
    pass


@dataclass(frozen=True, slots=True)
class Boom:
    pass


@dataclass(frozen=True, slots=True)
class Forward:
    """Tell ``target`` ``message``: a ref carried in a message must work where it arrives."""

    target: Any
    message: Any


class Recorder(LoggingFSM[Gate, list[int]]):
    """Records ``Record(n)`` in arrival order; while CLOSED it postpones records and asks."""

    log_depth = 8

    def __init__(self) -> None:
        super().__init__()
        self.start_with(Gate.OPEN, [])
        self.when(Gate.OPEN, self._open)
        self.when(Gate.CLOSED, self._closed)
        self.when_unhandled(self._any)

    def _open(self, event: Event) -> NextState | None:
        match event:
            case Event(Record(n), seen):
                seen.append(n)
                return stay()
            case Event(Close(), _):
                return goto(Gate.CLOSED)
            case Event(Count(), seen):
                return stay().replying(len(seen))
        return None

    def _closed(self, event: Event) -> NextState | None:
        match event.event:
            case Open():
                return goto(Gate.OPEN)
            case Record() | Count() | Seen():
                return stay().postponing()
        return None

    def _any(self, event: Event) -> NextState | None:
        match event.event:
            case Seen():
                return stay().replying(list(event.data))
            case Boom():
                raise RuntimeError("boom")
            case Forward(target, message):
                target.tell(message)
                return stay()
            case "finish":
                return stop()
        return None


class Collector(LoggingFSM[str, list[Any]]):
    """Keeps every message it is told; ``Seen()`` returns them."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with("collecting", [])
        self.when("collecting", self._collect)

    def _collect(self, event: Event) -> NextState:
        match event:
            case Event(Seen(), kept):
                return stay().replying(list(kept))
            case Event(message, kept):
                return stay().using([*kept, message])
        return stay()  # pragma: no cover - the patterns above match every event
