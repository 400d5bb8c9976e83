"""One process-wide timer scheduler: a heap served by a single daemon thread.

Every FSM's named timers and state timeouts live in the same heap; when an
entry comes due, the scheduler thread posts a message to the owning FSM's
mailbox and the FSM decides (by generation) whether it is still wanted. There
is never a thread per timer: 100,000 armed timers cost one thread and one heap
entry each.

Cancelling is lazy: a cancelled timer's entry stays in the heap and is
dropped when it comes due. So that a busy actor cancelling most of its timers
(a command timeout per request, say) cannot pile up dead entries for a whole
timeout's worth of traffic, the heap is compacted in one pass when more than
half of it (and at least ``COMPACT_MIN`` entries) is known to be cancelled, as
asyncio does with its timer handles.

State timeouts are re-armed on almost every event, so they avoid the heap when
they can: a :class:`StateTimer` keeps its current deadline and at most one live
heap entry. Moving the deadline later costs two attribute writes; when the live
entry comes due early, the scheduler sees the later deadline and re-queues it.

Tests replace the wall clock with :class:`VirtualScheduler` (see
``actorfsm.testing.VirtualClock``), which has no thread and fires entries only
when the test advances time.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ClassVar, Protocol

import structlog

from actorfsm import metric_hooks as _metrics
from actorfsm import runners
from actorfsm.pykka_seam import Envelope

log = structlog.get_logger("actorfsm.scheduler")


Delivery = tuple[Any, Any]
"""A mailbox and the envelope to post to it."""


class Target(Protocol):
    """What a heap entry points at: it is told when its due time comes."""

    def fire(self, scheduler: Scheduler, token: int, now: float) -> Delivery | None:
        """Decide what to deliver (``None``: nothing, the entry is stale); may reschedule."""

    def is_stale(self, token: int) -> bool:
        """Whether the entry ``token`` can be dropped without firing it."""


BURST = 1024
"""A due-set size the tests use as a large burst (slots make any burst one pop)."""

COMPACT_MIN = 1024
"""Cancelled entries below which the heap is never compacted (a pass is not worth it)."""

Entry = tuple[float, int, Target]


class Scheduler:
    """Due entries in time slots, a heap of the slots, and the one daemon thread serving them.

    Entries due within the same ``resolution`` (1 ms) share a slot, fired
    together when the slot's end comes: a wave of 1,000 timers due at once is
    one heap pop and one sort, not 1,000 sift-downs of a heap of 100,000. A
    timer is never early, and late by at most the resolution (Akka's scheduler
    ticks every 10 ms).
    """

    resolution: ClassVar[float] = 0.001

    def __init__(self) -> None:
        self._heap: list[float] = []  # slot ends, each once
        self._slots: dict[float, list[Entry]] = {}
        self._size = 0
        self._cond = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._delivered = 0
        self._cancelled = 0

    now: Callable[[], float] = staticmethod(time.monotonic)

    def new_token(self) -> int:
        """Reserve the token of an entry before it is queued."""
        return next(self._seq)

    def _slot_of(self, due: float) -> float:
        resolution = self.resolution
        return math.ceil(due / resolution) * resolution if resolution else due

    def schedule(self, due: float, target: Target, token: int | None = None) -> int:
        """Queue ``target`` to fire at ``due``; return the entry's token."""
        if token is None:
            token = next(self._seq)
        slot = self._slot_of(due)
        with self._cond:
            entries = self._slots.get(slot)
            if entries is None:
                self._slots[slot] = [(due, token, target)]
                heapq.heappush(self._heap, slot)
                earliest = self._heap[0] == slot
            else:
                entries.append((due, token, target))
                earliest = False
            self._size += 1
            if self._cancelled > COMPACT_MIN and 2 * self._cancelled > self._size:
                self._compact()
            if earliest:
                self._wake()
        return token

    def note_cancelled(self) -> None:
        """An entry became stale before its time (counted: the count only triggers compaction)."""
        self._cancelled += 1

    def _compact(self) -> None:
        """Drop every stale entry in one pass (lock held)."""
        kept: dict[float, list[Entry]] = {}
        for slot, entries in self._slots.items():
            live = [entry for entry in entries if not entry[2].is_stale(entry[1])]
            if live:
                kept[slot] = live
        self._slots = kept
        self._heap[:] = list(kept)
        heapq.heapify(self._heap)
        self._size = sum(len(entries) for entries in kept.values())
        self._cancelled = 0

    def pending(self) -> int:
        """How many entries are queued (live or stale)."""
        return self._size

    def _wake(self) -> None:
        """Called with the lock held when the earliest entry changed."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="actorfsm-scheduler", daemon=True
            )
            self._thread.start()
        self._cond.notify()

    def _take_due(self, now: float) -> list[Entry]:
        """Remove and return every entry of the slots ended by ``now``, in due order (lock held)."""
        heap = self._heap
        slots = self._slots
        due: list[Entry] = []
        while heap and heap[0] <= now:
            due += slots.pop(heapq.heappop(heap))
        self._size -= len(due)
        due.sort()  # (due, token): tokens are unique, targets never compared
        return due

    def _run(self) -> None:
        cond = self._cond
        heap = self._heap
        while True:
            with cond:
                now = time.monotonic()
                entries = self._take_due(now)
                if not entries:
                    cond.wait(heap[0] - now if heap else None)
                    continue
            self._deliver(entries, now)

    def _deliver(self, entries: list[Entry], now: float) -> list[Any]:
        """Fire ``entries`` and post their messages, one batch per mailbox.

        Batching matters for bursts: 100,000 timers due at once on 1,000 FSMs
        wake each FSM thread once instead of once per message. Returns the
        mailboxes posted to.
        """
        batches: dict[Any, list[Envelope[object]]] = {}
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.timers_fired(entries, now)
        for _due, token, target in entries:
            try:
                delivery = target.fire(self, token, now)
            except Exception:
                log.exception("timer_fire_failed", target=repr(target))
                continue
            if delivery is not None:
                batches.setdefault(delivery[0], []).append(delivery[1])
        for mailbox, batch in batches.items():
            self._delivered += len(batch)
            mailbox.put_many(batch)
        return list(batches)


class VirtualScheduler(Scheduler):
    """A scheduler whose time moves only when a test calls :meth:`advance` (exact slots)."""

    resolution: ClassVar[float] = 0.0

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = start
        self.now = self._virtual_now

    def _virtual_now(self) -> float:
        return self._now

    def _wake(self) -> None:
        """No thread: entries fire only from :meth:`advance`."""

    def advance(self, seconds: float, settle_timeout: float = 5.0) -> int:
        """Move time forward, firing everything that comes due, in due order.

        After each due time's entries are posted, and before it returns, it
        waits (up to ``settle_timeout``) until every mailbox is empty and no FSM
        is running, so what FSMs send each other, and a timer armed by such a
        handler within the window, happen in the same call. Returns the number
        of entries that delivered a message.
        """
        if seconds < 0:
            msg = f"cannot move time backwards ({seconds})"
            raise ValueError(msg)
        target_time = self._now + seconds
        fired = 0
        while True:
            with self._cond:
                if not self._heap or self._heap[0] > target_time:
                    break
                due_at = self._heap[0]
                self._now = max(self._now, due_at)
                entries = self._take_due(due_at)
            before = self._delivered
            self._deliver(entries, due_at)
            fired += self._delivered - before
            _settle(settle_timeout)
        self._now = target_time
        _settle(settle_timeout)
        return fired


class Settle:
    """An internal message: answered by an FSM when everything before it is handled."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: Future[None] = Future()


def _settle(timeout: float) -> None:
    """Wait until no FSM has anything left to run (see :func:`actorfsm.runners.settle_all`)."""
    if not runners.settle_all(timeout):
        log.warning("virtual_clock_settle_timeout", timeout=timeout)


_real: Scheduler | None = None
_current: Scheduler | None = None
_install_lock = threading.Lock()


def current() -> Scheduler:
    """The scheduler in force: the installed virtual one, else the real one."""
    scheduler = _current
    if scheduler is None:
        return _real_scheduler()
    return scheduler


def _real_scheduler() -> Scheduler:
    global _real, _current
    with _install_lock:
        if _real is None:
            _real = Scheduler()
        if _current is None:
            _current = _real
        return _current


def install(scheduler: Scheduler | None) -> Scheduler | None:
    """Make ``scheduler`` current (``None``: back to the real one); return the previous."""
    global _current
    with _install_lock:
        previous = _current
        _current = scheduler
    return previous
