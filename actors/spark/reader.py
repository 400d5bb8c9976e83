"""The one thread per port that opens it and reads it; the only place the connector blocks on I/O.

A :class:`PortReader` opens the pyserial URL (a socket connect can take
seconds), then loops reading what has arrived. Every message it posts is
tagged with the connection *generation*, so a port that has been given up on
can never confuse the next. What happens to the link (opened, failed, gone)
goes to its owner, the Connection actor; the bytes read go straight to the
*sinks* (the Commander, which parses them), one actor hop less per answer than
passing them through the owner.

How it reads matters. The port is opened non-blocking (``timeout=0``) and
the thread waits for it with ``select`` (at most ``READ_POLL`` seconds, so it
sees a stop request quickly); then one ``read(READ_SIZE)`` takes what has
arrived in a single system call. So nothing is lost at a hang-up (pyserial's
blocking ``read(n)`` drops the bytes it already had when the hang-up comes
before n), and a socket is not read a byte at a time (for ``socket://``,
``in_waiting`` is only 0 or 1). A readable port that gives no bytes is EOF:
pyserial raises ``SerialException`` for it (socket: "socket disconnected";
tty: readable but no data), and a hung-up pty fails with EIO. All are
``OSError``.

Before it opens a pty, the reader checks that the pty is still the one meant
(:func:`check_pty_is_current`): pty numbers are reused, so the path a dead
simulator left behind may lead to another program's terminal, which pyserial
would set raw and the connector would write its Noops into. A pty is
refused (``OpenFailed``, nothing opened or written) when it was allocated
after the symlink that leads to it was made (the simulator makes a new link
for every new pty, so a pty newer than its link is not the one it linked),
or, reached by its own path, after the connector first opened that path.
Devices other than ptys are not checked.

The reader never queues more than :data:`MAX_BACKLOG` bytes that its sinks
have not parsed yet (a :class:`Backlog` they count down as they parse). A
controller that sends faster than the Commander parses (a flood of events or
garbage) would otherwise fill the actor's inbox without bound, hold hundreds
of MiB and keep the program from stopping until it had parsed them all. Past
the bound the reader keeps reading, so the controller is never blocked, but
drops what it reads, and what is still queued is marked stale: the sinks
skip it unparsed, so they catch up at once and what the controller sends
after the flood (the answers it owes) gets through. One ``input_dropped``
warning, then a count of chunks and bytes per window
(``input_dropped_repeated``, see :mod:`actors.spark.repeats`). The next chunk
delivered is marked ``gap``: the parser drops what the gap cut and resumes at
the next annotation or line.
"""

from __future__ import annotations

import os
import select
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any

import pykka
import serial
import structlog

from actors.spark.repeats import Repeats

log = structlog.get_logger("actors.spark.reader")

READ_POLL = 0.1
"""Seconds the thread waits for data before it checks whether it should stop."""

READ_SIZE = 65536
"""The most bytes one read takes."""

WRITE_TIMEOUT = 2.0
"""Seconds a write may block (a full pty buffer) before it counts as a failed link."""

PTY_SLAVE_MAJORS = range(136, 144)
"""Linux's device major numbers of pty slaves (``/dev/pts/N``)."""

MAX_BACKLOG = 1 << 20
"""Bytes read but not yet parsed by the sinks beyond which the reader drops what it reads."""


