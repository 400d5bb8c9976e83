"""Why a remote FSM is gone or cannot be placed: the reasons a cluster adds to an FSM's own.

Each is a :class:`~actorfsm.DependencyLost` (a supervisor restarts after it
only with backoff, and logs a streak of them once) and an ``ActorDeadError``
(what pykka raises for a dead actor, so code that handles that keeps working).
"""

from __future__ import annotations

from pykka import ActorDeadError

from actorfsm.supervision.dependency import DependencyLost


class HostLost(DependencyLost, ActorDeadError):
    """The host process that ran the FSM died (killed, crashed, or shut down)."""


class NodeLost(HostLost):
    """The node that ran the FSM's host died or froze and was declared dead."""


class ResourcesUnavailable(DependencyLost):
    """No live node of the cluster has the resources an FSM asks for."""
