"""``python -m actors.spark.simulator``: the same as ``spark-sim``."""

from actors.spark.programs import simulator

raise SystemExit(simulator())
