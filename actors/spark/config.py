"""The connector's settings, checked once when they are made.

A :class:`ConnectorConfig` is a frozen value: every actor of the connector gets
the same one, and a wrong value (a negative timeout, a backoff that shrinks)
raises ``ValueError`` where the config is built, not later inside an actor.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

PROTO_VERSION = "3f2243a"
"""The protocol version this service speaks (the one the Spark firmware's handshake announces)."""


MIN_SECONDS = 0.01
"""The shortest interval or timeout accepted: below it a ping or reconnect loop
would keep a core busy (and a backlog of its messages would delay a stop)."""

INTERVALS = (
    "ping_interval",
    "handshake_timeout",
    "command_timeout",
    "broadcast_interval",
    "reconnect_min",
    "reconnect_max",
)
"""The config's intervals and timeouts in seconds, each at least :data:`MIN_SECONDS`."""


def _positive(name: str, value: float, floor: float = 0.0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
    if value < floor:
        raise ValueError(f"{name} must be at least {floor:g} s, not {value!r}")


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """Where the controller is and how patiently to talk to it (times in seconds).

    ``device_url`` is a pyserial URL: a device path (``/dev/ttyACM0``), a pty
    path or ``socket://host:port``. ``datastore`` is the SQLite file (None: the
    default path). ``device_id`` empty accepts any controller; otherwise the
    handshake's id must equal it, ignoring case. ``proto_version`` is the
    protocol version the controller must speak unless ``skip_version_check``.
    Reconnects wait ``reconnect_min``, then times ``reconnect_factor`` per failure,
    at most ``reconnect_max``. Every interval and timeout is at least
    :data:`MIN_SECONDS`.
    """

    device_url: str | None
    datastore: str | os.PathLike[str] | None = None
    device_id: str = ""
    proto_version: str = PROTO_VERSION
    skip_version_check: bool = False
    ping_interval: float = 1.0
    handshake_timeout: float = 120.0
    command_timeout: float = 10.0
    broadcast_interval: float = 5.0
    reconnect_min: float = 2.0
    reconnect_factor: float = 1.5
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if self.device_url is not None and not self.device_url.strip():
            raise ValueError("device_url must not be empty (None means: not configured)")
        if not isinstance(self.device_id, str) or any(c.isspace() for c in self.device_id):
            raise ValueError(f"device_id must be a string without spaces, not {self.device_id!r}")
        for name in INTERVALS:
            _positive(name, getattr(self, name), MIN_SECONDS)
        _positive("reconnect_factor", self.reconnect_factor)
        if self.reconnect_factor < 1:
            raise ValueError(f"reconnect_factor must be >= 1, not {self.reconnect_factor!r}")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError(
                f"reconnect_max ({self.reconnect_max}) must be >= reconnect_min "
                f"({self.reconnect_min})"
            )

    def next_interval(self, interval: float) -> float:
        """The reconnect wait after ``interval``: times the factor, at most the maximum."""
        return min(self.reconnect_max, max(self.reconnect_min, interval * self.reconnect_factor))
