"""Dispatchers: where FSMs run. Many FSMs share a few worker threads (Akka's dispatchers).

An FSM is not a thread. Its mailbox (:mod:`actorfsm.mailbox`) holds a
*token*; whoever puts a message into an idle mailbox takes the token and
schedules the mailbox on its dispatcher's run queue. A worker takes a mailbox
from the queue, runs up to ``throughput`` of its messages, and gives the
token back; if messages arrived meanwhile it takes the token again and queues
the mailbox behind the others. Only the token holder runs the FSM, so an FSM
never runs on two threads at once, and one deque per FSM keeps each sender's
messages in the order sent.

Three kinds, chosen by the FSM class attribute ``dispatcher``:

* ``"default"``: the shared pool every FSM runs on unless told otherwise;
* any other name: a named pool of its own (isolation), configured with
  :func:`configure_dispatcher`;
* :data:`PINNED`: a dedicated thread for the FSM (Akka's ``PinnedDispatcher``),
  for one that must block.

``ACTORFSM_DISPATCHER=pinned`` in the environment puts every FSM on a
dedicated thread (the suite runs green both ways).

Blocking: the stuck-handler watcher (:mod:`actorfsm.stuck`) tells the pool when
one of its workers has been inside one handler too long; the pool then starts
a replacement worker (at most ``max_blocked`` of them), which retires once it
has been idle for a while, as Java's ForkJoinPool does for managed blocking.

Locality: a message an FSM sends from a worker to an idle FSM of the same
pool goes to that worker's *next* slot instead of the shared queue, so the
receiver runs right after the sender on the same thread, without waking
another (Go's ``runnext``). A worker takes its next slot at most
``throughput`` times in a row before it serves the shared queue again.

Quiescence: every scheduled or running mailbox is counted; :func:`settle_all`
waits until the count is zero, which the virtual clock uses so FSMs that
message each other inside an ``advance`` window all finish.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from actorfsm import runners

log = structlog.get_logger("actorfsm.dispatch")

DEFAULT = "default"
"""The name of the shared pool."""

PINNED = "pinned"
"""The ``dispatcher`` value that gives an FSM a dedicated thread."""

FORCE_ENV = "ACTORFSM_DISPATCHER"
"""Environment variable: ``pinned`` forces every FSM onto a dedicated thread."""

RETIRE_AFTER = 1.0
"""Seconds a replacement worker stays idle before it retires."""


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    """How a pool runs: its workers, messages per turn, and replacement workers for blocking."""

    workers: int
    throughput: int = 5
    max_blocked: int = 8


def default_workers() -> int:
    """The default pool size: one worker per core, at least 2 and at most 8."""
    return max(2, min(8, os.cpu_count() or 2))


class Dispatcher:
    """A pool of worker threads with one run queue of mailboxes."""

    def __init__(self, name: str, config: DispatcherConfig, *, pinned: bool = False) -> None:
        self.name = name
        self.config = config
        self.pinned = pinned
        self.throughput = config.throughput
        self._runq: deque[runners.Mailbox] = deque()
        # Idle workers park on a lock of their own; the last to park is woken
        # first (it is warm), so a trickle of work keeps one worker busy rather
        # than waking them all in turn (two idle workers on one queue doubled
        # an ask's round trip).
        self._parked: list[runners.Runner] = []
        self._lock = threading.Lock()
        self._workers = 0
        self._extras = 0
        self._blocked: set[runners.Runner] = set()
        self._waiting = 0  # workers waiting on a future (managed blocking)
        self._started = False
        self._closing = False

    def __repr__(self) -> str:
        return f"<Dispatcher {self.name!r} workers={self._workers}>"

    def workers(self) -> int:
        """How many worker threads run now (replacements included)."""
        return self._workers

    def busy(self) -> int:
        """How many of this pool's workers are handling a message now."""
        return sum(1 for r in runners.runners() if r.dispatcher is self and r.current is not None)

    def schedule(self, mailbox: runners.Mailbox) -> None:
        """Queue ``mailbox`` to run (its token is held by the caller)."""
        runner = runners.current_runner()
        if runner is None:
            runners.note_scheduled_elsewhere()
        else:
            runner.scheduled += 1
        if runner is not None and runner.dispatcher is self and not self.pinned:
            slot = runner.next
            slot.append(mailbox)
            if len(slot) > 1:
                previous = runner.take_next()
                if previous is not None:
                    self._push(previous)
            return
        if not self._started:
            self._start()
        self._push(mailbox)

    def requeue(self, mailbox: runners.Mailbox) -> None:
        """Queue a mailbox that is still counted as active (behind the others: fairness)."""
        self._push(mailbox)

    def _push(self, mailbox: runners.Mailbox) -> None:
        """Queue ``mailbox`` and wake a parked worker, if any.

        The mailbox is queued before a parked worker is looked for, and a worker
        registers as parked before it looks at the queue a last time, so work
        is never left behind a worker that went to sleep.
        """
        self._runq.append(mailbox)
        if self._parked:
            try:
                worker = self._parked.pop()
            except IndexError:
                return
            worker.wake.release()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            for _ in range(self.config.workers):
                self._spawn(extra=False)

    def _spawn(self, *, extra: bool) -> None:
        """Start a worker thread (lock held)."""
        self._workers += 1
        if extra:
            self._extras += 1
        label = self.name if not extra else f"{self.name}-extra"
        thread = threading.Thread(
            target=self._work, args=(extra,), name=f"actorfsm-{label}", daemon=True
        )
        thread.start()

    def _work(self, extra: bool) -> None:
        runner = runners.Runner(self, extra=extra)
        runners.enter(runner)
        try:
            self._serve(runner)
        finally:
            runners.retire(runner)
            with self._lock:
                self._workers -= 1
                if extra:
                    self._extras -= 1

    def _serve(self, runner: runners.Runner) -> None:
        runq = self._runq
        popleft = runq.popleft
        throughput = self.throughput
        take_next = runner.take_next
        while True:
            mailbox = take_next() if runner.next else None
            if mailbox is not None:
                runner.streak += 1
                if runner.streak > throughput and runq:
                    runner.streak = 0
                    self._push(mailbox)
                    continue
            else:
                runner.streak = 0
                try:
                    mailbox = popleft()
                except IndexError:
                    if not self._park(runner):
                        return
                    continue
            mailbox.run(runner, throughput, runq)
            if self.pinned and mailbox.closed:
                return

    def _park(self, runner: runners.Runner) -> bool:
        """Sleep until woken for work; ``False``: this worker ends (retired or shut down)."""
        wake = runner.wake
        self._parked.append(runner)
        if self._runq or self._closing:  # queued meanwhile: do not sleep on it
            with contextlib.suppress(ValueError):
                self._parked.remove(runner)
                return not self._closing
            wake.acquire()  # a producer took us off the list: its wake-up is ours
            return not self._closing
        if runner.extra:
            if wake.acquire(timeout=RETIRE_AFTER):
                return not self._closing
            with contextlib.suppress(ValueError):
                self._parked.remove(runner)
                return not self._retire(runner)
            wake.acquire()  # woken as the timeout ran out
            return not self._closing
        wake.acquire()
        return not self._closing

    def _retire(self, runner: runners.Runner) -> bool:
        """Whether an idle replacement worker may end (no worker of the pool is blocked)."""
        with self._lock:
            return self._waiting + len(self._blocked) < self._extras

    # ------------------------------------------------------------- blocking

    def set_blocked(self, blocked: set[runners.Runner]) -> None:
        """The watcher's latest view of the workers stuck in one handler: replace them (bounded).

        A replacement retires once idle for ``RETIRE_AFTER`` while there are
        more replacements than blocked workers.
        """
        with self._lock:
            self._blocked = blocked
            missing = min(len(blocked) + self._waiting, self.config.max_blocked) - self._extras
            if self.pinned or missing <= 0:
                return
            for _ in range(missing):
                self._spawn(extra=True)
            workers = self._workers
        for runner in blocked:
            pending = runner.take_next()
            if pending is not None:
                self._push(pending)
        log.info(
            "dispatcher_worker_added",
            dispatcher=self.name,
            workers=workers,
            blocked=len(blocked),
        )

    def begin_blocking(self, runner: runners.Runner) -> None:
        """``runner``'s thread is about to wait (a future in a handler): keep the pool going.

        Its next slot goes back to the shared queue, and a replacement worker
        starts if the waiting workers outnumber the replacements (bounded by
        ``max_blocked``), as ForkJoinPool's managed blocking does.
        """
        pending = runner.take_next()
        if pending is not None:
            self._push(pending)
        if self.pinned:
            return
        with self._lock:
            self._waiting += 1
            if self._waiting + len(self._blocked) <= self._extras:
                return
            if self._extras >= self.config.max_blocked:
                return
            self._spawn(extra=True)

    def end_blocking(self, runner: runners.Runner) -> None:
        """The wait ``begin_blocking`` announced is over."""
        if not self.pinned:
            with self._lock:
                self._waiting -= 1

    def shutdown(self) -> None:
        """End the worker threads once they are idle."""
        self._closing = True
        while self._parked:
            try:
                self._parked.pop().wake.release()
            except IndexError:
                break


