"""The FSMs this process hosts, when it is a host: how refs to them are resolved locally.

A :class:`~actorfsm.ray.ref.RayRef` used inside the host that runs its FSM
goes straight to the FSM's mailbox (no network, same order as any local
tell), and the FSM's own ``ActorRef`` leaving the process is replaced by its
``RayRef``. In the driver and in plain Ray workers nothing is hosted.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Protocol

import pykka

from actorfsm.fsm import FSM
from actorfsm.ray.outbox import HostHandle

LocalRef = pykka.ActorRef[FSM[Any, Any]]
"""The pykka ref of an FSM this host runs, of any class (``FSM``'s parameters are invariant)."""


class RemoteRef(Protocol):
    """A ``RayRef``, as the modules that :mod:`actorfsm.ray.ref` imports see it."""

    @property
    def host(self) -> HostHandle: ...
    @property
    def host_id(self) -> str: ...
    @property
    def fsm_id(self) -> int: ...
    @property
    def node_id(self) -> str: ...
    def tell(self, message: object, /) -> None:
        """Send ``message`` to the FSM."""


_lock = threading.Lock()
_host_id: str | None = None
_by_id: dict[int, LocalRef] = {}
# The FSM's pykka ActorRef -> its RayRef, kept while the ActorRef lives (a
# stopped FSM's Terminated and Transition still carry it).
_remote: weakref.WeakKeyDictionary[object, RemoteRef] = weakref.WeakKeyDictionary()


def become_host(host_id: str) -> None:
    """Mark this process as the host ``host_id`` (called once, by the host actor)."""
    global _host_id
    _host_id = host_id


def add(fsm_id: int, local: LocalRef, remote: RemoteRef) -> None:
    """Record an FSM this host started."""
    with _lock:
        _by_id[fsm_id] = local
        _remote[local] = remote


def remove(fsm_id: int) -> None:
    """Forget an FSM that stopped (its refs then reach nobody here)."""
    with _lock:
        _by_id.pop(fsm_id, None)


def local_ref(remote: RemoteRef) -> LocalRef | None:
    """The pykka ``ActorRef`` behind ``remote`` if this process hosts it, else ``None``."""
    if remote.host_id != _host_id:
        return None
    return _by_id.get(remote.fsm_id)


def is_local(remote: RemoteRef) -> bool:
    """Whether ``remote``'s FSM runs (or ran) in this process."""
    return remote.host_id == _host_id


def remote_ref_of(local: object) -> RemoteRef | None:
    """The ``RayRef`` of an FSM this process hosts, given its pykka ``ActorRef``."""
    return _remote.get(local)
