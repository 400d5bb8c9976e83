"""The futures ``ask`` and ``stop`` return: pykka futures that are cheap and pool-aware.

pykka's ``ThreadingFuture`` builds a ``threading.Condition`` for every ask,
a dozen objects the garbage collector then tracks; stopping a million FSMs
made two each. :class:`Reply` is a ``pykka.ThreadingFuture`` whose condition
is made only when a caller actually waits (most replies are set before
anyone asks for them, or waited on once).

Waiting on a pool worker is *managed blocking*: a handler that waits for a
reply would otherwise hold its worker while the FSM it waits for might need
that very worker, so the pool is told (see ``Dispatcher.begin_blocking``).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import Any

import pykka
from pykka import ActorDeadError

from actorfsm import runners

_lock = threading.Lock()
"""Guards setting a result and making a condition (short, uncontended sections)."""

_OK = 0
_FAILED = 1


class Reply(pykka.ThreadingFuture[Any]):
    """A one-shot reply: ``get`` waits for ``set`` or ``set_exception`` (pykka's contract)."""

    def __init__(self) -> None:  # pykka's __init__ would build the condition at once
        pykka.Future.__init__(self)
        self._outcome: tuple[int, Any] | None = None
        self._waiters: threading.Condition | None = None

    def get(self, *, timeout: float | None = None) -> Any:
        """The value, or raise the exception; ``pykka.Timeout`` after ``timeout`` seconds."""
        if self._get_hook is not None:
            return pykka.Future.get(self, timeout=timeout)
        outcome = self._outcome
        if outcome is None:
            outcome = self._wait(timeout)
        kind, value = outcome
        if kind == _OK:
            return value
        exc_type, exc_value, exc_traceback = value
        if exc_value is None:
            exc_value = exc_type()
        if exc_value.__traceback__ is not exc_traceback:
            raise exc_value.with_traceback(exc_traceback)
        raise exc_value

    def _wait(self, timeout: float | None) -> tuple[int, Any]:
        runner = runners.current_runner()
        if runner is not None:
            runner.dispatcher.begin_blocking(runner)
        try:
            waiters = self._condition_made()
            deadline = None if timeout is None else time.monotonic() + timeout
            with waiters:
                while self._outcome is None:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        msg = f"{timeout} seconds"
                        raise pykka.Timeout(msg)
                    waiters.wait(remaining)
                    if self._get_hook is not None:
                        return _OK, pykka.Future.get(self, timeout=remaining)
                return self._outcome
        finally:
            if runner is not None:
                runner.dispatcher.end_blocking(runner)

    def _condition_made(self) -> threading.Condition:
        waiters = self._waiters
        if waiters is None:
            with _lock:
                waiters = self._waiters
                if waiters is None:
                    waiters = self._waiters = threading.Condition(threading.Lock())
        return waiters

    def set(self, value: Any | None = None) -> None:
        """Complete with ``value``; ``queue.Full`` if already completed (as pykka)."""
        self._complete((_OK, value))

    def set_exception(self, exc_info: Any = None) -> None:
        """Complete with an exception (``sys.exc_info()`` by default)."""
        self._complete((_FAILED, sys.exc_info() if exc_info is None else exc_info))

    def set_get_hook(self, func: Any) -> None:
        """Compute the value with ``func(timeout)`` when ``get`` is called (pykka's contract)."""
        with _lock:
            if self._outcome is not None:
                raise queue.Full
            self._get_hook = func
        self._wake()

    def _complete(self, outcome: tuple[int, Any]) -> None:
        with _lock:
            if self._outcome is not None or self._get_hook is not None:
                raise queue.Full
            self._outcome = outcome
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters is not None:
            with waiters:
                waiters.notify_all()


class StopReply(Reply):
    """What ``ref.stop(block=False)`` returns: ``True`` once stopped, ``False`` if already dead."""

    def set(self, value: Any | None = None) -> None:
        """The FSM stopped (or was stopping) when asked."""
        super().set(True)

    def set_exception(self, exc_info: Any = None) -> None:
        """``ActorDeadError`` means it was dead already; anything else is raised by ``get``."""
        info = sys.exc_info() if exc_info is None else exc_info
        if isinstance(info[1], ActorDeadError) or info[0] is ActorDeadError:
            super().set(False)
        else:
            super().set_exception(info)
