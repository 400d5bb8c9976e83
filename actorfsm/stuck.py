"""Stuck-handler detection: one watcher thread reports handlers that run too long.

A handler that blocks starves its actor: timers, state timeouts, stop requests
and supervision messages all wait behind it, and from outside the actor just
looks deaf. The engine stamps the start of every event (the only cost on the
hot path); this watcher, outside the actor threads, scans the stamps and
reports a call still running after ``handler_warn_after`` seconds once, as
``handler_stuck`` with the actor thread's current stack, and again as
``handler_returned`` with its duration when it returns.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any

import structlog

from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm.stuck")

MIN_SCAN_INTERVAL = 0.01
MAX_SCAN_INTERVAL = 0.25
"""The watcher scans every ``handler_warn_after / 4`` seconds, within these bounds."""


class StuckWatcher:
    """Scans the FSMs registered with it; one daemon thread for the whole process."""

    def __init__(self) -> None:
        self._fsms: set[Any] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, fsm: Any) -> None:
        """Watch ``fsm`` (called from its own thread as it starts)."""
        with self._lock:
            self._fsms.add(fsm)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="actorfsm-stuck-watcher", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def unregister(self, fsm: Any) -> None:
        """Stop watching ``fsm`` (it stopped)."""
        with self._lock:
            self._fsms.discard(fsm)

    def _interval(self) -> float:
        with self._lock:
            limits: list[float] = [fsm.handler_warn_after for fsm in self._fsms]
        if not limits:
            return MAX_SCAN_INTERVAL
        return min(MAX_SCAN_INTERVAL, max(MIN_SCAN_INTERVAL, min(limits) / 4))

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval())
            self._wake.clear()
            self.scan(time.monotonic())

    def scan(self, now: float) -> None:
        """Report every registered FSM whose current call passed its limit."""
        with self._lock:
            fsms = list(self._fsms)
        frames: dict[int, Any] | None = None
        for fsm in fsms:
            since = fsm._busy_since
            stuck = fsm._stuck_since
            if stuck is not None and since is not stuck:
                self.returned(fsm, now)  # it returned before the engine saw the report
            if since is None or stuck is since or now - since < fsm.handler_warn_after:
                continue
            if frames is None:
                frames = sys._current_frames()
            self._report(fsm, since, now, frames.get(fsm._thread_ident))

    def _report(self, fsm: Any, since: float, now: float, frame: Any) -> None:
        message = fsm._current_msg
        with self._lock:
            if fsm._busy_since is not since:
                return  # returned meanwhile: nothing to report
            fsm._stuck_since = since
            fsm._running = False  # the actor's loop reports the return (see FSM._run)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "<no frame>"
        log.warning(
            "handler_stuck",
            actor=str(fsm),
            state=safe_repr(fsm._state),
            fsm_event=safe_repr(message),
            elapsed=round(now - since, 3),
            stack=stack,
        )

    def returned(self, fsm: Any, now: float) -> None:
        """Report that a reported call returned (exactly once, whoever notices first)."""
        with self._lock:
            since = fsm._stuck_since
            if since is None:
                return
            fsm._stuck_since = None
        log.warning("handler_returned", actor=str(fsm), duration=round(now - since, 3))


watcher = StuckWatcher()
"""The process-wide watcher."""
