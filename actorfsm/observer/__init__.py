"""The observer: a live web page of the running FSMs and supervision trees, and ``/metrics``.

``serve()`` starts it on its own thread and returns the running
:class:`ObserverServer` (``.url``, ``.stop()``); ``python -m actorfsm.observer``
runs a small supervised demo with the page open. Everything the page needs is
shipped in this package: it works without internet access.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import structlog

from actorfsm.observer.server import ObserverServer

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["ObserverServer", "serve"]

log = structlog.get_logger("actorfsm.observer")


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    actions_token: str | None = None,
    metrics: bool = True,
    registry: CollectorRegistry | None = None,
) -> ObserverServer:
    """Serve the observer page on ``host:port`` (port 0: any free port) until ``.stop()``.

    Read-only unless ``actions_token`` is given: then stopping an FSM and
    restarting a supervised child are allowed to requests carrying it. With
    ``metrics`` (and ``prometheus_client`` installed), ``/metrics`` serves the
    metrics already enabled, or enables them on ``registry`` (default:
    prometheus_client's) until the server stops.
    """
    if not _is_loopback(host):
        log.warning("observer_not_on_loopback", host=host, actions=actions_token is not None)
    if not metrics:
        return ObserverServer(host, port, actions_token, None)
    try:
        from actorfsm import metrics as metrics_module  # noqa: PLC0415 (optional extra)
    except ImportError:
        log.info("observer_metrics_unavailable", reason="pip install actorfsm[observer]")
        return ObserverServer(host, port, actions_token, None)
    enabled_here = metrics_module.current() is None
    chosen = metrics_module.enable(registry).registry
    try:
        server = ObserverServer(host, port, actions_token, chosen)
    except BaseException:
        if enabled_here:
            metrics_module.disable()
        raise
    if enabled_here:
        server.on_stop = metrics_module.disable
    return server


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
