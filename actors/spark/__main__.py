"""``python -m actors.spark``: the ``spark-connector`` program (see :mod:`actors.spark.cli`)."""

from actors.programs import connector

raise SystemExit(connector())
