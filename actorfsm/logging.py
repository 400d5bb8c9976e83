"""Logging set-up for programs: the library itself never configures structlog globally.

Programs (and the examples) call :func:`configure` once at start-up: a console
renderer when stderr is a terminal, JSON lines otherwise.
"""

from __future__ import annotations

import logging as stdlib_logging
import sys
from typing import Literal

import structlog

Format = Literal["console", "json"]


def configure(format: Format | None = None, level: int | str = "info") -> None:
    """Configure structlog for a program.

    ``format`` defaults to the console renderer on a TTY and JSON lines otherwise.
    """
    if isinstance(level, str):
        numeric = stdlib_logging.getLevelName(level.upper())
        if not isinstance(numeric, int):
            msg = f"unknown log level {level!r}"
            raise ValueError(msg)
        level = numeric
    if format is None:
        format = "console" if sys.stderr.isatty() else "json"
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.StackInfoRenderer(),
    ]
    if format == "console":
        processors.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    elif format == "json":
        # Tracebacks as data, without each frame's local variables (noisy, and
        # they may hold secrets).
        no_locals = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        processors += [
            structlog.processors.ExceptionRenderer(no_locals),
            structlog.processors.JSONRenderer(),
        ]
    else:
        msg = f"unknown log format {format!r}; use 'console' or 'json'"
        raise ValueError(msg)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
