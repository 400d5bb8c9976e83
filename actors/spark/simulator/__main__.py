"""``python -m actors.spark.simulator``: the same as ``spark-sim``."""

from actors.spark.simulator.cli import main

main()
