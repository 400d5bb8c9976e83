"""``make demo``: the project's main job, start to end, printing what happens.

Until the Spark connector lands, it shows supervision (a failure that
recovers; a dead dependency that is backed off, summarised and given up on)
and then the Buncher.
"""

from __future__ import annotations

from examples import buncher_demo, supervision_demo


def main() -> None:
    supervision_demo.main()
    print()
    buncher_demo.main()


if __name__ == "__main__":
    main()
