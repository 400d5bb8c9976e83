"""``python -m actors.spark.soak``: run the chaos soak (see ``cli``)."""

import sys

from actors.spark.soak.cli import main

sys.exit(main())
