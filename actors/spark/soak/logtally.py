"""Counting what the connector logs during a soak: error lines per failure streak, warnings.

A :class:`LogTally` installs itself as structlog's processor chain for the
duration of a ``with`` block (and restores the previous configuration after):
it counts every warning- and error-level event by name and keeps the first few
of each warning whole; the running count of error lines lets the soak
attribute them to the fault episode they happened in (:meth:`mark`). It keeps
counts, never the lines, so its memory does not grow with the run. It echoes
the error lines to stderr, where an operator would see them. Info and debug
events are filtered out before any processor runs, so they cost the soak
nothing.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
from types import TracebackType
from typing import Any, Self, TextIO

import structlog
from structlog.typing import EventDict, WrappedLogger

ERROR_LEVELS = frozenset({"error", "critical", "exception"})

SAMPLES = 3
"""How many occurrences of each warning event are kept whole, to show what happened."""


class LogTally:
    """Counts warning- and error-level structlog events while installed (thread-safe)."""

    def __init__(self, echo: TextIO | None = sys.stderr) -> None:
        self.echo = echo
        self._lock = threading.Lock()
        self.warnings: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, list[str]] = {}
        self.errors: collections.Counter[str] = collections.Counter()
        self.error_lines = 0
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> Self:
        config = structlog.get_config()
        self._saved = {**config, "processors": list(config["processors"])}
        processors = config["processors"]  # edited in place, as structlog.testing does
        processors[:] = [
            structlog.processors.add_log_level,
            self.count,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ]
        structlog.configure(
            processors=processors,
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(file=self.echo or sys.stderr),
            cache_logger_on_first_use=False,
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        saved = dict(self._saved)
        processors = structlog.get_config()["processors"]
        processors[:] = saved.pop("processors")
        structlog.configure(processors=processors, **saved)

    def count(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        """The processor: count the event; pass error lines on to the renderer if echoing."""
        name = str(event.get("event"))
        if method not in ERROR_LEVELS:
            with self._lock:
                self.warnings[name] += 1
                samples = self.samples.setdefault(name, [])
                if len(samples) < SAMPLES:
                    samples.append(" ".join(f"{k}={v}" for k, v in event.items()))
            raise structlog.DropEvent
        with self._lock:
            self.errors[name] += 1
            self.error_lines += 1
        if self.echo is None:
            raise structlog.DropEvent
        return event

    def mark(self) -> int:
        """The error lines counted so far: the difference of two marks is a streak's lines."""
        with self._lock:
            return self.error_lines
