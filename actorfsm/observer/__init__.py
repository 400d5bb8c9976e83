"""The observer: a live web page of the running FSMs and supervision trees, and ``/metrics``.

``serve()`` starts it on its own thread and returns the running
:class:`ObserverServer` (``.url``, ``.stop()``); ``python -m actorfsm.observer``
runs a small supervised demo with the page open. Everything the page needs is
shipped in this package: it works without internet access.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import structlog

from actorfsm.observer.server import ObserverServer

__all__ = ["ObserverServer", "serve"]

log = structlog.get_logger("actorfsm.observer")


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    actions_token: str | None = None,
    metrics: bool = True,
    registry: Any = None,
) -> ObserverServer:
    """Serve the observer page on ``host:port`` (port 0: any free port) until ``.stop()``.

    Read-only unless ``actions_token`` is given: then stopping an FSM and
    restarting a supervised child are allowed to requests carrying it. With
    ``metrics`` (and ``prometheus_client`` installed), metrics are enabled on
    ``registry`` (default: prometheus_client's) and served at ``/metrics``.
    """
    if not _is_loopback(host):
        log.warning("observer_not_on_loopback", host=host, actions=actions_token is not None)
    chosen = None
    if metrics:
        try:
            from actorfsm import metrics as metrics_module  # noqa: PLC0415 (optional extra)
        except ImportError:
            log.info("observer_metrics_unavailable", reason="pip install actorfsm[observer]")
        else:
            chosen = metrics_module.enable(registry).registry
    return ObserverServer(host, port, actions_token, chosen)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
