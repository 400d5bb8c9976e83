"""Many FSMs on few threads: the dispatcher against plain pykka's thread per actor.

Four shapes, each printed with the plain alternative measured in the same run:

* **A million idle FSMs** (in a fresh process, ``BENCH_IDLE_FSMS`` to change
  the count): RSS per FSM, time to start them all, for each to handle one
  message, to stop them all, and threads added. Plain pykka cannot hold a
  million actors (a thread each), so it is measured with ``BENCH_PLAIN_ACTORS``
  (2,000) and compared per actor.
* **Ping-pong**: 1, 10 and 1,000 pairs bouncing a message; round trips per
  second, FSM pairs against plain pykka pairs.
* **Fairness**: one FSM flooded with a million queued messages; how late
  another FSM's timer fires meanwhile.
"""

from __future__ import annotations

import enum
import gc
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

import pykka

from actorfsm import FSM, Event, NextState, settle_all, stay
from benchmarks.bench_engine import PlainIdiomatic
from benchmarks.bench_engine import StringCounter as Idle
from benchmarks.harness import print_machine, print_ratio

IDLE_FSMS = int(os.environ.get("BENCH_IDLE_FSMS", "1000000"))
PLAIN_ACTORS = int(os.environ.get("BENCH_PLAIN_ACTORS", "2000"))
PAIRS = (1, 10, 1_000)
PING_SECONDS = 2.0
PING_RUNS = 3
FLOOD = 1_000_000


class S(enum.Enum):
    ON = 1


# ------------------------------------------------------------- idle FSMs


class PlainIdle(PlainIdiomatic):
    """bench_engine's plain counter on a daemon thread: thousands must not hold up the exit."""

    use_daemon_thread = True


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def idle_run(kind: str, count: int) -> dict[str, float]:
    """In this process: start ``count`` actors, tell each one message, stop them; the figures."""
    actor: Any = Idle if kind == "fsm" else PlainIdle
    threads = threading.active_count()  # before the pool, the watcher and the scheduler
    actor.start().stop()  # warm: imports and first allocations out of the measurement
    gc.collect()
    rss = _rss()
    started = time.perf_counter()
    refs = [actor.start() for _ in range(count)]
    start_s = time.perf_counter() - started
    gc.collect()
    rss_each = (_rss() - rss) / count
    threads_added = threading.active_count() - threads
    started = time.perf_counter()
    for ref in refs:
        ref.tell("inc")
    if kind == "fsm":
        settle_all(timeout=600)
    else:
        for ref in refs:
            ref.ask("inc")  # behind the tell: both handled
    message_s = time.perf_counter() - started
    del refs
    started = time.perf_counter()
    pykka.ActorRegistry.stop_all()  # what a pykka user writes: blocking stops, newest first
    stop_s = time.perf_counter() - started
    return {
        "rss_each": rss_each,
        "start_s": start_s,
        "message_s": message_s,
        "stop_s": stop_s,
        "threads_added": threads_added,
    }


def idle_in_subprocess(kind: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_dispatch", "--idle", kind, str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare_idle() -> None:
    fsm = idle_in_subprocess("fsm", IDLE_FSMS)
    plain = idle_in_subprocess("plain", PLAIN_ACTORS)
    print(f"   {IDLE_FSMS:,} idle FSMs in one process (plain pykka: {PLAIN_ACTORS:,} actors):")
    print(
        f"     RSS each: FSM {fsm['rss_each']:.0f} B, plain {plain['rss_each']:.0f} B "
        f"(target FSM <= 3072 B)"
    )
    print(
        f"     start all: FSM {fsm['start_s']:.1f} s "
        f"({1e6 * fsm['start_s'] / IDLE_FSMS:.1f} us each), "
        f"plain {1e6 * plain['start_s'] / PLAIN_ACTORS:.1f} us each (target FSM <= 60 s)"
    )
    print(
        f"     one message each: FSM {fsm['message_s']:.1f} s, plain "
        f"{1e6 * plain['message_s'] / PLAIN_ACTORS:.1f} us each (target FSM <= 30 s)"
    )
    print(
        f"     stop all (ActorRegistry.stop_all()): FSM {fsm['stop_s']:.1f} s, plain "
        f"{1e6 * plain['stop_s'] / PLAIN_ACTORS:.1f} us each (target FSM <= 60 s)"
    )
    print(
        f"     threads added: FSM {fsm['threads_added']:.0f}, plain {plain['threads_added']:.0f} "
        f"(target FSM <= 8)"
    )
    print_ratio("RSS per actor, plain / FSM", plain["rss_each"] / fsm["rss_each"], "informational")


# ------------------------------------------------------------- ping-pong


class Ball:
    __slots__ = ("hits",)

    def __init__(self) -> None:
        self.hits = 0


class Player(FSM[S, Any]):
    """Sends the ball back to its partner; counts round trips in a shared counter."""

    def __init__(self, counter: list[int]) -> None:
        super().__init__()
        self.counter = counter
        self.start_with(S.ON, None)
        self.when(S.ON, self.on)

    def on(self, event: Event) -> NextState | None:
        match event:
            case Event(("partner", ref), _):
                return stay().using(ref)
            case Event(Ball() as ball, partner) if partner is not None:
                self.counter[0] += 1
                partner.tell(ball)
                return stay()
            case Event("stop", _):
                return stay()
        return None


class PlainPlayer(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, counter: list[int]) -> None:
        super().__init__()
        self.counter = counter
        self.partner: Any = None

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, tuple):
            self.partner = message[1]
        elif isinstance(message, Ball) and self.partner is not None:
            self.counter[0] += 1
            self.partner.tell(message)
        return None


