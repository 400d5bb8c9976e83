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


def print_ratio(label: str, ratio: float, target: str) -> None:
    """Print one compared figure with the target it is measured against."""
    print(f"   {label}: {ratio:.3f}  (target {target})")
