"""``python -m actors.spark.soak``: the chaos soak as a command-line program.

It prints the table to stdout (progress and the connector's error lines go
to stderr), writes the same figures to ``--json PATH`` if asked, and exits 0
when every must-be-zero figure is zero, 1 otherwise.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

from actors.malloc_arenas import limit_malloc_arenas
from actors.spark.soak.figures import Figures, problems
from actors.spark.soak.report import table
from actors.spark.soak.runner import SoakOptions, run


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m actors.spark.soak",
        description=(
            "Run the Spark connector against the simulator under a seeded storm of faults "
            "while client threads send commands; report what was lost, wrong, leaked or loud."
        ),
    )
    parser.add_argument("--seed", type=int, default=1, help="the fault schedule's seed (1)")
    parser.add_argument(
        "--faults", type=_positive_int, default=1000, help="faults to inject (1000)"
    )
    parser.add_argument("--duration", type=_seconds, help="stop injecting after this many seconds")
    parser.add_argument(
        "--transport", choices=("pty", "tcp"), default="pty", help="how to reach it (pty)"
    )
    parser.add_argument(
        "--clients", type=_positive_int, default=4, help="client threads sending commands (4)"
    )
    parser.add_argument(
        "--via",
        choices=("api", "http"),
        default="api",
        help="the clients' commands go through the in-process API or the HTTP API (api)",
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the figures here")
    return parser


def verdict(figures: Figures) -> int:
    """The exit code: 0 when no figure broke its bound, else 1."""
    return 1 if problems(figures) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak the arguments describe; print the table; return the exit code."""
    limit_malloc_arenas()  # before any thread: a long run's memory must not creep
    args = _parser().parse_args(argv)
    options = SoakOptions(
        seed=args.seed,
        faults=args.faults,
        duration=args.duration,
        transport=args.transport,
        clients=args.clients,
        via=args.via,
        echo=sys.stderr,
        progress=sys.stderr,
    )
    figures = run(options)
    print(table(figures))
    if args.json is not None:
        figures.write_json(args.json)
    return verdict(figures)
