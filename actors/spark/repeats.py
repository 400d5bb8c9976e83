"""Repeats of one warning, summarised by time window: log it once, then one count per window.

A flood from the controller (bad lines, over-long lines, the same event a
million times) must not become a flood of log lines, and a streak that any
good answer ends is not enough: a garbage line every 50 ms between answered
commands would still log twenty lines a second. A :class:`Repeats` counts
the occurrences of one kind of trouble. The first of an *episode* is logged
in full by the caller (:meth:`Repeats.occurred` says when); the rest are only
counted, and each time a window of :data:`WINDOW` seconds closes with
occurrences in it, one summary line (``<event>_repeated``) gives their
count. A window closed without any ends the episode: the next occurrence is
logged in full again. The owner closes windows, from a timer
(:meth:`Repeats.close_window`) or by the clock (:meth:`Repeats.tick`), and
:meth:`Repeats.end` summarises what is left when the link goes or the owner
stops. Not thread-safe: one thread or actor owns each.
"""

from __future__ import annotations

from typing import Any

import structlog

WINDOW = 10.0
"""Seconds per summary: at most one ``<event>_repeated`` line per window and kind."""


class Repeats:
    """Counts one kind of warning and logs ``event`` (a summary) once per closed window.

    ``fields`` go into every summary line; ``measure``, if given, names a
    summary field that adds up the ``amount`` of each occurrence (bytes
    dropped, say). A summary's ``count`` includes the occurrence that was
    logged in full, if it fell in that window.
    """

    def __init__(
        self, event: str, *, measure: str | None = None, logger: Any = None, **fields: Any
    ) -> None:
        self.event = event
        self.measure = measure
        self.fields = fields
        self._log = logger if logger is not None else structlog.get_logger("actors.spark")
        self._opened: float | None = None
        self._count = 0
        self._amount = 0
        self._fresh = False  # the window holds only the occurrence logged in full so far

    @property
    def open(self) -> bool:
        """Whether an episode is under way (repeats are being counted)."""
        return self._opened is not None

    def occurred(self, now: float, amount: int = 0) -> bool:
        """Count one occurrence at ``now``; ``True`` if it opens an episode (log it in full)."""
        self.tick(now)
        self._count += 1
        self._amount += amount
        if self._opened is None:
            self._opened = now
            self._fresh = True
            return True
        self._fresh = False
        return False

    def tick(self, now: float) -> bool:
        """Close the window if :data:`WINDOW` seconds passed since it opened; whether still open."""
        if self._opened is not None and now - self._opened >= WINDOW:
            return self.close_window(now)
        return self._opened is not None

    def close_window(self, now: float) -> bool:
        """Summarise the window's repeats and open the next; ``False`` (episode over) if none."""
        if self._opened is None:
            return False
        if self._fresh or self._count == 0:
            self._reset()
            return False
        self._summarise()
        self._opened = now
        return True

    def end(self) -> None:
        """End the episode: summarise what was counted since the last line."""
        if self._opened is not None and not self._fresh and self._count:
            self._summarise()
        self._reset()

    def _summarise(self) -> None:
        extra = {self.measure: self._amount} if self.measure is not None else {}
        self._log.warning(self.event, count=self._count, **extra, **self.fields)
        self._count = 0
        self._amount = 0

    def _reset(self) -> None:
        self._opened = None
        self._count = 0
        self._amount = 0
        self._fresh = False
