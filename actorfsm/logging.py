"""Logging set-up for programs, and the library's defaults for a program that has none.

Programs (and the examples) call :func:`configure` once at start-up: a console
renderer when stderr is a terminal, JSON lines otherwise. A program that
never configures structlog still gets failure reports on stderr, not mixed
into its stdout: importing :mod:`actorfsm` calls :func:`default_to_stderr`,
which leaves any configuration the program made alone.
"""

from __future__ import annotations

import logging as stdlib_logging
import sys
from collections.abc import Callable, MutableMapping
from typing import Any, Literal, TextIO

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
        console = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        processors.append(LogLinesRenderer(console))
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
        logger_factory=stderr_logger,
        cache_logger_on_first_use=False,
    )


class LogLinesRenderer:
    """structlog's console renderer, with a failure report's rolling ``log`` one entry a line.

    The entries follow the event's line (before its traceback), indented,
    oldest first, instead of one long Python list on the event's line.
    """

    def __init__(self, renderer: Callable[..., str]) -> None:
        self.renderer = renderer

    def __call__(self, logger: object, method: str, event_dict: MutableMapping[str, Any]) -> str:
        entries = event_dict.get("log")
        if not isinstance(entries, list | tuple) or not entries:
            return self.renderer(logger, method, event_dict)
        del event_dict["log"]
        line, newline, rest = self.renderer(logger, method, event_dict).partition("\n")
        block = "".join(f"\n    log: {entry}" for entry in entries)
        return f"{line}{block}{newline}{rest}"


def stderr_logger(*args: object) -> structlog.PrintLogger:
    """A logger writing to the current ``sys.stderr`` (looked up at each log call)."""
    stream: TextIO = sys.stderr
    return structlog.PrintLogger(stream)


def default_to_stderr() -> None:
    """If the program has not configured structlog, log to stderr with the console renderer.

    structlog's own default prints to stdout, where a program's output goes;
    a failure report belongs on stderr. The rolling log is shown one entry a
    line. Any later ``structlog.configure`` or :func:`configure` replaces this.
    """
    if structlog.is_configured():
        return
    processors = list(structlog.get_config()["processors"])
    processors[-1] = LogLinesRenderer(processors[-1])  # structlog's ConsoleRenderer
    structlog.configure(processors=processors, logger_factory=stderr_logger)
