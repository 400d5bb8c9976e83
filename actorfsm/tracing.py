"""What watches each event an FSM handles: the rolling log, debug tracing, unhandled events.

Mixed into :class:`~actorfsm.fsm.FSM`. The engine asks :meth:`Tracing._observer`
once, at construction, for one pre-bound callable (or ``None``), so the hot
path pays a single check when nothing watches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import STAY, NextState
from actorfsm.messages import Event
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm")


class Tracing:
    """The rolling log's recorder, ``event_processed`` tracing and ``unhandled_event``."""

    if TYPE_CHECKING:
        _trace: bool
        _log: Any
        _state: Any
        _unhandled: Callable[[Event], NextState | None] | None

    def _observer(self) -> Callable[[tuple[Any, Any, Any, float]], None] | None:
        """What watches each event: the rolling log, the debug trace, both, or nothing.

        One pre-bound callable (the log's own ``record`` when only the log is
        on), so the hot path pays a single check when nothing watches.
        """
        if not self._trace:
            return None if self._log is None else self._log.record
        return self._trace_event

    def _trace_event(self, entry: tuple[Any, Any, Any, float]) -> None:
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
            state=safe_repr(self._state),
            data=safe_repr(event.data),
        )
        return STAY
