"""The entry points of ``spark-connector`` and ``spark-sim``: stop signals first, then the rest.

Importing the programs (pykka, structlog, pyserial, the actors) takes half a
second and more, and a SIGTERM meanwhile used to kill the process with exit
code 143 and no log line. Each entry point here installs
:func:`~actors.stop_signal.exit_on_stop_signals` before it imports its
program, so a stop signal at any moment after the interpreter started ends it
with exit code 0 (and, once the program runs, with a clean stop). This module
lives outside ``actors.spark``, whose package imports all of that, and
imports only :mod:`actors.stop_signal`.
"""

from __future__ import annotations

from actors.stop_signal import exit_on_stop_signals


def connector() -> int:
    """``spark-connector`` (``python -m actors.spark``): see :mod:`actors.spark.cli`."""
    exit_on_stop_signals()
    from actors.spark.cli import main  # noqa: PLC0415  (after the signal handlers, on purpose)

    return main()


def simulator() -> int:
    """``spark-sim``: see :mod:`actors.spark.simulator.cli`."""
    exit_on_stop_signals()
    from actors.spark.simulator.cli import main  # noqa: PLC0415  (after the signal handlers)

    main()
    return 0
