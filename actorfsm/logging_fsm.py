"""``LoggingFSM``: an FSM with a rolling log of the last ``log_depth`` events.

The log is what a failure report shows: the events leading up to the failure,
oldest first, each with the state and data it found on arrival. It is a ring
buffer allocated once when the actor is created; recording an entry stores one
tuple and reuses the timestamp the engine already takes per event, so keeping
the log costs little on the hot path. ``LogEntry`` objects are built when the
log is read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic

from actorfsm.declaration import D, S
from actorfsm.fsm import FSM
from actorfsm.rendering import safe_repr


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the rolling log: what an event found on arrival, and when (wall clock)."""

    state_name: Any
    state_data: Any
    event: Any
    at: float


Entry = tuple[Any, Any, Any, float]
"""What the engine records per event: ``(state, data, event, monotonic time)``."""


class RollingLog:
    """A ring buffer of at most ``depth`` entries: a ``deque`` with ``maxlen``.

    ``record`` is the deque's own ``append``, a C call the engine makes with
    the entry tuple: no Python frame. That is about 570 instructions a
    message, 6-7% of an FSM's drain (``benchmarks/bench_debugging``), nearly
    all of it building, appending and later freeing the one tuple. CPython
    recycles the deque's fixed 64-slot blocks, so steady-state recording
    allocates nothing but the tuple.
    """

    __slots__ = ("_entries", "_wall_offset", "record")

    def __init__(self, depth: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=depth)
        self.record: Callable[[Entry], None] = self._entries.append
        # Entries keep the engine's monotonic timestamp; converted to wall-clock on read.
        self._wall_offset = time.time() - time.monotonic()

    def entries(self) -> tuple[LogEntry, ...]:
        """The entries, oldest first."""
        offset = self._wall_offset
        return tuple(
            LogEntry(state, data, event, at + offset) for state, data, event, at in self._entries
        )

    def rendered(self) -> list[str]:
        """The entries as safe, bounded text (for failure reports), oldest first."""
        return [
            f"{datetime.fromtimestamp(entry.at, UTC).isoformat(timespec='milliseconds')} "
            f"state={safe_repr(entry.state_name)} "
            f"data={safe_repr(entry.state_data)} event={safe_repr(entry.event)}"
            for entry in self.entries()
        ]


class LoggingFSM(FSM[S, D], Generic[S, D]):
    """An FSM that keeps a rolling log of its last ``log_depth`` events (Akka's ``LoggingFSM``)."""

    log_depth: ClassVar[int] = 0
    """How many events the rolling log keeps; 0 (the default) turns it off."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        depth = cls.__dict__.get("log_depth", cls.log_depth)
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
            msg = f"{cls.__name__}.log_depth must be a non-negative int, got {depth!r}"
            raise ValueError(msg)

    def get_log(self) -> tuple[LogEntry, ...]:
        """The rolling log, oldest first (empty when ``log_depth`` is 0)."""
        return () if self._log is None else self._log.entries()

    def _create_log(self) -> RollingLog | None:
        return RollingLog(self.log_depth) if self.log_depth > 0 else None