class Backlog:
    """Bytes handed to the sinks and not yet parsed: the reader adds, each sink takes.

    Each delivery has a sequence number; :meth:`drop_queued` makes every
    delivery so far stale (the sinks skip it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size = 0
        self._sequence = 0
        self._stale_upto = 0

    @property
    def size(self) -> int:
        """Bytes delivered and not yet taken."""
        return self._size

    def add(self, size: int) -> None:
        """Count ``size`` more bytes delivered."""
        with self._lock:
            self._size += size

    def next_sequence(self) -> int:
        """The sequence number of the next delivery."""
        self._sequence += 1
        return self._sequence

    def drop_queued(self) -> None:
        """Make everything delivered so far stale: the sinks count it off unparsed."""
        self._stale_upto = self._sequence

    def is_stale(self, sequence: int) -> bool:
        """Whether delivery ``sequence`` was dropped after it was queued."""
        return sequence <= self._stale_upto

    def taken(self, size: int) -> None:
        """A sink has parsed ``size`` bytes (from any thread)."""
        with self._lock:
            self._size -= size


@dataclass(frozen=True, slots=True)
class Opened:
    """Posted: the port is open; writes go to ``port`` (the reader keeps reading it)."""

    generation: int
    port: Any


@dataclass(frozen=True, slots=True)
class OpenFailed:
    """Posted: the port could not be opened (refused, no such device...)."""

    generation: int
    error: str


@dataclass(frozen=True, slots=True)
class Received:
    """Posted: bytes read from the port, in order.

    ``gap``: bytes were dropped just before this chunk (the reader's backlog
    was full). ``backlog``: count the chunk off it once parsed (:meth:`taken`);
    ``sequence`` tells it whether the chunk went stale meanwhile.
    """

    generation: int
    chunk: bytes
    gap: bool = False
    backlog: Backlog | None = None
    sequence: int = 0

    @property
    def stale(self) -> bool:
        """The reader dropped this chunk after queueing it: skip it, unparsed."""
        return self.backlog is not None and self.backlog.is_stale(self.sequence)

    def taken(self) -> None:
        """Tell the reader this chunk was parsed (a no-op for chunks made elsewhere)."""
        if self.backlog is not None:
            self.backlog.taken(len(self.chunk))


@dataclass(frozen=True, slots=True)
class ReadFailed:
    """Posted: the link is gone (hang-up, EOF, an OS error); the reader has closed the port."""

    generation: int
    error: str


class StalePty(OSError):
    """The pty at the device path is not the one meant: another program has it now."""


def check_pty_is_current(path: str, first_opened_ns: int | None) -> None:
    """Raise :class:`StalePty` if ``path`` leads to a pty allocated after the symlink that
    leads to it, or (no symlink) after ``first_opened_ns`` (wall clock, ns), when the path
    was first opened. Anything else, a path that does not resolve included, passes: opening
    it says what is wrong. The check reads the inode change times, set when a pty is
    allocated (a few milliseconds' resolution: a reuse within the same tick passes)."""
    try:
        node = os.stat(path)
        link = os.lstat(path)
    except (OSError, ValueError):
        return
    if not stat.S_ISCHR(node.st_mode) or os.major(node.st_rdev) not in PTY_SLAVE_MAJORS:
        return
    device = os.path.realpath(path)
    if stat.S_ISLNK(link.st_mode):
        if node.st_ctime_ns > link.st_ctime_ns:
            msg = (
                f"{path} leads to {device}, a pty allocated after the link was made: the "
                "program that made the link is gone and another one has that pty; not opened"
            )
            raise StalePty(msg)
    elif first_opened_ns is not None and node.st_ctime_ns > first_opened_ns:
        msg = (
            f"{device} is a pty allocated after it was first opened: the program it "
            "belonged to is gone and another one has it now; not opened"
        )
        raise StalePty(msg)


def describe(exc: BaseException) -> str:
    """A one-line text for an I/O error: its type and message."""
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"


class PortReader:
    """Opens ``url`` and reads it on its own daemon thread; link news to ``actor``,
    bytes to ``sinks``.

    The thread owns the port's life: it closes the port when it stops, whether
    asked to (:meth:`stop`) or because reading failed. A sink that has died is
    dropped with a debug line: that happens when the connector stops or
    restarts, and the owner learns of it anyway. The reader goes on reading,
    because its owner must still learn when the link goes.
    """

    def __init__(
        self,
        url: str,
        generation: int,
        actor: pykka.ActorRef[Any],
        sinks: tuple[Any, ...] = (),
        first_opened_ns: int | None = None,
    ) -> None:
        self.url = url
        self.first_opened_ns = first_opened_ns
        """When ``url`` was first opened (wall clock, ns), for :func:`check_pty_is_current`."""
        self.generation = generation
        self._actor = actor
        self._sinks = sinks
        self._sinks_lock = threading.Lock()
        self._backlog = Backlog()
        self._gap = False
        self._dropped = Repeats("input_dropped_repeated", measure="bytes", logger=log, url=url)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"spark-reader-{generation} {url}", daemon=True
        )

    def start(self) -> PortReader:
        """Start the thread; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to close the port and end; returns at once."""
        self._stopping.set()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; True if it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def set_sinks(self, sinks: tuple[Any, ...]) -> None:
        """Send the bytes read from now on to ``sinks`` (from any thread).

        The backlog starts over: what the old sinks were sent is theirs.
        """
        with self._sinks_lock:
            self._sinks = sinks
            self._backlog = Backlog()

    def _deliver(self, chunk: bytes) -> None:
        """Hand ``chunk`` to the sinks, or drop it while they have too much to parse."""
        now = time.monotonic()
        with self._sinks_lock:
            sinks, backlog = self._sinks, self._backlog
        if backlog.size > MAX_BACKLOG:
            if self._dropped.occurred(now, len(chunk)):
                log.warning(
                    "input_dropped",
                    url=self.url,
                    bytes=len(chunk),
                    backlog=backlog.size,
                    limit=MAX_BACKLOG,
                    reason="the controller sends faster than the connector parses",
                )
            backlog.drop_queued()
            self._gap = True
            return
        self._dropped.tick(now)
        received = Received(self.generation, chunk, self._gap, backlog, backlog.next_sequence())
        self._gap = False
        for sink in sinks:
            backlog.add(len(chunk))
            try:
                sink.tell(received)
            except pykka.ActorDeadError:
                backlog.taken(len(chunk))
                self._drop(sink)

    def _drop(self, sink: Any) -> None:
        with self._sinks_lock:
            self._sinks = tuple(other for other in self._sinks if other is not sink)
            self._backlog = Backlog()
        log.debug("reader_sink_gone", url=self.url, sink=str(sink))

    def _post(self, message: Any) -> bool:
        """Tell the actor; False if it is gone (then the reader ends)."""
        try:
            self._actor.tell(message)
        except pykka.ActorDeadError:
            return False
        return True

    def _run(self) -> None:
        try:
            check_pty_is_current(self.url, self.first_opened_ns)
            port = serial.serial_for_url(self.url, timeout=0, write_timeout=WRITE_TIMEOUT)
        except Exception as exc:  # any failure to open is reported, never raised in a thread
            if not self._stopping.is_set():
                self._post(OpenFailed(self.generation, describe(exc)))
            return
        try:
            if self._stopping.is_set() or not self._post(Opened(self.generation, port)):
                return
            self._read(port)
        finally:
            self._dropped.end()
            try:
                port.close()
            except Exception as exc:  # closing a broken port may fail; nothing to do about it
                log.debug("port_close_failed", url=self.url, error=describe(exc))

    def _read(self, port: Any) -> None:
        while not self._stopping.is_set() and self._actor.is_alive():
            try:
                ready, _, _ = select.select([port.fileno()], [], [], READ_POLL)
                if not ready:
                    self._dropped.tick(time.monotonic())
                    continue
                chunk = bytes(port.read(READ_SIZE))
            except Exception as exc:  # OSError / SerialException: the link is gone
                if not self._stopping.is_set():
                    self._post(ReadFailed(self.generation, describe(exc)))
                return
            if chunk:
                self._deliver(chunk)
