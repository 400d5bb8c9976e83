"""What every benchmark script shares: the machine banner, medians of repeated runs
and instruction counts.

Benchmarks are scripts, not tests: each compares two things side by side in one
run and prints the ratio of their medians, because the machine is shared and
noisy and a single run proves little. Where the effect is smaller than the
host's jitter, an instruction count under valgrind's callgrind is the steady
figure to print beside it.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import functools
import importlib
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any


@functools.cache
def load_engine_at(rev: str) -> Any | None:
    """Import the ``actorfsm`` package at git revision ``rev`` as ``actorfsm_<rev>``.

    ``None`` without the git history. Comparisons against an older engine
    (``counter_class(load_engine_at(rev))``) measure what a change costs.
    """
    root = pathlib.Path(__file__).resolve().parent.parent
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", rev, "actorfsm"],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    name = f"actorfsm_{rev}"
    target = pathlib.Path(tempfile.mkdtemp(prefix="actorfsm-baseline-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    package = target / name
    (target / "actorfsm").rename(package)
    for source in package.rglob("*.py"):
        text = source.read_text().replace("from actorfsm", f"from {name}")
        source.write_text(text.replace("import actorfsm", f"import {name}"))
    sys.path.insert(0, str(target))
    return importlib.import_module(name)


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


LAYOUTS = (0, 1_000, 2_500)
"""Bytes of padding in the environment of each counted process, one count per layout.

Where objects land in memory decides how many probes a dict keyed by types
needs (``hash(type)`` is its address), which moves a drain's count by up to
100 instructions per message; the figure is the mean over these layouts.
"""


def instructions_per_item(command: Callable[[int], list[str]], short: int, long: int) -> float:
    """Instructions per item that ``command(items)`` executes outside its main thread.

    Runs ``command(short)`` and ``command(long)`` under callgrind, each in a
    fresh process, and divides the difference by ``long - short``: start-up,
    imports and shutdown cancel out. Only threads other than the main one are
    counted, because actor benchmarks queue work from the main thread and time
    what the actor threads do with it. ``PYTHONHASHSEED`` is fixed, so a count
    repeats to within a few instructions per item in one memory layout; the
    result is the mean over :data:`LAYOUTS`. The processes run in parallel,
    one per core (the counts do not depend on the host's load).
    """
    runs = [(command(items), pad) for pad in LAYOUTS for items in (long, short)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        counts = list(pool.map(lambda run: _callgrind_instructions(*run), runs))
    differences = [counts[i] - counts[i + 1] for i in range(0, len(counts), 2)]
    return statistics.fmean(differences) / (long - short)


def has_callgrind() -> bool:
    """Whether valgrind is installed (instruction counts are skipped without it)."""
    return shutil.which("valgrind") is not None


def _callgrind_instructions(argv: list[str], pad: int) -> int:
    with tempfile.TemporaryDirectory(prefix="callgrind-") as directory:
        out = pathlib.Path(directory) / "out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--separate-threads=yes",
                f"--callgrind-out-file={out}",
                *argv,
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0", "BENCH_LAYOUT_PAD": "x" * pad},
            cwd=pathlib.Path(__file__).resolve().parent.parent,  # where ``-m benchmarks.…`` works
        )
        # One file per thread; "out-01" is the main thread.
        threads = [path for path in out.parent.glob("out-*") if path.name != "out-01"]
        return sum(_total_instructions(path) for path in threads)


def _total_instructions(path: pathlib.Path) -> int:
    """The instruction total of one callgrind output file (its ``summary:`` line)."""
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    msg = f"no instruction total in {path}"
    raise ValueError(msg)
