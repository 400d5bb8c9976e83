"""The threads that run FSMs, and how to tell when none has anything left to run.

A *runner* is a pool worker or a dedicated thread: it knows its pool, the FSM
it is running now (the stuck-handler watcher reads that), its *next* slot,
and two counters. :func:`settle_all` adds those counters up to wait for
quiescence, which the virtual clock relies on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sized
from typing import Protocol


class Watched(Protocol):
    """What a runner's current FSM shows to the stuck-handler watcher and ``settle_all``.

    The engine writes these on its hot path (a stamp per event); readers on
    other threads only read them.
    """

    _busy_since: float | None
    _stuck_since: float | None
    _current_msg: object

    @property
    def _state(self) -> object:
        """The state the FSM is in (read only)."""

    @property
    def handler_warn_after(self) -> float | None:
        """Seconds after which a call is reported stuck (``None``: never)."""


class Owner(Watched, Protocol):
    """The FSM a mailbox belongs to, as the mailbox runs it."""

    def _run_slice(self, budget: int, waiting: Sized) -> None:
        """Handle queued messages; after each ``budget`` of them, stop if others are ``waiting``."""


class Pool(Protocol):
    """What a runner's thread tells its pool (:class:`actorfsm.dispatch.Dispatcher`)."""

    pinned: bool

    def begin_blocking(self, runner: Runner) -> None:
        """The thread is about to wait on a reply inside a handler."""

    def end_blocking(self, runner: Runner) -> None:
        """The wait is over."""


class Mailbox(Protocol):
    """What a pool runs: an FSM's mailbox (:class:`actorfsm.mailbox.Mailbox`)."""

    closed: bool

    def run(self, runner: Runner, budget: int, waiting: Sized) -> None:
        """Run the FSM on ``runner``'s thread until it is idle or others wait, then let it go."""


class Runner:
    """A thread running FSMs: a pool worker or a dedicated thread."""

    __slots__ = (
        "current",
        "dispatcher",
        "extra",
        "ident",
        "idled",
        "next",
        "scheduled",
        "streak",
        "wake",
    )

    def __init__(self, dispatcher: Pool, *, extra: bool = False) -> None:
        self.dispatcher = dispatcher
        self.extra = extra
        self.ident = threading.get_ident()
        self.current: Watched | None = None  # the FSM whose messages this thread handles now
        # The next slot holds at most one mailbox. A deque, because another
        # thread may take it (popleft is atomic): the pool, when this worker
        # blocks in a handler.
        self.next: deque[Mailbox] = deque()
        self.streak = 0
        self.wake = threading.Lock()  # released to wake this worker when it is parked
        self.wake.acquire()
        self.scheduled = 0  # mailboxes this thread scheduled (see settle_all)
        self.idled = 0  # mailboxes this thread let go idle

    def take_next(self) -> Mailbox | None:
        """Take the mailbox in the next slot, if any (safe from any thread)."""
        try:
            return self.next.popleft()
        except IndexError:
            return None


_tls = threading.local()


def current_runner() -> Runner | None:
    """The runner of this thread, ``None`` outside FSMs (the caller of an ``ask``, say)."""
    return getattr(_tls, "runner", None)


# ------------------------------------------------------------------ quiescence
#
# Every scheduling of a mailbox is counted once, and so is every time a worker
# lets an idle mailbox go. Workers count in their own Runner (no lock: only
# that thread writes it); other threads (the caller of a tell, the scheduler)
# count in the shared figures under a lock. All counters only grow, so reading
# every "went idle" counter first and every "scheduled" counter after is
# sound: equal sums mean nothing was left to run at the moment in between.

_count_lock = threading.Lock()
_shared_scheduled = 0
_shared_idled = 0


def note_scheduled_elsewhere() -> None:
    """A thread that is not a runner scheduled a mailbox."""
    global _shared_scheduled
    with _count_lock:
        _shared_scheduled += 1


def enter(runner: Runner) -> None:
    """Make ``runner`` this thread's runner and a live one."""
    _tls.runner = runner
    _runners.add(runner)


def retire(runner: Runner) -> None:
    """Fold an ending runner's counts into the shared ones (and forget the runner)."""
    global _shared_scheduled, _shared_idled
    with _count_lock:
        _shared_scheduled += runner.scheduled
        _shared_idled += runner.idled
        _runners.discard(runner)


def active() -> int:
    """How many mailboxes are scheduled or running now (a lower bound while things move)."""
    with _count_lock:
        live = list(_runners)
        idled = _shared_idled + sum(runner.idled for runner in live)
        return _shared_scheduled + sum(runner.scheduled for runner in live) - idled


def settle_all(timeout: float = 5.0) -> bool:
    """Wait until every mailbox is empty and no FSM is running; ``False`` on timeout.

    Messages FSMs send each other meanwhile are waited for too: the count only
    reaches zero when nothing is left to run anywhere. A handler that was
    already running when the wait began and has run for ``BLOCKED_FOR``
    seconds is taken as blocked, not waited for: when nothing else is left,
    the wait ends (a test holding a handler on a gate can still move time).
    """
    started = time.monotonic()
    deadline = started + timeout
    pause = 0.0001
    while True:
        pending = active()
        if not pending or _only_blocked_remain(started, pending):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.005)


BLOCKED_FOR = 0.05
"""Seconds in one handler after which :func:`settle_all` stops waiting for it."""


def _only_blocked_remain(started: float, pending: int) -> bool:
    """Whether every active mailbox is one whose handler blocks."""
    now = time.monotonic()
    blocked = 0
    for runner in list(_runners):
        fsm = runner.current
        if fsm is None:
            continue
        since = fsm._busy_since
        if since is None or since > started or now - since < BLOCKED_FOR:
            return False
        blocked += 1
    return blocked == pending


# ------------------------------------------------------------------- runners


_runners: set[Runner] = set()
"""Every runner now alive (the stuck-handler watcher scans them)."""


def runners() -> list[Runner]:
    """A snapshot of the live runners."""
    return list(_runners)
