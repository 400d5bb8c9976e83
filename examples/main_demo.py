"""``make demo``: the project's main job, start to end, printing what happens."""

from __future__ import annotations

from examples import buncher_demo


def main() -> None:
    buncher_demo.main()


if __name__ == "__main__":
    main()
