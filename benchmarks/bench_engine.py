"""FSM engine throughput vs a plain pykka actor doing the same work, side by side.

Drain: the actor is held on a gate while N messages are queued, then released;
the time until it answers a final ask is the time to drain N messages.

"Same work": both match the message by class and count it in ``self.count``,
so the ratio is the engine's overhead against pykka's own loop. "Idiomatic":
each side written as its users write it. The FSM counts in the state data
with ``case Event(Inc(), n): return stay().using(n + 1)`` (an Event, a class
pattern, a description per message); the plain actor matches ``case Inc():``
and adds to ``self.count``. Both are measured with class messages and with
string messages (``case Event("inc", n)`` against ``if message == "inc"``).

The idiomatic drains are also counted in instructions per message under
callgrind (when valgrind is installed): a figure the host's noise does not move.
"""

from __future__ import annotations

import enum
import functools
import gc
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

import actorfsm
from actorfsm import FSM, Event, NextState, stay
from benchmarks.harness import (
    has_callgrind,
    instructions_per_item,
    print_machine,
    print_ratio,
    side_by_side,
)

N = 200_000
RUNS = 7


@dataclass(frozen=True, slots=True)
class Inc:
    pass


@dataclass(frozen=True, slots=True)
class Get:
    pass


@dataclass(frozen=True, slots=True)
class Hold:
    gate: threading.Event


class S(enum.Enum):
    COUNTING = 1


class PlainCounter(pykka.ThreadingActor):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        match message:
            case Inc():
                self.count += 1
            case Get():
                return self.count
            case Hold(gate):
                gate.wait()
        return None


def counter_class(engine: Any) -> type[Any]:
    """An FSM counting in ``self.count`` like ``PlainCounter``, built on ``engine``'s FSM.

    ``engine`` is the ``actorfsm`` module (or an older copy of it, for
    comparisons across versions).
    """
    stay_fn = engine.stay

    class FSMCounter(engine.FSM):  # type: ignore[misc]
        handler_warn_after = None  # Hold blocks on purpose while the messages are queued

        def __init__(self, timeout: float | None = None) -> None:
            super().__init__()
            self.count = 0
            self.start_with(S.COUNTING, 0)
            self.when(S.COUNTING, self.counting, state_timeout=timeout)

        def counting(self, event: Any) -> Any:
            match event.event:
                case Inc():
                    self.count += 1
                    return stay_fn()
                case Get():
                    return stay_fn().replying(self.count)
                case Hold(gate):
                    gate.wait()
                    return stay_fn()
            return None

    return FSMCounter


FSMCounter = counter_class(actorfsm)


