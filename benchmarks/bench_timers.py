"""100,000 armed timers on the one shared scheduler thread, in four shapes.

Measures threads added, memory per armed timer, and lateness (from a timer's
due time to its FSM handling the message) for: a uniform spread over 10 s;
waves (1,000 timers due at the same instant every 0.1 s for 10 s) over 1,000
and over 10,000 FSMs; and a burst of 100,000 due at one instant. The waves
are compared with what a user would otherwise write: one driver thread that
sleeps until each wave and tells 1,000 plain pykka actors. A thread per timer
(``threading.Timer``) would need 100,000 threads for the same load.
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

import pykka

from actorfsm import FSM, Event, stay
from benchmarks.harness import print_machine, print_ratio

FSMS = 1_000
TIMERS_PER_FSM = 100
TOTAL = FSMS * TIMERS_PER_FSM
SPREAD = 10.0
WAVES = 100
WAVE_EVERY = 0.1
HEAD_START = 5.0  # seconds (per 1,000 FSMs) between the start of arming and the first due time

DueOf = Callable[[float, int], float]


class S(enum.Enum):
    ON = 1


class Sink(FSM[S, None]):
    """Records how late each timer message (its due time) is handled."""

    def __init__(self, done: threading.Semaphore) -> None:
        super().__init__()
        self.lateness: list[float] = []
        self.expected = TIMERS_PER_FSM
        self.done = done
        self.start_with(S.ON, None)
        self.when(S.ON, self.on)

    def on(self, event: Event) -> Any:
        due = event.event
        assert isinstance(due, float)  # the timer's message is its due time
        self.lateness.append(time.monotonic() - due)
        if len(self.lateness) == self.expected:
            self.done.release()  # once per FSM: the measurement must not be the bottleneck
        return stay()

    def arm(self, dues: list[float]) -> None:
        self.expected = len(dues)
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


def run(label: str, due_of: DueOf, fsms: int = FSMS) -> list[float]:
    """Arm ``TOTAL`` timers over ``fsms`` FSMs (timer ``k`` due at ``due_of(base, k)``); report."""
    per_fsm = TOTAL // fsms
    done = threading.Semaphore(0)
    threads_before = threading.active_count()
    refs = [Sink.start(done) for _ in range(fsms)]
    threads_added = threading.active_count() - threads_before
    base = time.monotonic() + HEAD_START * max(1, fsms // 1_000)  # arming takes longer
    started = time.monotonic()
    # One FSM at a time: 1,000 actors arming at once only measure GIL contention
    # (and each arm call then runs long enough to be reported as stuck).
    for n, ref in enumerate(refs):
        ref.proxy().arm([due_of(base, n * per_fsm + i) for i in range(per_fsm)]).get()
    armed_in = time.monotonic() - started
    # Arming made 200,000 long-lived objects (timers, heap entries); the full
    # collection they bring on would land in whichever wave comes first and
    # measure the garbage collector, not the scheduler. It runs here, before
    # the first due time, as in a service that armed its timers at start-up.
    gc.collect()
    finished = sum(done.acquire(timeout=60) for _ in range(fsms))
    last_handled = time.monotonic()
    lateness = [late for ref in refs for late in ref.proxy().lateness.get()]
    handled = len(lateness) if finished == fsms else -1
    schedulers = sum(t.name == "actorfsm-scheduler" for t in threading.enumerate())
    for ref in refs:
        ref.stop()
    last_due = max(due_of(base, k) for k in range(TOTAL))
    lateness.sort()
    print(f"   {label}:")
    print(
        f"     {TOTAL} timers on {fsms} FSMs, armed in {armed_in:.2f} s; "
        f"threads added by starting the FSMs: {threads_added}, "
        f"{schedulers} scheduler thread in the process"
    )
    report(handled, lateness)
    print(f"     last one handled {last_handled - last_due:.2f} s after the last due time")
    return lateness


def report(handled: int, lateness: list[float]) -> None:
    print(
        f"     handled {handled}/{TOTAL}; "
        f"lateness median {1e3 * statistics.median(lateness):.1f} ms, "
        f"p99 {1e3 * p99(lateness):.1f} ms, max {1e3 * lateness[-1]:.1f} ms"
    )


def p99(ordered: list[float]) -> float:
    return ordered[int(0.99 * len(ordered))]


def wave_due(base: float, k: int) -> float:
    """Timer ``k`` is due in wave ``k % WAVES``: each wave holds one timer of 1,000 FSMs."""
    return base + WAVE_EVERY * (k % WAVES)


class PlainSink(pykka.ThreadingActor):
    """The plain alternative: an actor told its due time by a driver thread."""

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.lateness: list[float] = []

    def on_receive(self, message: Any) -> Any:
        if message is not None:  # None: the final ask, behind every tell
            self.lateness.append(time.monotonic() - message)
        return None


def plain_waves(actors: int = FSMS) -> list[float]:
    """One driver thread sleeping until each wave, telling ``actors`` plain pykka actors."""
    refs = [PlainSink.start() for _ in range(actors)]
    base = time.monotonic() + 1.0
    for wave in range(TOTAL // actors):
        due = base + WAVE_EVERY * wave
        time.sleep(max(0.0, due - time.monotonic()))
        for ref in refs:
            ref.tell(due)
    lateness = []
    for ref in refs:
        ref.ask(None)  # behind every tell
        lateness += ref.proxy().lateness.get()
        ref.stop()
    lateness.sort()
    print("   waves, plain pykka: one driver thread telling 1,000 actors:")
    report(len(lateness), lateness)
    return lateness


def main() -> None:
    print_machine("100,000 timers on one shared scheduler thread")
    print(f"   memory per armed timer: {memory_per_timer():.0f} bytes (target <= 1024)")
    run(
        "spread over 10 s (targets: no thread per timer, p99 lateness <= 50 ms)",
        lambda base, k: base + SPREAD * (k % 9973) / 9973,
    )
    plain = plain_waves()
    for fsms in (1_000, 10_000):
        waves = run(
            f"waves: 1,000 due at once every 0.1 s for 10 s, over {fsms:,} FSMs "
            "(target p99 <= 50 ms)",
            wave_due,
            fsms,
        )
        print_ratio(
            f"waves over {fsms:,} FSMs, p99 lateness plain / FSM", p99(plain) / p99(waves), "info"
        )
    run("burst: all due at one instant (target: all handled within 2 s)", lambda base, k: base)


if __name__ == "__main__":
    main()
