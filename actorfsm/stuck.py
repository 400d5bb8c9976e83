"""Stuck-handler detection: one watcher thread reports handlers that run too long.

A handler that blocks starves its FSM (timers, state timeouts, stop requests
and supervision messages wait behind it) and, on a shared pool, the worker it
runs on. The engine stamps the start of every event (the only cost on the hot
path); this watcher scans the *runners* (pool workers and dedicated
threads, a handful), not the FSMs, so its cost does not
grow with the number of FSMs. A call still running after the FSM's
``handler_warn_after`` is reported once, as ``handler_stuck`` with the
thread's stack, and again as ``handler_returned`` with its duration; its pool
is told, so it can start a replacement worker.

Under overload the reports are summarised: while more than ``BURST`` calls
are stuck at once, further ones are only counted, and one
``handler_stuck_summary`` line gives the count when the last of them returns.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from types import FrameType

import structlog

from actorfsm import dispatch, runners
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm.stuck")

MIN_SCAN_INTERVAL = 0.01
MAX_SCAN_INTERVAL = 0.25
"""The watcher scans every ``handler_warn_after / 4`` seconds, within these bounds."""

POOL_BLOCKED_AFTER = 1.0
"""A pool worker in one handler this long counts as blocked (for a replacement), reported or not."""

BURST = 5
"""Calls stuck at once beyond which reports carry no stack and are summarised."""


def check_warn_after(owner: str, limit: object) -> None:
    """Refuse a ``handler_warn_after`` that is not seconds > 0 or ``None``."""
    if limit is not None and (
        not isinstance(limit, int | float) or isinstance(limit, bool) or not limit > 0
    ):
        msg = f"{owner}.handler_warn_after must be seconds > 0 or None, got {limit!r}"
        raise ValueError(msg)


class StuckWatcher:
    """Scans the live runners; one daemon thread for the whole process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._min_limit = MAX_SCAN_INTERVAL * 4
        self._suppressed = 0
        self._suppressed_fsms: set[str] = set()
        self.stuck_now = 0
        """How many calls are reported stuck and have not returned."""

    def note_limit(self, limit: float | None) -> None:
        """An FSM with this ``handler_warn_after`` started: scan often enough, start the thread."""
        if limit is not None and limit < self._min_limit:
            self._min_limit = limit
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="actorfsm-stuck-watcher", daemon=True
                    )
                    self._thread.start()

    def _interval(self) -> float:
        return min(MAX_SCAN_INTERVAL, max(MIN_SCAN_INTERVAL, self._min_limit / 4))

    def _run(self) -> None:
        while True:
            time.sleep(self._interval())
            self.scan(time.monotonic())

    def scan(self, now: float) -> None:
        """Report every runner whose current call passed its limit; end summary windows."""
        frames: dict[int, FrameType] | None = None
        blocked: dict[dispatch.Dispatcher, set[runners.Runner]] = {
            pool: set() for pool in dispatch.pools()
        }
        for runner in runners.runners():
            fsm = runner.current
            if fsm is None:
                continue
            since = fsm._busy_since
            stuck = fsm._stuck_since
            if stuck is not None and since is not stuck:
                self.returned(fsm, now)
            if since is None or stuck is since:
                continue
            elapsed = now - since
            pool = runner.dispatcher
            if pool is not None and pool in blocked and elapsed >= POOL_BLOCKED_AFTER:
                blocked[pool].add(runner)
            limit = fsm.handler_warn_after
            if limit is None or elapsed < limit:
                continue
            if frames is None:
                frames = sys._current_frames()
            self._report(fsm, since, now, frames.get(runner.ident))
        for pool, stuck_workers in blocked.items():
            pool.set_blocked(stuck_workers)
        self._end_window(now)

    def _report(
        self, fsm: runners.Watched, since: float, now: float, frame: FrameType | None
    ) -> None:
        message = fsm._current_msg
        with self._lock:
            if fsm._busy_since is not since:
                return  # returned meanwhile: nothing to report
            fsm._stuck_since = since
            self.stuck_now += 1
            if self.stuck_now > BURST:
                self._suppressed += 1
                self._suppressed_fsms.add(type(fsm).__name__)
                return
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "<no frame>"
        log.warning(
            "handler_stuck",
            actor=str(fsm),
            state=safe_repr(fsm._state),
            fsm_event=safe_repr(message),
            elapsed=round(now - since, 3),
            stack=stack,
        )

    def _end_window(self, now: float) -> None:
        with self._lock:
            if not self._suppressed or self.stuck_now:
                return
            count, classes = self._suppressed, sorted(self._suppressed_fsms)
            self._suppressed, self._suppressed_fsms = 0, set()
        log.warning("handler_stuck_summary", count=count, classes=classes)

    def returned(self, fsm: runners.Watched, now: float) -> None:
        """Report that a reported call returned (exactly once, whoever notices first)."""
        with self._lock:
            since = fsm._stuck_since
            if since is None:
                return
            fsm._stuck_since = None
            self.stuck_now -= 1
        log.warning("handler_returned", actor=str(fsm), duration=round(now - since, 3))


watcher = StuckWatcher()
"""The process-wide watcher."""
