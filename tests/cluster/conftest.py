"""One real Ray cluster for every cluster test: a head and two nodes on this machine.

Node ``n1`` and ``n2`` each have their own resource and a ``dev`` unit (the
device a supervised child needs); starting takes ~10 s, so it is shared by the
session and shut down, with every host and Ray process, at its end. If Ray
cannot start, every test here fails with Ray's reason.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actorfsm.ray import local_cluster

sys.path.insert(0, str(Path(__file__).parent))  # hosts import cluster_fsms by name

from cluster_fsms import NODES


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    with local_cluster(NODES) as running:
        yield running
