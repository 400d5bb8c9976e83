"""What debugging costs: the rolling log, stuck-handler detection and (off) debug tracing.

Each figure is a drain-throughput ratio measured side by side in one run (see
``bench_engine``): LoggingFSM with ``log_depth=12`` vs FSM; stuck-handler
detection on (default) vs off; and tracing off vs the engine as it was before
these features (loaded from git history into a temporary package).

The effects are a few percent, less than this shared host's jitter from run
to run (single pairs range from 0.7 to 1.2), so each wall-clock ratio is the
median of many short adjacent pairs: short, so that both runs of a pair see
the same load. It is printed beside the ratio of instructions per message
counted under callgrind (when valgrind is installed), which does not depend
on the host's load.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Iterator
from typing import Any

import actorfsm
from actorfsm import LoggingFSM
from benchmarks import bench_engine
from benchmarks.bench_engine import S, counter_class, drain
from benchmarks.harness import (
    LAYOUTS,
    has_callgrind,
    instructions_per_item,
    load_engine_at,
    print_machine,
    print_ratio,
    side_by_side,
)

PAIRS = 201  # the effects measured (1-7%) are far smaller than this host's jitter per run
MESSAGES = 20_000  # per drain: 30-50 ms, short enough that a pair shares the host's load
BASELINE_REV = "d2a1ae2"  # the engine as benchmarked before the debugging features
COUNTED = (2_000, 12_000)  # messages per drain under callgrind: the difference is compared
FSMCounter = counter_class(actorfsm)


class LoggedCounter(FSMCounter, LoggingFSM[S, int]):  # type: ignore[misc,valid-type]
    log_depth = 12


class UnwatchedCounter(FSMCounter):  # type: ignore[misc,valid-type]
    handler_warn_after = None


COMPARISONS = (
    ("LoggingFSM log_depth=12 / FSM", ">= 0.90", "logged", "fsm"),
    ("stuck detection on / off", ">= 0.97", "fsm", "unwatched"),
    (f"tracing off / engine at {BASELINE_REV}", ">= 0.98", "fsm", "baseline"),
)
"""Label, target, subject side, reference side (names known to :func:`side`)."""


def side(name: str) -> type[Any]:
    """The counter class a side of a comparison drains."""
    if name == "baseline":
        baseline = load_engine_at(BASELINE_REV)
        if baseline is None:
            msg = f"the engine at {BASELINE_REV} needs the git history"
            raise LookupError(msg)
        return counter_class(baseline)
    sides: dict[str, type[Any]] = {
        "logged": LoggedCounter,
        "fsm": FSMCounter,
        "unwatched": UnwatchedCounter,
    }
    return sides[name]


def compare(label: str, target: str, subject: str, reference: str) -> None:
    """Print throughput of ``subject`` / ``reference``: wall clock, then instructions."""
    try:
        subject_class, reference_class = side(subject), side(reference)
    except LookupError as exc:
        print(f"   {label}: skipped ({exc})")
        return
    with messages_per_drain(MESSAGES):
        subject_median, reference_median, ratio = side_by_side(
            PAIRS, lambda: drain(subject_class), lambda: drain(reference_class)
        )
    print(f"   {label}: {1e6 * subject_median:.2f} vs {1e6 * reference_median:.2f} us/msg")
    print_ratio(f"{label} (throughput, median of pair ratios)", ratio, target)
    if not has_callgrind():
        print(f"   {label} (instructions): skipped, valgrind is not installed")
        return
    subject_count, reference_count = count_instructions(subject), count_instructions(reference)
    print(f"   {label}: {subject_count:.0f} vs {reference_count:.0f} instructions/msg")
    print_ratio(f"{label} (instructions per message)", reference_count / subject_count, target)


@functools.cache
def count_instructions(name: str) -> float:
    """Instructions per drained message of side ``name``, under callgrind."""

    def command(messages: int) -> list[str]:
        return [sys.executable, "-m", "benchmarks.bench_debugging", "--drain", name, str(messages)]

    return instructions_per_item(command, *COUNTED)


def drain_once(name: str, messages: int) -> None:
    """Drain ``messages`` once on side ``name`` (what runs under callgrind)."""
    with messages_per_drain(messages):
        drain(side(name))


@contextlib.contextmanager
def messages_per_drain(messages: int) -> Iterator[None]:
    """Make ``bench_engine.drain`` queue ``messages`` (its module's ``N``) inside the block."""
    default, bench_engine.N = bench_engine.N, messages
    try:
        yield
    finally:
        bench_engine.N = default


def main() -> None:
    print_machine("debugging features: what they cost on the hot path")
    print(f"   wall clock: drains of {MESSAGES} messages, median of {PAIRS} adjacent pairs")
    if has_callgrind():
        counted = COUNTED[1] - COUNTED[0]
        print(
            f"   instructions: per message over {counted} messages in the actor threads "
            f"(callgrind, mean of {len(LAYOUTS)} memory layouts)"
        )
    for comparison in COMPARISONS:
        compare(*comparison)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drain"]:
        drain_once(sys.argv[2], int(sys.argv[3]))
    else:
        main()
