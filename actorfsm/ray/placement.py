"""Starting FSMs on the cluster, finding them by name, looking into them, shutting down.

FSMs that need the same resources share one host (a named, detached Ray
actor that takes no CPU), so a thousand FSMs on a node are a thousand FSMs in
one process, not a thousand Ray actors. A host holding a resource such as
``{"usb:spark-1": 1}`` is placed on the node that has it; if no live node has
it, :func:`start` fails at once with ``ResourcesUnavailable`` instead of
leaving an actor pending.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ray
import structlog
from ray.actor import ActorHandle
from ray.exceptions import GetTimeoutError, RayActorError

from actorfsm.fsm import FSM
from actorfsm.introspection import FSMSnapshot
from actorfsm.ray import failures
from actorfsm.ray.errors import ResourcesUnavailable
from actorfsm.ray.host import CALLS, Host, HostActor
from actorfsm.ray.outbox import HostHandle
from actorfsm.ray.ref import RayRef, unwrap
from actorfsm.ray.registry import NAMESPACE, registry
from actorfsm.ray.wire import decode, encode

log = structlog.get_logger("actorfsm.ray")

_HOST_PREFIX = "host:"
_HOST_RETRIES = 3  # a host that died is replaced; its name frees a moment after its death


def start(
    fsm_class: type[FSM[Any, Any]],
    *args: Any,
    name: str | None = None,
    resources: Mapping[str, float] | None = None,
    start_timeout: float = 30.0,
    quiet: bool = False,
    **kwargs: Any,
) -> RayRef:
    """Start ``fsm_class(*args, **kwargs)`` in a host on a node with ``resources``.

    ``name`` makes it findable with :func:`get` (a name in use is refused
    with ``ValueError``). ``quiet`` is for supervisors in another process: the
    FSM's failures are then logged by the supervisor, not by the host. Raises
    ``ResourcesUnavailable`` if no live node has ``resources``, and whatever
    the constructor raised.
    """
    if not (isinstance(fsm_class, type) and issubclass(fsm_class, FSM)):
        msg = f"actorfsm.ray.start needs an FSM subclass, got {fsm_class!r}"
        raise TypeError(msg)
    wanted = _checked(resources)
    payload = encode((fsm_class, args, kwargs))
    for attempt in range(_HOST_RETRIES):
        host = _host_for(wanted)
        try:
            reply = ray.get(host.start.remote(payload, name, quiet), timeout=start_timeout)
        except GetTimeoutError:
            msg = f"no host with {wanted} started within {start_timeout} s"
            raise ResourcesUnavailable(msg) from None
        except RayActorError:
            if attempt == _HOST_RETRIES - 1:
                raise
            time.sleep(0.5)
            continue
        break
    ref = unwrap(decode(reply), RayRef)
    if name is not None:
        holder = ray.get(registry().claim.remote(name, ref))
        if holder is not None:
            ref.stop(block=False)
            msg = f"the name {name!r} is taken by {holder!r}"
            raise ValueError(msg)
    return ref


def get(name: str, timeout: float = 10.0) -> RayRef:
    """The ref of the running FSM started with ``name`` (``LookupError`` if there is none)."""
    ref: RayRef | None = ray.get(registry().lookup.remote(name), timeout=timeout)
    if ref is not None and ref.is_alive():
        return ref
    if ref is not None:  # its host died: the name is free again
        ray.get(registry().release.remote(name, ref), timeout=timeout)
    msg = f"no running FSM is named {name!r} on the cluster"
    raise LookupError(msg)


def inspect(ref: RayRef, timeout: float = 10.0) -> FSMSnapshot:
    """``actorfsm.inspect`` of a remote FSM: state, data, timers, rolling log, metrics."""
    reply = ray.get(ref.host.inspect.remote(ref.fsm_id), timeout=timeout)
    return unwrap(decode(reply), FSMSnapshot)


def diagram(ref: RayRef, timeout: float = 10.0) -> str:
    """``actorfsm.diagram`` of a remote FSM: mermaid text with its observed transitions."""
    reply = ray.get(ref.host.diagram.remote(ref.fsm_id), timeout=timeout)
    return unwrap(decode(reply), str)


def hosts() -> list[ActorHandle[Host]]:
    """The handles of every host on the cluster."""
    named = ray.util.list_named_actors(all_namespaces=True)
    return [
        ray.get_actor(entry["name"], namespace=NAMESPACE)
        for entry in named
        if entry["namespace"] == NAMESPACE and entry["name"].startswith(_HOST_PREFIX)
    ]


def shutdown(timeout: float = 5.0) -> int:
    """Stop every FSM on the cluster, then end the hosts and the registry; how many FSMs ran.

    Hosts are detached (they outlive the process that started them), so a
    program that is done with the cluster calls this before ``ray.shutdown()``.
    """
    stopped = 0
    for host in hosts():
        stopped += _stop_all(host, timeout)
        ray.kill(host)
    ray.kill(registry())
    return stopped


def _stop_all(host: HostHandle, timeout: float) -> int:
    """Stop every FSM of ``host``; how many ran (0 if the host is gone or does not answer)."""
    try:
        return ray.get(host.stop_all.remote(timeout), timeout=timeout * 4)
    except (RayActorError, GetTimeoutError) as exc:
        log.warning("host_stop_failed", host=repr(host), error=repr(exc))
        return 0


def _checked(resources: Mapping[str, float] | None) -> dict[str, float]:
    if resources is None:
        return {}
    wanted = dict(resources)
    for key, amount in wanted.items():
        number = isinstance(amount, int | float) and not isinstance(amount, bool)
        if not isinstance(key, str) or not number or amount <= 0:
            msg = f"resources must map names to positive amounts, got {resources!r}"
            raise ValueError(msg)
    return wanted


def _host_for(resources: dict[str, float]) -> HostHandle:
    """The host for ``resources`` (started on a node that has them when there is none yet)."""
    if resources and not _some_node_has(resources):
        msg = f"no live node of the cluster has {resources}"
        raise ResourcesUnavailable(msg)
    key = ",".join(f"{name}={amount:g}" for name, amount in sorted(resources.items()))
    host: HostHandle = HostActor.options(
        name=_HOST_PREFIX + (key or "any"),
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        num_cpus=0,
        resources=resources or None,
        max_concurrency=CALLS,
    ).remote()
    return host


def _some_node_has(resources: dict[str, float]) -> bool:
    return any(
        node["Alive"]
        and all(node["Resources"].get(name, 0.0) >= amount for name, amount in resources.items())
        for node in failures.nodes()
    )
