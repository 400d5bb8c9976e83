"""Where the controller is: an explicit URL, checked, or discovery of USB ports and TCP hosts.

An explicit device URL is a path (``/dev/ttyACM0``, a pty or its symlink: any
absolute path) or ``socket://host:port``. pyserial understands more URL
schemes (``spy://``, ``rfc2217://``, ``loop://``, ``alt://``, ``hwgrep://``,
``cp2110://``...), some of which log traffic, reach the network or pick a
device by pattern; :func:`check_device_url` refuses them unless explicitly
allowed (``allow_any_url``), so a configuration typo or an injected value
cannot make the connector talk somewhere unexpected.

Without a URL the Connection discovers the controller: first
USB ports whose VID:PID is a Photon (2B04:C006) or a P1 (2B04:C008), found
with ``serial.tools.list_ports.comports()``, then the configured TCP hosts
(``socket://host:8332`` unless a port is given). Listing ports reads sysfs and
may be slow, so it runs on a :class:`Discoverer` thread that posts the result
(:class:`Discovered`) to the Connection; no handler waits for it.

Discovery is *exhausted* after ``max_attempts`` consecutive rounds in which no
candidate could be opened, but only when the mode includes USB: then the
connector gives up (:class:`DiscoveryExhausted`) and the program exits with a
non-zero code, so that a container restart policy makes newly plugged USB
devices visible (the seed: "reboot periodically while discovering USB devices,
but preferably only then"). TCP-only discovery retries forever.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import pykka
import structlog
from serial.tools import list_ports

log = structlog.get_logger("actors.spark.discovery")

DiscoveryMode = Literal["usb", "tcp", "all"]
MODES: tuple[DiscoveryMode, ...] = ("usb", "tcp", "all")

PHOTON = (0x2B04, 0xC006)
"""USB vendor and product id of a Particle Photon."""

P1 = (0x2B04, 0xC008)
"""USB vendor and product id of a Particle P1."""

DEFAULT_TCP_PORT = 8332
"""The controller's TCP port when a host is given without one."""

ALLOWED_FORMS = "an absolute device path (e.g. /dev/ttyACM0) or socket://host:port"


def check_device_url(url: str, *, allow_any: bool = False) -> str:
    """Return ``url`` if it is an allowed device URL; ``ValueError`` naming it otherwise.

    Allowed: an absolute path, or ``socket://host:port`` with a port in 1..65535.
    A path that is a regular file or a directory is refused: it can never be a
    controller, and retrying it would only warn every round. A path that does
    not exist yet is allowed (a USB controller may be plugged in later).
    ``allow_any`` lets any pyserial URL through unchanged (an explicit opt-in).
    """
    if allow_any:
        return url
    if url.startswith("/"):
        _check_not_a_file(url)
        return url
    parts = urlsplit(url)
    if parts.scheme == "socket":
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.hostname and port is not None and 0 < port < 65536 and not parts.path:
            return url
        msg = f"device URL {url!r} is not socket://host:port with a port in 1..65535"
        raise ValueError(msg)
    scheme = f"the scheme {parts.scheme}://" if parts.scheme else "a relative path"
    msg = (
        f"device URL {url!r} is refused ({scheme}): use {ALLOWED_FORMS}; "
        "other pyserial URL handlers need allow_any_url (--allow-any-url)"
    )
    raise ValueError(msg)


def tcp_url(host: str) -> str:
    """``socket://`` URL for ``host`` or ``host:port`` (the default port 8332 if none)."""
    name, sep, port_text = host.rpartition(":")
    if not sep:
        name, port_text = host, str(DEFAULT_TCP_PORT)
    if not name or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        msg = f"TCP host {host!r} is not HOST or HOST:PORT with a port in 1..65535"
        raise ValueError(msg)
    return f"socket://{name}:{int(port_text)}"


def _check_not_a_file(path: str) -> None:
    """``ValueError`` if ``path`` is a regular file or a directory (a device or nothing is fine)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # not there (yet), or not ours to look at: opening it will say why
    for test, kind in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory")):
        if test(mode):
            msg = f"device path {path!r} is {kind}, not a serial device or pty"
            raise ValueError(msg)


class DiscoveryExhausted(Exception):
    """No controller was found in ``attempts`` consecutive discovery rounds (USB included).

    Raised by the Connection; the connector's supervisor escalates it, so the
    connector gives up and the program exits with its documented code.
    """

    def __init__(self, mode: DiscoveryMode, attempts: int) -> None:
        super().__init__(
            f"no controller found in {attempts} discovery attempts (discovery={mode}); "
            "giving up so that a restart can rediscover USB devices"
        )
        self.mode = mode
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class DiscoveryConfig:
    """How to find the controller when no device URL is configured.

    ``mode`` is ``usb``, ``tcp`` or ``all`` (USB first, then TCP); ``tcp_hosts``
    are ``host`` or ``host:port`` (port 8332 by default); ``max_attempts``
    consecutive failed rounds exhaust a discovery that includes USB;
    ``usb_ids`` are the (VID, PID) pairs that count as a controller.
    """

    mode: DiscoveryMode = "all"
    tcp_hosts: tuple[str, ...] = ()
    max_attempts: int = 10
    usb_ids: tuple[tuple[int, int], ...] = (PHOTON, P1)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            msg = f"discovery mode must be one of {', '.join(MODES)}, not {self.mode!r}"
            raise ValueError(msg)
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            msg = f"max_attempts must be an integer, not {self.max_attempts!r}"
            raise ValueError(msg)
        if self.max_attempts < 1:
            msg = f"max_attempts must be >= 1, not {self.max_attempts!r}"
            raise ValueError(msg)
        for host in self.tcp_hosts:
            tcp_url(host)  # raises for a malformed host

    @property
    def exhaustible(self) -> bool:
        """Whether failed rounds can exhaust discovery: only when USB is included."""
        return self.mode in ("usb", "all")

    def usb_ports(self) -> list[str]:
        """Device paths of the connected USB ports with a controller's VID:PID (blocks: sysfs)."""
        return [
            port.device
            for port in list_ports.comports()
            if (getattr(port, "vid", None), getattr(port, "pid", None)) in self.usb_ids
        ]

    def candidates(self) -> list[str]:
        """The URLs to try, in order: USB device paths, then TCP hosts (blocks: see above)."""
        urls = self.usb_ports() if self.mode in ("usb", "all") else []
        if self.mode in ("tcp", "all"):
            urls += [tcp_url(host) for host in self.tcp_hosts]
        return urls


@dataclass(frozen=True, slots=True)
class Discovered:
    """Posted by a :class:`Discoverer`: the candidate URLs of one round (maybe none)."""

    generation: int
    urls: tuple[str, ...]
    error: str = ""


class Discoverer:
    """Lists the candidates of one discovery round on a daemon thread and posts them."""

    def __init__(self, config: DiscoveryConfig, generation: int, actor: pykka.ActorRef[Any]):
        self.config = config
        self.generation = generation
        self._actor = actor
        self._thread = threading.Thread(
            target=self._run, name=f"spark-discovery-{generation}", daemon=True
        )

    def start(self) -> Discoverer:
        """Start the thread; returns ``self``."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            found = Discovered(self.generation, tuple(self.config.candidates()))
        except Exception as exc:  # a failing port listing is one failed round, not a crash
            found = Discovered(self.generation, (), f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(pykka.ActorDeadError):  # the Connection stopped meanwhile
            self._actor.tell(found)
