"""What debugging costs: the rolling log, stuck-handler detection and (off) debug tracing.

Each figure is a drain-throughput ratio measured side by side in one run (see
``bench_engine``): LoggingFSM with ``log_depth=12`` vs FSM; stuck-handler
detection on (default) vs off; and tracing off vs the engine as it was before
these features (loaded from git history into a temporary package).
"""

from __future__ import annotations

import importlib
import pathlib
import subprocess
import sys
import tempfile
from typing import Any

import actorfsm
from actorfsm import LoggingFSM
from benchmarks.bench_engine import S, counter_class, drain
from benchmarks.harness import print_machine, print_ratio, side_by_side

RUNS = 21  # pairs: the effects measured (2-10%) are smaller than this host's jitter per run
BASELINE_REV = "d2a1ae2"  # the engine as benchmarked before the debugging features
FSMCounter = counter_class(actorfsm)


class LoggedCounter(FSMCounter, LoggingFSM[S, int]):  # type: ignore[misc,valid-type]
    log_depth = 12


class UnwatchedCounter(FSMCounter):  # type: ignore[misc,valid-type]
    handler_warn_after = None


def ratio(label: str, target: str, subject: type[Any], reference: type[Any]) -> None:
    """Print throughput of ``subject`` / ``reference``, medians of interleaved runs."""
    subject_median, reference_median, ratio = side_by_side(
        RUNS, lambda: drain(subject), lambda: drain(reference)
    )
    print(f"   {label}: {1e6 * subject_median:.2f} vs {1e6 * reference_median:.2f} us/msg")
    print_ratio(f"{label} (throughput, median of pair ratios)", ratio, target)


def load_baseline() -> Any | None:
    """Import the engine at ``BASELINE_REV`` as a package ``actorfsm_baseline``."""
    root = pathlib.Path(__file__).resolve().parent.parent
    target = pathlib.Path(tempfile.mkdtemp(prefix="actorfsm-baseline-"))
    try:
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", BASELINE_REV, "actorfsm"],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    package = target / "actorfsm_baseline"
    (target / "actorfsm").rename(package)
    for source in package.glob("*.py"):
        text = source.read_text().replace("from actorfsm", "from actorfsm_baseline")
        source.write_text(text.replace("import actorfsm", "import actorfsm_baseline"))
    sys.path.insert(0, str(target))
    return importlib.import_module("actorfsm_baseline")


def main() -> None:
    print_machine("debugging features: what they cost on the hot path")
    print(f"   drain of 200000 messages, {RUNS} adjacent pairs of runs")
    ratio("LoggingFSM log_depth=12 / FSM", ">= 0.90", LoggedCounter, FSMCounter)
    ratio("stuck detection on / off", ">= 0.97", FSMCounter, UnwatchedCounter)
    baseline = load_baseline()
    if baseline is None:
        print("   tracing off / engine before: skipped (needs the git history)")
        return
    ratio(
        f"tracing off / engine at {BASELINE_REV}",
        ">= 0.98",
        FSMCounter,
        counter_class(baseline),
    )


if __name__ == "__main__":
    main()
