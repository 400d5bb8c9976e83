"""actorfsm across machines: the same FSMs on a Ray cluster (``pip install actorfsm[ray]``).

``start`` runs an FSM in a host process on a node with the resources it
needs and returns a :class:`RayRef` that works like a pykka ``ActorRef``;
``get`` finds one by name; ``inspect`` and ``diagram`` look into it;
``watch`` (actorfsm's own) tells when it stops or its host or node dies; and
``remote_child`` lets a ``Supervisor`` restart it, on another node if need be.
"""

from actorfsm.ray.errors import HostLost, NodeLost, ResourcesUnavailable
from actorfsm.ray.local_cluster import FAST_FAILURE_DETECTION, local_cluster
from actorfsm.ray.placement import diagram, get, hosts, inspect, shutdown, start
from actorfsm.ray.ref import RayFuture, RayRef
from actorfsm.ray.remote_child import RemoteChild, remote_child

__all__ = [
    "FAST_FAILURE_DETECTION",
    "HostLost",
    "NodeLost",
    "RayFuture",
    "RayRef",
    "RemoteChild",
    "ResourcesUnavailable",
    "diagram",
    "get",
    "hosts",
    "inspect",
    "local_cluster",
    "remote_child",
    "shutdown",
    "start",
]
