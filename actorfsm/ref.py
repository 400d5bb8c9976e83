"""The ``ActorRef`` of an FSM: pykka's ref, run on a dispatcher, light enough for a million.

It is a ``pykka.ActorRef`` (``tell``, ``ask``, ``proxy()``, ``stop()`` behave
as pykka documents them), with two differences that come from FSMs sharing
worker threads:

* A ``tell`` from inside an FSM to a stopped FSM is a *dead letter*: counted on
  the ref and logged once, never an exception in the sender's handler (as in
  Akka). From outside any FSM it raises ``ActorDeadError``, as pykka does.
* ``actor_stopped`` is a small flag with the ``threading.Event`` methods pykka
  and its users call; the event itself is made only when someone waits.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from pykka import ActorDeadError, ActorRef

from actorfsm import runners
from actorfsm.futures import Reply, StopReply
from actorfsm.pykka_seam import ActorStop, Envelope
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm")

_flag_lock = threading.Lock()
_STOP = ActorStop()  # a marker without fields: one serves every stop request


class StoppedFlag:
    """Whether an FSM stopped: ``is_set``, ``set`` and ``wait`` as a ``threading.Event``."""

    __slots__ = ("_event", "_set")

    def __init__(self) -> None:
        self._set = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        """Whether the FSM stopped."""
        return self._set

    def set(self) -> None:
        """Mark the FSM stopped and wake whoever waits."""
        self._set = True
        event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the FSM stopped (or ``timeout`` passes); return whether it did."""
        if self._set:
            return True
        with _flag_lock:
            if self._event is None:
                self._event = threading.Event()
        if self._set:  # set() may have run before the event existed
            return True
        return self._event.wait(timeout)


class FSMRef(ActorRef[Any]):
    """The ref ``FSM.start()`` returns (a ``pykka.ActorRef``)."""

    dead_letters = 0
    """Tells from FSMs that reached this FSM after it stopped."""

    def tell(self, message: object) -> None:
        """Send ``message``; see the module docstring for a stopped FSM."""
        if self.actor_stopped._set:  # type: ignore[attr-defined]
            self._dead_letter(message)
            return
        self.actor_inbox.put(Envelope(message))

    def ask(self, message: object, *, block: bool = True, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the reply (a future when ``block=False``)."""
        future = Reply()
        self._send(Envelope(message, reply_to=future))
        if block:
            return future.get(timeout=timeout)
        return future

    def stop(self, *, block: bool = True, timeout: float | None = None) -> Any:
        """Ask the FSM to stop after what is queued; ``True`` if it was running (as pykka).

        A blocking stop of an idle FSM without stop hooks is carried out on
        the calling thread (see ``Stopping._stop_here_if_idle``).
        """
        if block:
            fsm = self._actor_weakref()
            if fsm is not None and fsm._stop_here_if_idle():
                return True
        future = StopReply()
        self._send(Envelope(_STOP, reply_to=future))
        if block:
            return future.get(timeout=timeout)
        return future

    def _send(self, envelope: Envelope[object]) -> None:
        if self.actor_stopped._set:  # type: ignore[attr-defined]
            error = ActorDeadError(f"{self} not found")
            envelope.reply_to.set_exception((ActorDeadError, error, None))  # type: ignore[union-attr]
            return
        self.actor_inbox.put(envelope)

    def _dead_letter(self, message: object) -> None:
        if runners.current_runner() is None:
            msg = f"{self} not found"
            raise ActorDeadError(msg)
        self.dead_letters += 1
        if self.dead_letters == 1:
            _dead_letter_log.first(self, message)


class DeadLetterLog:
    """Logs the first dead letter of each stopped FSM, at most ``limit`` lines per ``window``.

    As Akka's ``log-dead-letters``: when a whole system shuts down, every
    FSM still telling its peers would otherwise log one line each. Past the
    limit, one ``dead_letters_suppressed`` line says so; logging resumes in
    the next window.
    """

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._lock = threading.Lock()
        self._window_start = -window
        self._logged = 0

    def first(self, recipient: FSMRef, message: object) -> None:
        """``recipient`` got its first dead letter: log it unless over the limit."""
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= self.window:
                self._window_start, self._logged = now, 0
            self._logged += 1
            logged = self._logged
        if logged <= self.limit:
            log.info("dead_letter", recipient=str(recipient), message=safe_repr(message))
        elif logged == self.limit + 1:
            log.info("dead_letters_suppressed", limit=self.limit, window=self.window)


_dead_letter_log = DeadLetterLog()
