"""What every benchmark script shares: the machine banner and medians of repeated runs.

Benchmarks are scripts, not tests: each compares two things side by side in one
run and prints the ratio of their medians, because the machine is shared and
noisy and a single run proves little.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from collections.abc import Callable


def print_machine(title: str) -> None:
    """Print a banner naming the benchmark and the machine it runs on."""
    print(f"== {title}")
    print(
        f"   machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]} ({platform.python_implementation()})"
    )


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, list[float]]:
    """Call ``measure`` ``runs`` times; return the median and all samples."""
    samples = [measure() for _ in range(runs)]
    return statistics.median(samples), samples


def side_by_side(
    runs: int, subject: Callable[[], float], reference: Callable[[], float]
) -> tuple[float, float, float]:
    """Medians of ``subject`` and ``reference`` over ``runs`` pairs, and of their per-pair ratio.

    Each pair runs both, alternating which goes first. The ratio returned is
    the median of ``reference / subject`` per pair (a throughput ratio when
    both measure time per item): comparing each run with its neighbour cancels
    the drift of a shared machine far better than a ratio of two medians.
    """
    subjects: list[float] = []
    references: list[float] = []
    for run in range(runs):
        if run % 2:
            subjects.append(subject())
            references.append(reference())
        else:
            references.append(reference())
            subjects.append(subject())
    ratios = [ref / sub for sub, ref in zip(subjects, references, strict=True)]
    return statistics.median(subjects), statistics.median(references), statistics.median(ratios)


def print_ratio(label: str, ratio: float, target: str) -> None:
    """Print one compared figure with the target it is measured against."""
    print(f"   {label}: {ratio:.3f}  (target {target})")
