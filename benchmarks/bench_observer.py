"""What metrics and the observer cost: drain throughput with metrics on and off, and list pages.

Throughput, side by side in adjacent pairs: drains of queued messages
(``bench_engine.drain``) with metrics on vs off; the same timing the tells
too (with metrics on, each FSM's mailbox counts what it is given: one
increment on the sender's side); the same drain for a LoggingFSM; and
metrics off vs the engine before the metric hooks (loaded from git history).

Pages: 100,000 running FSMs (on the shared dispatcher), a third in each of
three states, each page fetched over HTTP from the observer (``/api/fsms``):
the first page, a page deep in the list, a state filter and a name search.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import gc
import json
import statistics
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry

import actorfsm
from actorfsm import FSM, Event, LoggingFSM, NextState, census, goto, metrics, settle_all
from actorfsm.observer import serve
from benchmarks import bench_engine
from benchmarks.bench_debugging import messages_per_drain
from benchmarks.bench_engine import Get, Inc, S, counter_class, drain
from benchmarks.harness import (
    has_callgrind,
    instructions_per_item,
    load_engine_at,
    print_machine,
    print_ratio,
    side_by_side,
)

BEFORE_REV = "0a0306c"  # main before the metric hooks
PAIRS = 61
MESSAGES = 20_000
FSMS = 100_000
PAGE_RUNS = 7
FSMCounter = counter_class(actorfsm)


class LoggedCounter(FSMCounter, LoggingFSM[S, int]):  # type: ignore[misc,valid-type]
    log_depth = 12


@contextlib.contextmanager
def metrics_on() -> Iterator[None]:
    metrics.enable(CollectorRegistry())
    try:
        yield
    finally:
        metrics.disable()


def drain_with_metrics(actor_class: type[Any]) -> Callable[[], float]:
    def measure() -> float:
        with metrics_on():
            return drain(actor_class)

    return measure


def send_and_drain(actor_class: type[Any]) -> float:
    """Seconds per message to tell N messages and have them all handled (both sides counted).

    ``drain`` times only the consumer; with metrics on, the counting is an
    increment in the sender's ``put``, so this includes the senders' side.
    """
    ref = actor_class.start()
    ref.ask(Get())
    inc = Inc()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(bench_engine.N):
            ref.tell(inc)
        count = ref.ask(Get())
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    ref.stop()
    assert count == bench_engine.N, count
    return elapsed / bench_engine.N


def send_and_drain_with_metrics(actor_class: type[Any]) -> Callable[[], float]:
    def measure() -> float:
        with metrics_on():
            return send_and_drain(actor_class)

    return measure


def compare(
    label: str, target: str, subject: Callable[[], float], reference: Callable[[], float]
) -> None:
    subject_median, reference_median, ratio = side_by_side(PAIRS, subject, reference)
    print(f"   {label}: {1e6 * subject_median:.2f} vs {1e6 * reference_median:.2f} us/msg")
    print_ratio(f"{label} (throughput, median of pair ratios)", ratio, target)


def throughput() -> None:
    print(f"   drains of {MESSAGES} messages, median of {PAIRS} adjacent pairs")
    with messages_per_drain(MESSAGES):
        compare(
            "FSM metrics on / off",
            ">= 0.95",
            drain_with_metrics(FSMCounter),
            lambda: drain(FSMCounter),
        )
        compare(
            "FSM metrics on / off, tells and drain",
            ">= 0.95",
            send_and_drain_with_metrics(FSMCounter),
            lambda: send_and_drain(FSMCounter),
        )
        compare(
            "LoggingFSM metrics on / off",
            "informational",
            drain_with_metrics(LoggedCounter),
            lambda: drain(LoggedCounter),
        )
        before = load_engine_at(BEFORE_REV)
        if before is None:
            print(f"   metrics off / engine at {BEFORE_REV}: skipped (needs the git history)")
            return
        before_counter = counter_class(before)
        compare(
            f"metrics off / engine at {BEFORE_REV} (before the hooks)",
            ">= 0.98 (no measurable cost)",
            lambda: drain(FSMCounter),
            lambda: drain(before_counter),
        )


class Phase(enum.Enum):
    IDLE = 1
    BUSY = 2
    DONE = 3


class Job(FSM[Phase, int]):
    def __init__(self) -> None:
        super().__init__()
        self.start_with(Phase.IDLE, 0)
        for phase in Phase:
            self.when(phase, self.step)

    def step(self, event: Event) -> NextState:
        return goto(event.event)


def fetch_ms(url: str) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    return 1e3 * (time.perf_counter() - start), body


def pages() -> None:
    jobs = [Job.start() for _ in range(FSMS)]
    for index, job in enumerate(jobs):
        if index % 3:
            job.tell(Phase.BUSY if index % 3 == 1 else Phase.DONE)
    settle_all(60.0)
    gc.collect()  # a process holding 100,000 FSMs has long since collected them once
    server = serve(metrics=False)
    last = census.find(jobs[-1].actor_urn.rsplit(":", 1)[-1])
    assert last is not None
    name = f"name:{census.fsm_name(last)}"
    fetch_ms(f"{server.url}api/fsms")  # the first request also builds the search's name cache
    try:
        print(f"   {FSMS:,} FSMs, 50 rows a page over HTTP, median of {PAGE_RUNS} requests")
        for label, query in (
            ("first page", "page=0"),
            ("page 1,000", "page=1000"),
            ("state:BUSY, page 10", "q=state:BUSY&page=10"),
            ("search by name", f"q={name}"),
        ):
            times = []
            for _ in range(PAGE_RUNS):
                elapsed, body = fetch_ms(f"{server.url}api/fsms?{query}")
                times.append(elapsed)
            assert body["rows"], body
            print(
                f"   {label}: {statistics.median(times):.0f} ms "
                f"(max {max(times):.0f} ms; {body['matched']:,} matched)  (target <= 200 ms)"
            )
    finally:
        server.stop()
        for job in jobs:
            job.stop(block=False)
        settle_all(60.0)


COUNTED = (2_000, 12_000)  # messages per run under callgrind: the difference is compared
INSTRUCTION_COMPARISONS = (
    ("tells and drain, FSM metrics on / off", "on", "off", "send"),
    (f"drain, metrics off / engine at {BEFORE_REV}", "off", "before", "drain"),
)
"""Label, subject side, reference side, what is run (names known to :func:`run_side`)."""


def run_side(side: str, how: str, messages: int) -> None:
    """Run one side once in a thread of its own (callgrind counts only non-main threads)."""
    if side == "before":
        before = load_engine_at(BEFORE_REV)
        assert before is not None, "needs the git history"
        actor_class = counter_class(before)
    else:
        actor_class = FSMCounter
    measure = drain if how == "drain" else send_and_drain

    def run() -> None:
        with contextlib.ExitStack() as stack:
            stack.enter_context(messages_per_drain(messages))
            if side == "on":
                stack.enter_context(metrics_on())
            measure(actor_class)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def instructions() -> None:
    if not has_callgrind():
        print("   instructions: skipped, valgrind is not installed")
        return
    counted = COUNTED[1] - COUNTED[0]
    print(
        f"   instructions per message over {counted} messages (callgrind, all but the main thread)"
    )
    for label, subject, reference, how in INSTRUCTION_COMPARISONS:
        subject_count = instructions_per_item(functools.partial(_command, subject, how), *COUNTED)
        reference_count = instructions_per_item(
            functools.partial(_command, reference, how), *COUNTED
        )
        print(f"   {label}: {subject_count:.0f} vs {reference_count:.0f} instructions/msg")
        print_ratio(f"{label} (instructions per message)", reference_count / subject_count, "")


def _command(side: str, how: str, messages: int) -> list[str]:
    """The command that runs ``side`` once under callgrind."""
    return [sys.executable, "-m", "benchmarks.bench_observer", side, how, str(messages)]


def main() -> None:
    print_machine("metrics and observer: what they cost")
    pages()  # first: the older engine loaded for comparison installs its own actor registry
    throughput()
    instructions()


if __name__ == "__main__":
    if len(sys.argv) == 4:
        run_side(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    else:
        main()
