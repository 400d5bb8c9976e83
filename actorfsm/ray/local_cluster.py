"""A real multi-node Ray cluster on this machine, for tests, demos and benchmarks.

Each node is a raylet of its own with its own resources, as on separate
machines; removing one is a node death as Ray sees it. Failure detection is
tuned (:data:`FAST_FAILURE_DETECTION`) so a dead or frozen node is declared
dead in a few seconds instead of Ray's default minute.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ray
import structlog
from ray.cluster_utils import Cluster

from actorfsm.ray.host import LOG_LEVEL_VARIABLE
from actorfsm.ray.placement import shutdown

log = structlog.get_logger("actorfsm.ray")

FAST_FAILURE_DETECTION: dict[str, int] = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}
"""Ray ``_system_config`` for the head: a node that misses three 0.5 s health checks is dead.

On a real cluster pass the same keys to ``ray start --head --system-config='{...}'``.
"""

START_ATTEMPTS = 2
"""How often :func:`local_cluster` tries to start Ray before it fails with the reason."""

_OBJECT_STORE = 100 * 1024 * 1024  # small messages only: keep each node's store small


@contextlib.contextmanager
def local_cluster(
    nodes: Sequence[Mapping[str, float]] = ({}, {}),
    head: Mapping[str, float] | None = None,
    host_log_level: str = "info",
) -> Iterator[Cluster]:
    """A head and one node per entry of ``nodes`` (its custom resources), connected to.

    Workers import the driver's modules (``PYTHONPATH`` is the driver's path);
    hosts log at ``host_log_level`` (their lines reach this process's stderr).
    On exit every FSM, host, node and Ray process it started is ended.
    """
    os.environ[LOG_LEVEL_VARIABLE] = host_log_level
    # Raylets log at INFO by default, and a removed node's log reaches the driver.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "warning")
    path = os.pathsep.join(os.path.abspath(entry or os.curdir) for entry in sys.path)
    os.environ["PYTHONPATH"] = path
    cluster = _started(nodes, head)
    try:
        yield cluster
    finally:
        _end(cluster)


def _started(nodes: Sequence[Mapping[str, float]], head: Mapping[str, float] | None) -> Cluster:
    """Start the cluster and connect; a start that fails is cleaned up and tried once more.

    On a loaded machine a raylet sometimes gives up waiting for its metrics
    agent; a second start then usually works. If it does not, Ray's reason is raised.
    """
    failure: Exception | None = None
    for attempt in range(START_ATTEMPTS):
        cluster = None
        try:
            cluster = Cluster(
                initialize_head=True,
                head_node_args={
                    "num_cpus": 1,
                    "resources": dict(head or {}),
                    "object_store_memory": _OBJECT_STORE,
                    "include_dashboard": False,
                    "_system_config": FAST_FAILURE_DETECTION,
                },
            )
            for resources in nodes:
                add_node(cluster, resources)
            ray.init(address=cluster.address, logging_level=logging.WARNING, configure_logging=True)
            cluster.wait_for_nodes()
        except Exception as exc:
            failure = exc
            log.warning("ray_start_failed", attempt=attempt + 1, error=repr(exc))
            if cluster is not None:
                _end(cluster)
            continue
        return cluster
    msg = f"Ray did not start after {START_ATTEMPTS} attempts: {failure!r}"
    raise RuntimeError(msg) from failure


def _end(cluster: Cluster) -> None:
    """Stop the FSMs and hosts, disconnect, and end every process of ``cluster``."""
    try:
        if ray.is_initialized():
            with contextlib.suppress(Exception):
                shutdown()
            ray.shutdown()
    finally:
        cluster.shutdown()  # type: ignore[no-untyped-call]


def add_node(cluster: Cluster, resources: Mapping[str, float]) -> Any:
    """Add a node with one CPU and ``resources`` to ``cluster`` (returns Ray's node)."""
    return cluster.add_node(
        num_cpus=1, resources=dict(resources), object_store_memory=_OBJECT_STORE
    )
