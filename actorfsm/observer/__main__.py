"""``python -m actorfsm.observer``: a small supervised system with the observer page open.

Prints the page's address and runs until Ctrl-C (or ``--seconds``). Options:
``--host``/``--port`` (default 127.0.0.1 and a free port), ``--pool N`` plain
FSMs besides the tree, and ``--actions-token T`` to allow stop and restart.
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from actorfsm import logging as actorfsm_logging
from actorfsm.observer import demo, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actorfsm.observer", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pool", type=int, default=200, help="plain FSMs besides the tree")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument("--actions-token", default=None, help="allow actions with this token")
    args = parser.parse_args(argv)
    actorfsm_logging.configure(level="warning")
    refs = demo.start(args.pool)
    server = serve(args.host, args.port, actions_token=args.actions_token)
    print(f"observer: {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait(args.seconds)
    finally:
        server.stop()
        for ref in refs:
            ref.stop()


if __name__ == "__main__":
    main()
