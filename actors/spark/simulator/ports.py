"""The simulator's two ways in: a TCP server and a pseudo-terminal.

Both are driven by one selector loop (``Simulator``'s thread) and call back into
a :class:`PortEvents` with each new connection and each request line. They hold
one client at a time, like the firmware: a second TCP client replaces the first.

The pty is reached through a symlink whose path never changes (as udev's
``/dev/serial/by-id`` links do for real controllers): a drop or a restart closes
the pty, so the client's reads fail as on an unplugged cable, and opens a new
one behind the same path, so the client can reopen what it opened before. A
pty has no connect event; the port takes the input flush that pyserial's
``open()`` does (seen through the master's packet mode) as the client
connecting, and sends the handshake then. Clients that open the pty without
flushing get their handshake from a Noop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import select
import selectors
import shutil
import socket
import struct
import tempfile
import termios
import time
import tty
from typing import Protocol

import structlog

MAX_REQUEST_LINE = 64 * 1024
"""Bytes of one request line the simulator holds; a longer one is dropped."""

GREETING_DELAY = 0.2
"""Seconds a TCP client waits for its handshake: pyserial's ``socket://`` ``open()``
discards whatever arrives before it returns, and the firmware answers from its
main loop, not at once, either."""

WRITE_TIMEOUT = 2.0
"""Seconds a reply may wait for a client that does not read before it is given up."""

_READ_SIZE = 4096

_log = structlog.get_logger(__name__)


class Port(Protocol):
    """What the simulator asks of a transport."""

    name: str
    greeting_delay: float
    """Seconds between a client connecting and the handshake it is sent."""

    def send(self, data: bytes) -> bool:
        """Write to the current client, if there is one; whether it took all of it."""

    def drop(self) -> None:
        """Hang up the current client."""

    def set_reachable(self, reachable: bool) -> None:
        """Refuse (False) or accept again (True) connections; refusing drops the client."""

    def close(self) -> None:
        """Release everything the port holds."""


class PortEvents(Protocol):
    """The simulator's side: what a port reports."""

    def connected(self, port: Port) -> None:
        """A client connected (TCP) or opened the pty."""

    def received(self, port: Port, line: str) -> None:
        """A request line arrived (without its ``\\n``)."""


class RequestLines:
    """Splits the client's bytes into lines, dropping any longer than ``MAX_REQUEST_LINE``."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[str]:
        """Return the lines ``data`` completes, read as Latin-1."""
        *complete, rest = data.split(b"\n")
        lines: list[bytes] = []
        if complete:
            lines = [bytes(self._pending + complete[0]), *complete[1:]]
            self._pending = bytearray()
            if self._discarding:
                lines.pop(0)
                self._discarding = False
        if not self._discarding:
            self._pending += rest
        if len(self._pending) > MAX_REQUEST_LINE:
            _log.warning("request_line_dropped", size=len(self._pending))
            self._pending.clear()
            self._discarding = True
        return [line.decode("latin-1") for line in lines]


class TcpPort:
    """A TCP server with one client at a time."""

    name = "tcp"
    greeting_delay = GREETING_DELAY

    def __init__(
        self, host: str, port: int, selector: selectors.BaseSelector, events: PortEvents
    ) -> None:
        self._host = host
        self._port = port
        self._selector = selector
        self._events = events
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._lines = RequestLines()
        self._listen()

    @property
    def address(self) -> tuple[str, int]:
        """The (host, port) it listens on; a port 0 asked for is resolved here."""
        return self._host, self._port

    def _listen(self) -> None:
        listener = socket.create_server((self._host, self._port))
        listener.setblocking(False)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, self._accept)

    def _accept(self) -> None:
        if self._listener is None:
            return
        try:
            client, peer = self._listener.accept()
        except OSError:
            return
        self.drop()
        client.settimeout(WRITE_TIMEOUT)
        # Answer at once, as a responsive controller does: with Nagle's algorithm a
        # reply written while the previous one awaits its (delayed) ACK waits ~40 ms.
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client
        self._lines = RequestLines()
        self._selector.register(client, selectors.EVENT_READ, lambda: self._read(client))
        _log.info("client_connected", port=self.name, peer=str(peer))
        self._events.connected(self)

    def _read(self, client: socket.socket) -> None:
        if client is not self._client:
            return
        try:
            data = client.recv(_READ_SIZE)
        except OSError:
            data = b""
        if not data:
            _log.info("client_disconnected", port=self.name)
            self.drop()
            return
        for line in self._lines.feed(data):
            if client is not self._client:
                break  # a request (REBOOT) hung up; the rest is lost, as on firmware
            self._events.received(self, line)

    def send(self, data: bytes) -> bool:
        """Write to the client; one that does not take it within the write timeout is dropped."""
        if self._client is None:
            return False
        try:
            self._client.sendall(data)
        except OSError as error:
            _log.warning("send_failed", port=self.name, error=str(error))
            self.drop()
            return False
        return True

    def drop(self) -> None:
        """Close the client's socket."""
        if self._client is not None:
            self._selector.unregister(self._client)
            self._client.close()
            self._client = None

    def set_reachable(self, reachable: bool) -> None:
        """Close the listening socket (connects are refused) or open it again, same port."""
        if reachable:
            if self._listener is None:
                self._listen()
            return
        self.drop()
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def close(self) -> None:
        """Close the client and the listening socket."""
        self.set_reachable(False)


