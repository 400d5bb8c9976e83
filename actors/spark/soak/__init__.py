"""The chaos soak: the connector against a misbehaving simulated controller, with figures.

``python -m actors.spark.soak`` (``make soak``) injects a seeded storm of
faults while client threads send commands, and reports what was lost,
answered wrongly, not recovered from, logged too loudly or leaked; it exits
non-zero when any of those is not zero. Modules: ``schedule`` (the seeded
faults), ``clients`` (the command threads and their checks), ``phases`` (the
phase subscriber and the phase-rule check), ``logtally`` (counting structlog events),
``resources`` (threads, memory, descriptors), ``runner`` (one run),
``figures`` (the results and their verdict), ``report`` (the table) and
``cli``.
"""

from actors.spark.soak.cli import main, verdict
from actors.spark.soak.figures import Figures, problems
from actors.spark.soak.runner import SoakOptions, run

__all__ = ["Figures", "SoakOptions", "main", "problems", "run", "verdict"]
