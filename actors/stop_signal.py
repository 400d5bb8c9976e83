"""Wait in the main thread for Ctrl-C / SIGTERM, or for a stop request from any thread.

A program's main thread blocked in ``threading.Event.wait()`` is woken by a
signal only if the kernel delivers the signal to the main thread; with a dozen
actor threads it often picks another one, and then the Python handler never
runs and the program ignores SIGTERM until something else wakes it. Here the
signal's C-level handler writes to a pipe (``signal.set_wakeup_fd``) whichever
thread receives it, and the main thread blocks in ``select`` on that pipe, so
every signal wakes it. :meth:`StopSignal.set` writes to the same pipe.

Before that, while a program is still importing its modules (half a second
and more) and setting up, :func:`exit_on_stop_signals` makes Ctrl-C or
SIGTERM end it at once with exit code 0: nothing is open yet that a clean
stop would have to close, and without a handler the default action kills it
(exit 143, no log line). It ends the process with ``os._exit`` rather than by
raising ``SystemExit``: a signal that lands while the import machinery runs a
weakref callback (or any ``__del__``) would have its exception printed as
"Exception ignored" and dropped, and the program would then run on, deaf to
the TERM it was sent. A :class:`StopSignal` takes over from it and gives it
back when closed. This module imports only the standard library, so an entry
point can install it before the heavy imports.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Self

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # closed or reentrant: nothing to save then
            stream.flush()
    os._exit(0)


def exit_on_stop_signals(signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
    """Make a stop signal end the program with exit code 0 until a :class:`StopSignal`
    takes over (call it first thing in the main thread)."""
    for number in signals:
        signal.signal(number, _exit_cleanly)


class StopSignal:
    """A stop request raised by a signal or by :meth:`set`; install from the main thread."""

    def __init__(self, signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self.received: signal.Signals | None = None
        """The signal that asked to stop, or ``None`` (not yet, or :meth:`set`)."""
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._previous = {number: signal.signal(number, self._on_signal) for number in signals}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum)

    def set(self) -> None:
        """Ask the waiting thread to stop (from any thread; never blocks)."""
        with contextlib.suppress(BlockingIOError):  # full of earlier requests: wakes anyway
            os.write(self._write, b"\0")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until a stop is requested; ``False`` if ``timeout`` seconds pass first."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        return bool(ready)

    def close(self) -> None:
        """Restore the previous handlers and wake-up fd; close the pipe."""
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        os.close(self._read)
        os.close(self._write)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
