"""Death watch across processes: ``watch(watcher, ray_ref)`` in any process of the cluster.

The first watch of a remote FSM in this process makes one call to its host
that returns when the FSM stops (at once if it already has); its answer is the
stop reason. If the host dies first the call fails, and the reason becomes
``Failure(HostLost(...))`` or, if its node is gone, ``Failure(NodeLost(...))``.
Every watcher in this process is then told ``Terminated(ref, reason)``.
"""

from __future__ import annotations

import concurrent.futures
import threading

from actorfsm import death_watch
from actorfsm.death_watch import Watch
from actorfsm.messages import Failure, Reason
from actorfsm.ray import failures
from actorfsm.ray.errors import HostLost
from actorfsm.ray.hosting import RemoteRef
from actorfsm.ray.outbox import PENDING
from actorfsm.ray.wire import decode
from actorfsm.recipient import Ref

_lock = threading.Lock()
_watchers: dict[RemoteRef, list[Ref]] = {}


def request(target: RemoteRef, request: Watch) -> None:
    """Start or end ``request.watcher``'s watch of ``target``."""
    with _lock:
        watchers = _watchers.get(target)
        if not request.watching:
            if watchers is not None and request.watcher in watchers:
                watchers.remove(request.watcher)
            return
        if watchers is not None:
            if request.watcher not in watchers:
                watchers.append(request.watcher)
            return
        _watchers[target] = [request.watcher]
    _ask_host(target)


def _ask_host(target: RemoteRef) -> None:
    """One watch call to ``target``'s host; it returns PENDING now and then, and is made again."""
    try:
        inner = target.host.watch.remote(target.fsm_id).future()
    except Exception as exc:  # Ray is shut down here: the host is out of reach for good
        _fire(target, Failure(HostLost(f"{target}: {exc}")))
        return
    inner.add_done_callback(lambda done: failures.background.submit(_settle, target, done))


def _settle(target: RemoteRef, done: concurrent.futures.Future[bytes]) -> None:
    try:
        payload = done.result()
        if payload == PENDING:
            with _lock:
                watched = target in _watchers
            if watched:
                _ask_host(target)
            return
        reason = _reason(decode(payload))
    except failures.RayActorError as exc:
        reason = Failure(failures.lost(repr(target), target.node_id, exc))
    except Exception as exc:
        reason = Failure(HostLost(f"{target}: {exc!r}"))
    _fire(target, reason)


def _reason(decoded: object) -> Reason | None:
    """The stop reason a host's ``watch`` answered (``None``: no longer known)."""
    if decoded is None or isinstance(decoded, Reason):
        return decoded
    msg = f"not a stop reason: {decoded!r:.200}"
    raise TypeError(msg)


def _fire(target: RemoteRef, reason: Reason | None) -> None:
    with _lock:
        watchers = _watchers.pop(target, [])
    for watcher in watchers:
        death_watch.notify(watcher, target, reason)
