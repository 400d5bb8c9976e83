"""Supervision costs: a tell through a ChildRef vs a direct tell, and the restart latency.

Tell: the same supervised FSM receives N counted messages either through its
``ChildRef`` or directly through its current incarnation's ``ActorRef``. The
child is held on a gate while the messages are sent, then released; a run
takes from the first tell until the final ``ask`` is answered, so it counts
both the senders' cost and the drain. Runs alternate between the two ways.

Restart: a child raises in a handler; an ``ask`` sent right behind the failing
message through the ``ChildRef`` is answered by the new incarnation. The
figure is the time from the ``raise`` to the new incarnation handling that
message (no backoff): report, death watch, decision, construction, start,
delivery of the carried-over message. Each failure comes after the child has
run for the restart floor (100 ms), which a child failing sooner waits out.
"""

from __future__ import annotations

import enum
import gc
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

import pykka
import structlog

from actorfsm import (
    FSM,
    RESTART_FLOOR,
    ChildRef,
    ChildSpec,
    Event,
    GetChild,
    NextState,
    OneForOne,
    Supervisor,
    stay,
)
from benchmarks.bench_engine import Get, Hold, Inc
from benchmarks.harness import print_machine, print_ratio, side_by_side

N = 200_000
RUNS = 9
RESTARTS = 100


@dataclass(frozen=True, slots=True)
class Fail:
    pass


class S(enum.Enum):
    COUNTING = 1


class Failed(Exception):
    pass


class Counter(FSM[S, int]):
    """Counts ``Inc`` in ``self.count``; ``Get`` answers with the count and the time."""

    raised_at: list[float] = []  # shared on purpose: when the last one raised

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.start_with(S.COUNTING, 0)
        self.when(S.COUNTING, self.counting)

    def counting(self, event: Event) -> NextState | None:
        match event.event:
            case Inc():
                self.count += 1
                return stay()
            case Get():
                return stay().replying((self.count, time.perf_counter()))
            case Hold(gate):
                gate.wait()
                return stay()
            case Fail():
                Counter.raised_at.append(time.perf_counter())
                raise Failed("benchmark failure")
        return None


def supervised_counter() -> tuple[pykka.ActorRef[Any], ChildRef]:
    strategy = OneForOne(max_restarts=RESTARTS + 10, within=3600.0)
    sup = Supervisor.start(strategy, [ChildSpec("counter", Counter)])
    child: ChildRef = sup.ask(GetChild("counter"), block=True)
    child.ask(Get())  # started and running
    return sup, child


def send_and_drain(target: Any) -> float:
    """Seconds per message: N tells to ``target`` while the child is held, then the drain."""
    gate = threading.Event()
    target.tell(Hold(gate))
    inc = Inc()
    start = time.perf_counter()
    for _ in range(N):
        target.tell(inc)
    gate.set()
    count, _ = target.ask(Get())
    elapsed = time.perf_counter() - start
    assert count == N, count
    return elapsed / N


def one_run(through_child_ref: bool) -> float:
    sup, child = supervised_counter()
    target = child if through_child_ref else child.current()
    gc.collect()  # 200,000 queued envelopes: start each run from the same heap
    per_message = send_and_drain(target)
    sup.stop()
    return per_message


def compare_tells() -> None:
    child_median, direct_median, ratio = side_by_side(
        RUNS, lambda: one_run(True), lambda: one_run(False)
    )
    print(
        f"   tell + drain: direct ActorRef {1e6 * direct_median:.2f} us/msg, "
        f"ChildRef {1e6 * child_median:.2f} us/msg"
    )
    print_ratio("tell throughput ChildRef / direct (median of pair ratios)", ratio, ">= 0.85")


def restart_latency() -> None:
    sup, child = supervised_counter()
    samples = []
    for _ in range(RESTARTS):
        time.sleep(RESTART_FLOOR)  # ran past the floor: the restart is not held back
        child.tell(Fail())
        _, handled_at = child.ask(Get(), timeout=5)
        samples.append(handled_at - Counter.raised_at[-1])
    sup.stop()
    samples.sort()
    print(
        f"   failure -> new incarnation handles a message ({RESTARTS} restarts, no backoff): "
        f"median {1e3 * statistics.median(samples):.2f} ms, "
        f"p90 {1e3 * samples[int(0.9 * len(samples))]:.2f} ms"
    )


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))  # quiet
    print_machine("supervision: ChildRef tell vs direct tell; failure to new incarnation")
    print(f"   {N} messages per run, median of {RUNS} runs, runs interleaved")
    compare_tells()
    restart_latency()
    structlog.reset_defaults()


if __name__ == "__main__":
    main()