# ------------------------------------------------------------------ registry

_configs: dict[str, DispatcherConfig] = {}
_pools: dict[str, Dispatcher] = {}
_pools_lock = threading.Lock()


def configure_dispatcher(
    name: str,
    *,
    workers: int | None = None,
    throughput: int | None = None,
    max_blocked: int | None = None,
) -> DispatcherConfig:
    """Set how the pool ``name`` runs; takes effect for a pool not started yet.

    ``workers`` threads (default: one per core, 2 to 8), ``throughput``
    messages of one FSM per turn before others run (Akka's setting, default
    5), and at most ``max_blocked`` replacement workers while workers are stuck
    in handlers (default 8).
    """
    if name == PINNED:
        msg = f"{PINNED!r} names dedicated threads, not a pool"
        raise ValueError(msg)
    base = _configs.get(name) or DispatcherConfig(default_workers())
    config = DispatcherConfig(
        workers=base.workers if workers is None else _positive_int(workers, "workers"),
        throughput=base.throughput
        if throughput is None
        else _positive_int(throughput, "throughput"),
        max_blocked=base.max_blocked if max_blocked is None else max(0, int(max_blocked)),
    )
    with _pools_lock:
        _configs[name] = config
        pool = _pools.get(name)
        if pool is not None and not pool._started:
            _pools[name] = Dispatcher(name, config)
    return config


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{what} must be a whole number >= 1, got {value!r}"
        raise ValueError(msg)
    return value