def ping_pong(actor: Any, pairs: int) -> float:
    """Hits per second (each hit is one message handled) over ``PING_SECONDS``."""
    counter = [0]
    refs = []
    for _ in range(pairs):
        a, b = actor.start(counter), actor.start(counter)
        a.tell(("partner", b))
        b.tell(("partner", a))
        refs += [a, b]
    for ref in refs[::2]:
        ref.tell(Ball())
    time.sleep(0.2)
    before, started = counter[0], time.perf_counter()
    time.sleep(PING_SECONDS)
    hits = counter[0] - before
    elapsed = time.perf_counter() - started
    for ref in refs:
        ref.stop(block=False)
    for ref in refs:
        ref.actor_stopped.wait(10)
    return hits / elapsed / 2  # two hits per round trip


def compare_ping_pong() -> None:
    for pairs in PAIRS:
        fsm_rates, plain_rates = [], []
        for _ in range(PING_RUNS):
            plain_rates.append(ping_pong(PlainPlayer, pairs))
            fsm_rates.append(ping_pong(Player, pairs))
        ratios = [f / p for f, p in zip(fsm_rates, plain_rates, strict=True)]
        print(
            f"   ping-pong, {pairs} pair(s): "
            f"FSM {statistics.median(fsm_rates):,.0f} round trips/s, "
            f"plain pykka {statistics.median(plain_rates):,.0f}/s"
        )
        print_ratio(
            f"ping-pong {pairs} pair(s) FSM / plain (median of {PING_RUNS} pairs)",
            statistics.median(ratios),
            ">= 5",
        )


# -------------------------------------------------------------- fairness


class Ticker(FSM[S, None]):
    """Arms a timer when told and records how late it fired."""

    def __init__(self) -> None:
        super().__init__()
        self.late: list[float] = []
        self.fired = threading.Event()
        self.start_with(S.ON, None)
        self.when(S.ON, self.on)

    def on(self, event: Event) -> NextState | None:
        match event.event:
            case ("arm", float(delay)):
                self.start_single_timer("t", ("due", time.monotonic() + delay), delay)
            case ("due", float(due)):
                self.late.append(time.monotonic() - due)
                self.fired.set()
        return stay()


def fairness() -> None:
    flooded = Idle.start()
    ticker_ref = Ticker.start()
    ticker = ticker_ref.proxy()
    inc = "inc"
    for _ in range(FLOOD):
        flooded.tell(inc)
    lates = []
    for _ in range(5):
        fired: threading.Event = ticker.fired.get()
        fired.clear()
        ticker_ref.tell(("arm", 0.05))
        fired.wait(30)
        lates = ticker.late.get()
    count = flooded.ask("get", timeout=600)
    flooded.stop()
    ticker_ref.stop()
    print(
        f"   fairness: one FSM flooded with {FLOOD:,} queued messages ({count:,} handled); "
        f"another FSM's 50 ms timer, 5 times: late by "
        + ", ".join(f"{1e3 * late:.1f}" for late in lates)
        + " ms"
    )
    print_ratio("fairness: worst timer lateness (ms)", 1e3 * max(lates), "<= 50")


def main() -> None:
    print_machine("many FSMs on few threads: the shared dispatcher vs plain pykka")
    compare_ping_pong()
    fairness()
    compare_idle()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--idle":
        print(json.dumps(idle_run(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