class PlainIdiomatic(pykka.ThreadingActor):
    """A plain pykka counter as its users write it, for class or string messages."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if message == "inc":
            self.count += 1
            return None
        match message:
            case Inc():
                self.count += 1
            case Get() | "get":
                return self.count
            case Hold(gate):
                gate.wait()
        return None


class StringCounter(FSM[S, int]):
    """Counts ``"inc"`` strings in the state data."""

    handler_warn_after = None  # Hold blocks on purpose while the messages are queued

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.COUNTING, 0)
        self.when(S.COUNTING, self.counting)

    def counting(self, event: Event) -> NextState | None:
        match event:
            case Event("inc", count):
                return stay().using(count + 1)
            case Event("get", count):
                return stay().replying(count)
            case Event(Hold(gate), _):
                gate.wait()
                return stay()
        return None


class IdiomaticCounter(FSM[S, int]):
    """Counts in the state data, as FSM code is written."""

    handler_warn_after = None  # Hold blocks on purpose while the messages are queued

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.COUNTING, 0)
        self.when(S.COUNTING, self.counting)

    def counting(self, event: Event) -> NextState | None:
        match event:
            case Event(Inc(), count):
                return stay().using(count + 1)
            case Event(Get(), count):
                return stay().replying(count)
            case Event(Hold(gate), _):
                gate.wait()
                return stay()
        return None


def drain(actor_class: type[pykka.Actor], *args: Any, inc: Any = None, get: Any = None) -> float:
    """Seconds per message to drain N queued messages.

    The garbage collector is run before and kept off during the timed drain,
    on both sides alike: otherwise whichever run hits a full collection of the
    200,000 queued envelopes loses by 10-15%, more than the effects measured.
    """
    ref = actor_class.start(*args)
    gate = threading.Event()
    ref.tell(Hold(gate))
    inc = Inc() if inc is None else inc
    for _ in range(N):
        ref.tell(inc)
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        gate.set()
        count = ref.ask(Get() if get is None else get)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    ref.stop()
    assert count == N, count
    return elapsed / N


def compare(label: str, target: str, fsm: Callable[[], float], plain: Callable[[], float]) -> None:
    fsm_median, plain_median, ratio = side_by_side(RUNS, fsm, plain)
    print(
        f"   {label}: plain pykka {1e6 * plain_median:.2f} us/msg "
        f"({1 / plain_median / 1e3:.0f}k msg/s), FSM {1e6 * fsm_median:.2f} us/msg "
        f"({1 / fsm_median / 1e3:.0f}k msg/s)"
    )
    print_ratio(f"{label} throughput FSM / plain (median of pair ratios)", ratio, target)


ASKS = 4_000
ASK_RUNS = 21  # short, alternating runs: round trips are dominated by noisy thread wake-ups


def ask_round_trip(actor_class: type[pykka.Actor]) -> float:
    """Seconds per blocking ``ask(Get())`` round trip."""
    ref = actor_class.start()
    get = Get()
    ref.ask(get)
    start = time.perf_counter()
    for _ in range(ASKS):
        ref.ask(get)
    elapsed = time.perf_counter() - start
    ref.stop()
    return elapsed / ASKS


def compare_asks() -> None:
    """Round trips, plain vs FSM, in adjacent pairs: the median of per-pair ratios.

    Round trips are dominated by thread wake-ups, which drift with the host's
    load; comparing each FSM run with the plain run just before it cancels
    most of that drift.
    """
    plain = [0.0] * ASK_RUNS
    fsm = [0.0] * ASK_RUNS
    for run in range(ASK_RUNS):
        plain[run] = ask_round_trip(PlainCounter)
        fsm[run] = ask_round_trip(FSMCounter)
    ratios = sorted(f / p for f, p in zip(fsm, plain, strict=True))
    print(
        f"   ask round trip: plain pykka {1e6 * statistics.median(plain):.1f} us, "
        f"FSM .replying() {1e6 * statistics.median(fsm):.1f} us ({ASKS} asks per run, "
        f"{ASK_RUNS} adjacent pairs; per-pair ratios {ratios[0]:.2f} to {ratios[-1]:.2f})"
    )
    print_ratio(
        "ask round trip FSM / plain (time, median of pairs)", statistics.median(ratios), "<= 1.10"
    )


COUNTED = (2_000, 12_000)  # messages per drain under callgrind: the difference is compared
IDIOMATIC: dict[str, Callable[[], float]] = {
    "fsm-strings": lambda: drain(StringCounter, inc="inc", get="get"),
    "plain-strings": lambda: drain(PlainIdiomatic, inc="inc", get="get"),
    "fsm-classes": lambda: drain(IdiomaticCounter),
    "plain-classes": lambda: drain(PlainIdiomatic),
}
"""The idiomatic drains by name, for one counted process each (see :func:`instructions`)."""


def drain_once(side: str, messages: int) -> None:
    """Drain ``messages`` once on ``side``: what a counted process runs."""
    global N  # drain's message count, for this process alone
    N = messages
    IDIOMATIC[side]()
    pykka.ActorRegistry.stop_all()


def instructions() -> None:
    """The idiomatic drains in instructions per message: the host's noise does not move them."""
    if not has_callgrind():
        print("   instructions: skipped, valgrind is not installed")
        return
    print(
        f"   instructions per message over {COUNTED[1] - COUNTED[0]} messages "
        "(callgrind, the actor and worker threads)"
    )
    for kind, messages in (("class", "classes"), ("string", "strings")):
        fsm, plain = (
            instructions_per_item(functools.partial(_command, f"{side}-{messages}"), *COUNTED)
            for side in ("fsm", "plain")
        )
        label = f"drain, idiomatic, {kind} messages"
        print(f"   {label}: FSM {fsm:.0f} vs plain {plain:.0f} instructions/msg")
        print_ratio(f"{label}, plain / FSM (instructions)", plain / fsm, "informational")


def _command(side: str, messages: int) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bench_engine", side, str(messages)]


def main() -> None:
    print_machine("engine throughput: FSM actor vs plain pykka actor (drain of queued messages)")
    print(f"   {N} messages per run, median of {RUNS} runs, runs interleaved")

    def plain() -> float:
        return drain(PlainCounter)

    compare("drain, same work", ">= 0.85", lambda: drain(FSMCounter), plain)
    compare(
        "drain, state timeout re-armed per message",
        ">= 0.75",
        lambda: drain(FSMCounter, 60.0),
        plain,
    )
    compare(
        "drain, idiomatic, class messages",
        ">= 0.85",
        lambda: drain(IdiomaticCounter),
        lambda: drain(PlainIdiomatic),
    )
    compare(
        "drain, idiomatic, string messages",
        ">= 0.85",
        lambda: drain(StringCounter, inc="inc", get="get"),
        lambda: drain(PlainIdiomatic, inc="inc", get="get"),
    )
    compare_asks()
    instructions()


if __name__ == "__main__":
    if len(sys.argv) == 3:
        drain_once(sys.argv[1], int(sys.argv[2]))
    else:
        main()
