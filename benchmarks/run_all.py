"""Run every ``benchmarks/bench_*.py`` script in turn (``make bench``)."""

from __future__ import annotations

import importlib
import pathlib
import sys


def main() -> int:
    here = pathlib.Path(__file__).parent
    only = sys.argv[1:]
    for path in sorted(here.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        module = importlib.import_module(f"benchmarks.{path.stem}")
        module.main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
