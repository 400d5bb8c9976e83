"""Ray's errors in actorfsm's terms: a dead host or node is ``HostLost``/``NodeLost``.

Ray says an actor died; whether its node died too is asked of the cluster
(the node of each host is known from its start), so a watcher learns which of
the two it was.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from actorfsm.ray.errors import HostLost, NodeLost

__all__ = ["GetTimeoutError", "RayActorError", "background", "lost", "node_alive", "nodes", "ray"]


def nodes() -> list[dict[str, Any]]:
    """The cluster's nodes as Ray lists them (``NodeID``, ``Alive``, ``Resources``, ...)."""
    listed: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return listed


def node_alive(node_id: str) -> bool:
    """Whether the cluster holds node ``node_id`` to be alive."""
    return any(node["NodeID"] == node_id and node["Alive"] for node in nodes())


def lost(what: str, node_id: str, error: BaseException) -> HostLost:
    """The error for ``what`` (an FSM) whose host died with Ray's ``error``."""
    if node_alive(node_id):
        return HostLost(f"{what}: its host process died ({type(error).__name__})")
    return NodeLost(f"{what}: its node {node_id[:12]} died or was declared dead")


background = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="actorfsm-ray")
"""Where Ray's completion callbacks hand their work: they must not call Ray themselves."""
