"""``make demo``: the project's main job, start to end, printing what happens.

First the Spark connector against the built-in simulator, with faults injected
while it runs (``spark_demo``); then the Buncher, Akka's FSM example. It
finishes by itself in a few seconds. actorfsm's supervision and debugging aids
have demos of their own: ``python -m examples.supervision_demo`` and
``python -m examples.debugging_demo``.

``python -m examples.main_demo --observer`` serves the observer page while the
demo runs (its address is printed first) and keeps it open afterwards, until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading

from examples import buncher_demo, spark_demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.main_demo")
    parser.add_argument(
        "--observer", action="store_true", help="serve the observer page (until Ctrl-C)"
    )
    args = parser.parse_args([] if argv is None else argv)
    server = None
    if args.observer:
        from actorfsm.observer import serve  # noqa: PLC0415 (only with --observer)

        server = serve()
        print(f"observer: {server.url}", flush=True)
    try:
        spark_demo.main()
        print()
        buncher_demo.main()
        if server is not None:
            print(f"\ndemo finished; the observer stays open at {server.url} (Ctrl-C to quit)")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