def get_dispatcher(name: str = DEFAULT) -> Dispatcher:
    """The pool called ``name``, created on first use."""
    pool = _pools.get(name)
    if pool is not None:
        return pool
    with _pools_lock:
        pool = _pools.get(name)
        if pool is None:
            config = _configs.get(name) or DispatcherConfig(default_workers())
            pool = _pools[name] = Dispatcher(name, config)
        return pool


def pools() -> list[Dispatcher]:
    """Every pool created so far (dedicated threads are not pools)."""
    return list(_pools.values())


_FORCED_PINNED = os.environ.get(FORCE_ENV) == PINNED  # read once: it is set for a whole run


def forced_pinned() -> bool:
    """Whether ``ACTORFSM_DISPATCHER=pinned`` puts every FSM on a dedicated thread."""
    return _FORCED_PINNED


def check_name(owner: str, name: object) -> None:
    """Refuse a class's ``dispatcher`` setting that is not a dispatcher's name."""
    if not isinstance(name, str):
        msg = f"{owner}.dispatcher must be a dispatcher's name, got {name!r}"
        raise TypeError(msg)


def for_fsm(name: str, label: str) -> Dispatcher:
    """The dispatcher an FSM whose class says ``dispatcher = name`` runs on."""
    if _FORCED_PINNED or name == PINNED:
        return Dispatcher(label, DispatcherConfig(workers=1, max_blocked=0), pinned=True)
    return get_dispatcher(name)


# ------------------------------------------------------------ process exit

EXIT_GRACE = 5.0
"""Seconds FSMs still running at interpreter exit get to stop before the process ends."""

_exit_hooks: list[Callable[[float], None]] = []


def on_exit(hook: Callable[[float], None]) -> None:
    """Run ``hook(grace_seconds)`` when the interpreter exits (the engine stops FSMs there)."""
    _exit_hooks.append(hook)


def _at_exit() -> None:
    grace = float(os.environ.get("ACTORFSM_EXIT_GRACE", EXIT_GRACE))
    started = time.monotonic()
    for hook in _exit_hooks:
        hook(max(0.0, grace - (time.monotonic() - started)))


atexit.register(_at_exit)
