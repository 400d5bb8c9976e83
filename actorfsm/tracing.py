"""What watches each event an FSM handles: the rolling event log, debug tracing, unhandled events.

Mixed into :class:`~actorfsm.fsm.FSM`. The engine asks :meth:`Tracing._observer`
once, at construction, for one pre-bound callable (or ``None``), so the hot
path pays a single check when nothing watches.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import STAY, NextState
from actorfsm.messages import Event
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm")


Observed = tuple[Hashable, object, object, float]
"""What the engine records per event: ``(state, data, event, monotonic time)``."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of the rolling log: what an event found on arrival, and when (wall clock)."""

    state_name: Hashable
    state_data: object
    event: object
    at: float


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
        self._entries: deque[Observed] = deque(maxlen=depth)
        self.record: Callable[[Observed], None] = self._entries.append
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


class Tracing:
    """The rolling log's recorder, ``event_processed`` tracing and ``unhandled_event``."""

    if TYPE_CHECKING:
        _trace: bool
        _log: RollingLog | None

        @property
        def state_name(self) -> Hashable: ...

        _unhandled: Callable[[Event], NextState | None] | None

    def _observer(self) -> Callable[[Observed], None] | None:
        """What watches each event: the rolling log, the debug trace, both, or nothing.

        One pre-bound callable (the log's own ``record`` when only the log is
        on), so the hot path pays a single check when nothing watches.
        """
        if not self._trace:
            return None if self._log is None else self._log.record
        return self._trace_event

    def _trace_event(self, entry: Observed) -> None:
        """Debug tracing of one processed event (``debug_events`` or ``ACTORFSM_DEBUG=1``)."""
        if self._log is not None:
            self._log.record(entry)
        state, data, message, _ = entry
        log.debug(
            "event_processed",
            actor=str(self),
            fsm_event=safe_repr(message),
            state=safe_repr(state),
            data=safe_repr(data),
        )

    def _handle_unhandled(self, event: Event) -> NextState:
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.unhandled(self)
        if self._unhandled is not None:
            result = self._unhandled(event)
            if result is not None:
                return result
        log.warning(
            "unhandled_event",
            actor=str(self),
            fsm_event=safe_repr(event.event),
            state=safe_repr(self.state_name),
            data=safe_repr(event.data),
        )
        return STAY
