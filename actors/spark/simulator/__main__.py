"""``python -m actors.spark.simulator``: the same as ``spark-sim``."""

from actors.programs import simulator

raise SystemExit(simulator())
