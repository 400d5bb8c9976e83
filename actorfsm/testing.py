"""The test kit: probes that record what actors send them, and a virtual clock.

``Probe`` is Akka's ``TestProbe``: an actor whose messages a test awaits with
timeouts (``expect_msg``, ``expect_no_msg``), so tests never sleep and hope.
``VirtualClock`` replaces the wall clock for every timer, state timeout and
backoff delay while installed; ``advance`` fires what comes due, in order.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import pykka

from actorfsm import death_watch
from actorfsm.death_watch import Terminated
from actorfsm.pykka_seam import Envelope
from actorfsm.recipient import Ref
from actorfsm.scheduler import Scheduler, Settle, VirtualScheduler, install

T = TypeVar("T")

DEFAULT_TIMEOUT = 3.0
"""How long ``expect_*`` waits by default, in seconds."""


class _Recorder(pykka.ThreadingActor):
    """The probe's actor: records every message it receives, answers asks with ``None``."""

    use_daemon_thread = True

    def __init__(self, inbox: queue.Queue[object]) -> None:
        super().__init__()
        self._inbox = inbox
        self.ignoring: Callable[[object], bool] | None = None

    def on_receive(self, message: object) -> None:
        if self.ignoring is None or not self.ignoring(message):
            self._inbox.put(message)


class Probe:
    """A recording actor for tests: send to ``probe.ref``, then ``expect_*`` what arrived."""

    def __init__(self) -> None:
        self._inbox: queue.Queue[object] = queue.Queue()
        self.ref: pykka.ActorRef[Any] = _Recorder.start(self._inbox)

    def receive(self, timeout: float = DEFAULT_TIMEOUT) -> object:
        """Return the next message, or fail if none arrives within ``timeout`` seconds."""
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            msg = f"Probe: no message within {timeout} s"
            raise AssertionError(msg) from None

    def expect_msg(self, msg: T, timeout: float = DEFAULT_TIMEOUT) -> T:
        """Return the next message; fail if it is not equal to ``msg`` or does not come."""
        try:
            received = self._inbox.get(timeout=timeout)
        except queue.Empty:
            text = f"Probe: expected {msg!r} within {timeout} s, got nothing"
            raise AssertionError(text) from None
        if received != msg:
            text = f"Probe: expected {msg!r}, got {received!r}"
            raise AssertionError(text)
        return received

    def expect_msg_type(self, cls: type[T], timeout: float = DEFAULT_TIMEOUT) -> T:
        """Return the next message; fail if it is not an instance of ``cls`` or does not come."""
        try:
            received = self._inbox.get(timeout=timeout)
        except queue.Empty:
            text = f"Probe: expected a {cls.__name__} within {timeout} s, got nothing"
            raise AssertionError(text) from None
        if not isinstance(received, cls):
            text = f"Probe: expected a {cls.__name__}, got {received!r}"
            raise AssertionError(text)
        return received

    def expect_no_msg(self, duration: float = 0.3) -> None:
        """Fail if any message arrives within ``duration`` seconds."""
        try:
            received = self._inbox.get(timeout=duration)
        except queue.Empty:
            return
        text = f"Probe: expected no message for {duration} s, got {received!r}"
        raise AssertionError(text)

    def ignore_msg(self, predicate: Callable[[object], bool] | None) -> None:
        """Drop, from now on, every message for which ``predicate`` is true (Akka's ``ignoreMsg``).

        For the chatter a test does not care about, such as an actor's
        subscription request to the probe standing in for its publisher.
        ``None`` stops ignoring. Messages already received stay queued.
        """
        self.ref.proxy().ignoring = predicate

    def watch(self, ref: Ref) -> None:
        """Have ``ref`` send this probe ``Terminated`` when it stops (death watch)."""
        death_watch.watch(self.ref, ref)

    def expect_terminated(self, ref: Ref, timeout: float = DEFAULT_TIMEOUT) -> Terminated:
        """Return the next message; fail unless it is ``Terminated`` for ``ref``."""
        received = self.expect_msg_type(Terminated, timeout)
        if received.ref is not ref:
            text = f"Probe: expected Terminated for {ref}, got {received!r}"
            raise AssertionError(text)
        return received

    def stop(self) -> None:
        """Stop the probe's actor."""
        self.ref.stop(block=False)


class VirtualClock:
    """Time that a test moves by hand, driving every timer while installed.

    Use as ``with VirtualClock() as clock:`` or through the ``virtual_clock``
    fixture. ``advance(seconds)`` fires, in due order, everything that comes
    due; after each due time it waits until the FSMs that were sent a timer
    message have handled it, so a timer those handlers arm within the window
    fires in the same call. Without a virtual clock, real monotonic time is used.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._scheduler = VirtualScheduler(start)
        self._previous: Scheduler | None = None
        self._installed = False

    def install(self) -> None:
        """Make this clock drive all timers from now on."""
        if not self._installed:
            self._previous = install(self._scheduler)
            self._installed = True

    def uninstall(self) -> None:
        """Give timers back to the clock that was in force before."""
        if self._installed:
            install(self._previous)
            self._installed = False

    def __enter__(self) -> VirtualClock:
        self.install()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def now(self) -> float:
        """The virtual time, in seconds."""
        return self._scheduler.now()

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds``; return how many timer messages were delivered."""
        return self._scheduler.advance(seconds)

    def pending(self) -> int:
        """How many timer entries wait in this clock's heap."""
        return self._scheduler.pending()


def settle(ref: pykka.ActorRef[Any], timeout: float = DEFAULT_TIMEOUT) -> None:
    """Wait until the FSM ``ref`` has handled everything sent to it before this call.

    Unlike an ``ask``, this sends the FSM no event: it does not cancel a state
    timeout, enter the rolling log or reach a handler.
    """
    marker = Settle()
    ref.actor_inbox.put(Envelope(marker))
    try:
        marker.future.result(timeout=timeout)
    except TimeoutError:
        msg = f"{ref} did not settle within {timeout} s"
        raise AssertionError(msg) from None


@dataclass(frozen=True, slots=True)
class LeftRunning:
    """The actors :func:`stop_actors_started_since` found running (as ``str(ref)``)."""

    stopped: tuple[str, ...]
    """Those it stopped."""
    still_running: tuple[str, ...]
    """Those that had not stopped when the timeout ran out (stuck in a handler, say)."""

    def __bool__(self) -> bool:
        return bool(self.stopped or self.still_running)


def stop_actors_started_since(before: set[str], timeout: float = 5.0) -> LeftRunning:
    """Stop every registered actor whose urn is not in ``before`` (newest first).

    Waits at most ``timeout`` seconds in all, and returns which actors were
    found running, and which of them were still running when it gave up.
    """
    started = [ref for ref in pykka.ActorRegistry.get_all() if ref.actor_urn not in before]
    futures = [(ref, ref.stop(block=False)) for ref in reversed(started)]
    deadline = time.monotonic() + timeout
    stopped, still_running = [], []
    for ref, future in futures:
        try:
            was_running = future.get(timeout=max(0.0, deadline - time.monotonic()))
        except pykka.Timeout:
            still_running.append(str(ref))
            continue
        if was_running:  # False: it had stopped by itself meanwhile
            stopped.append(str(ref))
    return LeftRunning(tuple(stopped), tuple(still_running))
