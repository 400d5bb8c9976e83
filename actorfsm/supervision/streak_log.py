"""One report per failure streak: the first failure logged, the repeats counted, then a summary.

A worker whose dependency died can log the same "Broken pipe" tens of thousands of
times; one report per streak prevents that. A supervisor
logs the failures of each child through a :class:`StreakLog`: a *streak* is a
run of identical failures (same exception type and message); its first
failure is logged once at error level (``fsm_failed``, with the child's report
fields and traceback), the repeats are counted silently, and when the streak
ends (the child ran long enough, a different failure came, the supervisor gave
up or stopped) one ``failure_repeated`` line gives the count and the first and
last time (wall clock, ISO 8601, UTC).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import structlog

from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm.supervision")


class StreakLog:
    """The failure log of one child under one supervisor (used from the supervisor's thread)."""

    __slots__ = ("_count", "_first", "_key", "_last", "child", "supervisor")

    def __init__(self, supervisor: str, child: str) -> None:
        self.supervisor = supervisor
        self.child = child
        self._key: tuple[type, str] | None = None
        self._count = 0
        self._first = 0.0
        self._last = 0.0

    def failed(
        self, cause: object, fields: dict[str, object], directive: str, *, report: bool
    ) -> None:
        """Count a failure; log it if it starts a streak and ``report`` (else it was logged)."""
        key = streak_key(cause)
        now = time.time()
        if key == self._key:
            self._count += 1
            self._last = now
            return
        self.end()
        self._key, self._count, self._first, self._last = key, 1, now, now
        if not report:
            return
        extra: dict[str, Any] = {}
        if isinstance(cause, BaseException):
            extra["exc_info"] = (type(cause), cause, cause.__traceback__)
        log.error(
            "fsm_failed",
            supervisor=self.supervisor,
            child=self.child,
            directive=directive,
            **fields,
            **extra,
        )

    def end(self) -> None:
        """End the streak: summarise it if the failure repeated."""
        key, self._key = self._key, None
        if key is not None and self._count > 1:
            error_type, message = key
            log.error(
                "failure_repeated",
                supervisor=self.supervisor,
                child=self.child,
                failure=f"{error_type.__qualname__}: {message}",
                count=self._count,
                first=_wall(self._first),
                last=_wall(self._last),
            )


def streak_key(cause: object) -> tuple[type, str]:
    """What makes two failures identical: the exception type and its message."""
    text = None
    if isinstance(cause, BaseException):
        try:
            text = str(cause)
        except Exception:  # a broken __str__ must not break the supervisor
            text = None
    return (type(cause), safe_repr(cause) if text is None else text)


def _wall(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
