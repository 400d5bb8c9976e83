"""100,000 armed timers across 1,000 FSMs on the one shared scheduler thread.

Measures threads added, memory per armed timer, lateness (from a timer's due
time to its FSM handling the message), and a burst of 100,000 timers due at the
same instant. A thread per timer (``threading.Timer``) would need 100,000
threads for the same load.
"""

from __future__ import annotations

import enum
import gc
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from actorfsm import FSM, Event, stay
from benchmarks.harness import print_machine

FSMS = 1_000
TIMERS_PER_FSM = 100
TOTAL = FSMS * TIMERS_PER_FSM
SPREAD = 10.0
HEAD_START = 5.0  # seconds between the start of arming and the first due time

DueOf = Callable[[float, int], float]


class S(enum.Enum):
    ON = 1


class Sink(FSM[S, None]):
    """Records how late each timer message (its due time) is handled."""

    def __init__(self, done: threading.Semaphore) -> None:
        super().__init__()
        self.lateness: list[float] = []
        self.done = done
        self.start_with(S.ON, None)
        self.when(S.ON, self.on)

    def on(self, event: Event) -> Any:
        self.lateness.append(time.monotonic() - event.event)
        if len(self.lateness) == TIMERS_PER_FSM:
            self.done.release()  # once per FSM: the measurement must not be the bottleneck
        return stay()

    def arm(self, dues: list[float]) -> None:
        now = time.monotonic()
        for i, due in enumerate(dues):
            self.start_single_timer(i, due, due - now)

    def cancel_all(self) -> None:
        for i in range(TIMERS_PER_FSM):
            self.cancel_timer(i)


def memory_per_timer() -> float:
    """Bytes allocated per armed timer (timer object, heap entry, table slot)."""
    refs = [Sink.start(threading.Semaphore(0)) for _ in range(10)]
    far = time.monotonic() + 3600
    dues = [far] * TIMERS_PER_FSM * 10
    gc.collect()
    tracemalloc.start()
    for ref in refs:
        ref.proxy().arm(dues).get()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    for ref in refs:
        ref.proxy().cancel_all().get()
        ref.stop()
    return current / (len(refs) * len(dues))


def run(label: str, due_of: DueOf) -> None:
    done = threading.Semaphore(0)
    threads_before = threading.active_count()
    refs = [Sink.start(done) for _ in range(FSMS)]
    actor_threads = threading.active_count() - threads_before
    base = time.monotonic() + HEAD_START
    started = time.monotonic()
    # One FSM at a time: 1,000 actors arming at once only measure GIL contention
    # (and each arm call then runs long enough to be reported as stuck).
    for n, ref in enumerate(refs):
        ref.proxy().arm([due_of(base, n * TIMERS_PER_FSM + i) for i in range(TIMERS_PER_FSM)]).get()
    armed_in = time.monotonic() - started
    finished = sum(done.acquire(timeout=60) for _ in range(FSMS))
    last_handled = time.monotonic()
    lateness = [late for ref in refs for late in ref.proxy().lateness.get()]
    handled = len(lateness) if finished == FSMS else -1
    extra_threads = threading.active_count() - threads_before - actor_threads
    schedulers = sum(t.name == "actorfsm-scheduler" for t in threading.enumerate())
    for ref in refs:
        ref.stop()
    last_due = max(due_of(base, k) for k in range(TOTAL))
    lateness.sort()
    print(f"   {label}:")
    print(
        f"     {TOTAL} timers on {FSMS} FSMs, armed in {armed_in:.2f} s; "
        f"threads besides the FSMs' own: {extra_threads} added, "
        f"{schedulers} scheduler thread in the process"
    )
    print(
        f"     handled {handled}/{TOTAL}; "
        f"lateness median {1e3 * statistics.median(lateness):.1f} ms, "
        f"p99 {1e3 * lateness[int(0.99 * len(lateness))]:.1f} ms, max {1e3 * lateness[-1]:.1f} ms"
    )
    print(f"     last one handled {last_handled - last_due:.2f} s after the last due time")


def main() -> None:
    print_machine("100,000 timers on one shared scheduler thread")
    print(f"   memory per armed timer: {memory_per_timer():.0f} bytes (target <= 1024)")
    run(
        "spread over 10 s (targets: no thread per timer, p99 lateness <= 50 ms)",
        lambda base, k: base + SPREAD * (k % 9973) / 9973,
    )
    run("burst: all due at one instant (target: all handled within 2 s)", lambda base, k: base)


if __name__ == "__main__":
    main()
