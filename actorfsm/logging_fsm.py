"""``LoggingFSM``: an FSM with a rolling log of the last ``log_depth`` events.

The log is what a failure report shows: the events leading up to the failure,
oldest first, each with the state and data it found on arrival. It is a ring
buffer allocated once when the actor is created; recording an entry stores one
tuple and reuses the timestamp the engine already takes per event, so keeping
the log costs little on the hot path (the log itself: :class:`~actorfsm.tracing.RollingLog`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic

from actorfsm.declaration import D, S
from actorfsm.fsm import FSM
from actorfsm.tracing import LogEntry, RollingLog


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
