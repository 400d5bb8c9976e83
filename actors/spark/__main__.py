"""``python -m actors.spark``: the ``spark-connector`` program (see :mod:`actors.spark.cli`)."""

from actors.spark.cli import main

raise SystemExit(main())
