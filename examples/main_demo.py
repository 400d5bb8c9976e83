"""``make demo``: the project's main job, start to end, printing what happens.

First the Spark connector against the built-in simulator, with faults injected
while it runs (``spark_demo``); then the Buncher, Akka's FSM example. It
finishes by itself in a few seconds. actorfsm's supervision and debugging aids
have demos of their own: ``python -m examples.supervision_demo`` and
``python -m examples.debugging_demo``.
"""

from __future__ import annotations

from examples import buncher_demo, spark_demo


def main() -> None:
    spark_demo.main()
    print()
    buncher_demo.main()


if __name__ == "__main__":
    main()