class PtyPort:
    """A pseudo-terminal behind a symlink that keeps its path when the pty is replaced.

    ``link`` is where the symlink goes (an existing symlink there is replaced,
    anything else refused); None makes a temporary directory for it.
    """

    name = "pty"
    greeting_delay = 0.0

    def __init__(
        self, link: str | None, selector: selectors.BaseSelector, events: PortEvents
    ) -> None:
        self._tempdir: str | None = None
        if link is None:
            self._tempdir = tempfile.mkdtemp(prefix="spark-sim-")
            link = os.path.join(self._tempdir, "tty")
        elif os.path.lexists(link) and not os.path.islink(link):
            raise FileExistsError(f"{link} exists and is not a symlink; it is left alone")
        self._link = link
        self._selector = selector
        self._events = events
        self._master: int | None = None
        self._slave: int | None = None
        self._lines = RequestLines()
        self._open()

    @property
    def path(self) -> str:
        """The path clients open (a symlink to the current pty)."""
        return self._link

    def _open(self) -> None:
        master, slave = os.openpty()
        # Raw: bytes pass unchanged, no echo, no CR/LF translation. TCSANOW, so
        # that no input flush is reported as a client connecting.
        tty.setraw(slave, termios.TCSANOW)
        fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
        os.set_blocking(master, False)
        # The simulator keeps the slave open, so that the master never reads
        # EIO while no client has the pty open.
        self._master, self._slave = master, slave
        self._lines = RequestLines()
        self._point_link_at(os.ttyname(slave))
        self._selector.register(master, selectors.EVENT_READ, lambda: self._read(master))
        _log.info("pty_opened", link=self._link, device=os.ttyname(slave))

    def _point_link_at(self, device: str) -> None:
        """Make the link point at ``device`` atomically, through a fresh temporary name.

        The temporary name is random and ``symlink`` never overwrites, so no
        file of anyone else's beside the link is ever replaced or removed.
        """
        while True:
            new_link = f"{self._link}.{secrets.token_hex(6)}.new"
            try:
                os.symlink(device, new_link)
            except FileExistsError:
                continue
            break
        try:
            os.replace(new_link, self._link)
        except OSError:
            os.unlink(new_link)
            raise

    def _close_pty(self) -> None:
        master, slave = self._master, self._slave
        self._master = self._slave = None
        self._close_fds(master, slave)

    def _close_fds(self, master: int | None, slave: int | None) -> None:
        if master is not None:
            self._selector.unregister(master)
            os.close(master)
        if slave is not None:
            os.close(slave)

    def _read(self, master: int) -> None:
        if master != self._master:
            return
        try:
            packet = os.read(master, _READ_SIZE + 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            _log.warning("pty_read_failed", error=str(error))
            return
        if not packet:
            return
        status, data = packet[0], packet[1:]
        if status == termios.TIOCPKT_DATA:
            for line in self._lines.feed(data):
                if master != self._master:
                    break  # a request (REBOOT) hung up; the rest is lost, as on firmware
                self._events.received(self, line)
        elif status & termios.TIOCPKT_FLUSHREAD:
            self._lines = RequestLines()
            _log.info("client_connected", port=self.name)
            self._events.connected(self)

    def send(self, data: bytes) -> bool:
        """Write to the pty; what a client does not read within the write timeout is dropped."""
        master = self._master
        if master is None:
            return False
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_TIMEOUT
        while view:
            try:
                view = view[os.write(master, view) :]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([], [master], [], remaining)[1]:
                    _log.warning("pty_output_dropped", size=len(view))
                    return False
            except OSError as error:
                _log.warning("send_failed", port=self.name, error=str(error))
                return False
        return True

    def drop(self) -> None:
        """Hang up: open a new pty behind the same path, then close the old one.

        In that order, a client that reconnects as soon as it sees the hang-up
        always finds the path pointing at a live pty.
        """
        if self._master is not None:
            old = (self._master, self._slave)
            self._open()
            self._close_fds(*old)

    def set_reachable(self, reachable: bool) -> None:
        """Remove the pty and its path (opening it fails), or bring them back."""
        if reachable:
            if self._master is None:
                self._open()
            return
        self._close_pty()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._link)

    def close(self) -> None:
        """Close the pty and remove its path (and the temporary directory it made)."""
        self.set_reachable(False)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
