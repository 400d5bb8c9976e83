"""The simulator: a controller that speaks Controlbox v1 over TCP and/or a pty.

One thread runs a selector loop over both ports, and everything that touches
the firmware or a port happens in that thread, so the firmware needs no locks
and serves one request at a time, as the real one does. Calls from other
threads (``inject``, ``clear_faults``, ``stop``) are handed to the loop and wait
until it has carried them out, so their effect is visible when they return.

A delayed controller (the ``delay`` fault) is busy, not blocked: its requests
queue up and are answered in order, each ``delay`` after the one before, by
timers of the loop; so ``clear_faults`` and ``stop`` take effect at once
instead of waiting behind a backlog of slow answers (the queue is then
answered without delay). A hang-up, a restart or a new client forgets the
requests still queued, as the firmware would.

The handshake goes out when a client connects (see ``ports`` for what that
means on a pty) and right after the reply line of every Noop. (The Brewblox
firmware writes it in the middle of the Noop's echo instead; the stream
parser reads both the same way.)
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import queue
import random
import selectors
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import replace
from types import TracebackType
from typing import Self, TypeVar, cast

import structlog

from actors.spark.protocol import (
    CboxErrorEvent,
    Errcode,
    Handshake,
    Opcode,
    ResetData,
    ResetReason,
    SetupMode,
    annotation,
)
from actors.spark.simulator.faults import LASTING, Fault, FaultKind
from actors.spark.simulator.firmware import DEFAULT_HANDSHAKE, Firmware, check_device_id
from actors.spark.simulator.ports import Port, PtyPort, TcpPort

DEFAULT_TCP = ("127.0.0.1", 8332)
"""Where the simulator listens by default: the controller's port, on loopback."""

CALL_TIMEOUT = 90.0
"""Seconds a call from another thread waits for the loop (longer than the longest delay)."""

FLOOD_CODE = 0x43
"""The cbox error code a flood repeats."""

FLOOD_PIECE = 1 << 20
"""Bytes of a flood written at once."""

REBOOT_DELAY = 0.1
"""Seconds between answering REBOOT or FACTORY_RESET and going down, as the firmware
lets its reply out first; meanwhile it takes no requests."""

# Garbage is printable, so that a client sees one bad data line, but never "<",
# ">" or "|", which would make it an annotation or a response.
_GARBAGE_ALPHABET = "".join(c for c in string.printable.strip() if c not in "<>|")
_REBOOT_DATA = {
    Opcode.REBOOT: ResetData.CBOX_RESET,
    Opcode.FACTORY_RESET: ResetData.CBOX_FACTORY_RESET,
}

_T = TypeVar("_T")
_log = structlog.get_logger(__name__)


def _corrupt_crc(response: str) -> str:
    """Flip the bits of the response line's last CRC byte, so its chunk fails the check."""
    return response[:-2] + f"{int(response[-2:], 16) ^ 0xFF:02X}"


class Simulator:
    """A simulated Spark controller on TCP (``tcp``) and/or a pty (``pty=True``).

    ``tcp`` is (host, port); port 0 takes any free port (read ``tcp_address``
    after ``start()``); None disables TCP. ``pty_link`` chooses the stable path
    of the pty (default: a fresh temporary directory). ``handshake`` is the
    identity it announces; its reset fields give the reason of the first boot.
    ``faults`` take effect in ``start()`` before the ports serve anyone, so no
    client ever sees the controller without them.

    Use it as a context manager, or call ``start()`` and ``stop()``. Faults are
    injected at run time with ``inject(Fault(FaultKind.X, arg))`` and lifted
    with ``clear_faults()`` (see ``actors.spark.simulator.faults``).
    """

    def __init__(
        self,
        *,
        tcp: tuple[str, int] | None = DEFAULT_TCP,
        pty: bool = False,
        pty_link: str | None = None,
        handshake: Handshake = DEFAULT_HANDSHAKE,
        faults: Iterable[Fault] = (),
    ) -> None:
        if tcp is None and not pty:
            raise ValueError("the simulator needs TCP, a pty or both")
        self._tcp_config = tcp
        self._pty_config = (pty, pty_link)
        self._firmware = Firmware(handshake)
        self._configured = self._firmware.handshake
        self._active: dict[FaultKind, Fault] = {}
        self._initial_faults = tuple(faults)
        self._rebooting = False
        self._backlog: collections.deque[tuple[Port, str]] = collections.deque()
        self._backlog_timer = 0
        self._random = random.Random()
        self._tcp: TcpPort | None = None
        self._pty: PtyPort | None = None
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], Future[object]]] = (
            queue.SimpleQueue()
        )
        self._calls_lock = threading.Lock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._closed = False
        self._wake_r, self._wake_w = socket.socketpair()

    # --- life cycle ---------------------------------------------------------

    def start(self) -> Self:
        """Open the ports and start serving; returns ``self``.

        Raises OSError if the TCP port cannot be bound.
        """
        if self._thread is not None:
            raise RuntimeError("the simulator was already started")
        selector = selectors.DefaultSelector()
        self._wake_r.setblocking(False)
        selector.register(self._wake_r, selectors.EVENT_READ, self._run_calls)
        self._selector = selector
        try:
            if self._tcp_config is not None:
                self._tcp = TcpPort(*self._tcp_config, selector, self)
            pty, pty_link = self._pty_config
            if pty:
                self._pty = PtyPort(pty_link, selector, self)
            for fault in self._initial_faults:  # before the loop serves any client
                self._apply(fault)
        except BaseException:
            self._close()
            raise
        self._thread = threading.Thread(target=self._loop, name="spark-simulator", daemon=True)
        self._thread.start()
        _log.info(
            "simulator_started",
            tcp=self._tcp and self._tcp.address,
            pty=self._pty and self._pty.path,
        )
        return self

    def stop(self) -> None:
        """Stop serving and close the ports; waits for the loop thread to end."""
        thread = self._thread
        if thread is None:
            self._close()
            return
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake()
        thread.join(timeout=CALL_TIMEOUT)
        _log.info("simulator_stopped")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where it is --------------------------------------------------------

    @property
    def tcp_address(self) -> tuple[str, int]:
        """The (host, port) TCP clients connect to; RuntimeError without TCP."""
        if self._tcp is None:
            raise RuntimeError("the simulator has no TCP port (or was not started)")
        return self._tcp.address

    @property
    def tcp_url(self) -> str:
        """The pyserial URL of the TCP port: ``socket://host:port``."""
        host, port = self.tcp_address
        return f"socket://[{host}]:{port}" if ":" in host else f"socket://{host}:{port}"

    @property
    def pty_path(self) -> str:
        """The path of the pty for pyserial to open; RuntimeError without a pty."""
        if self._pty is None:
            raise RuntimeError("the simulator has no pty (or was not started)")
        return self._pty.path

    @property
    def handshake(self) -> Handshake:
        """The handshake the controller sends now (identity faults included)."""
        return self._firmware.handshake

    @property
    def faults(self) -> frozenset[FaultKind]:
        """The lasting faults in effect."""
        return self._call(lambda: frozenset(self._active))

    @property
    def queued(self) -> int:
        """Requests a delayed controller has taken in but not answered yet."""
        return self._call(lambda: len(self._backlog))

    # --- faults -------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Make the controller show ``fault``; returns once it has taken effect."""
        self._call(lambda: self._apply(fault))

    def clear_faults(self) -> None:
        """Lift every lasting fault: answer again, accept connections, original identity."""
        self._call(self._clear)

    def _apply(self, fault: Fault) -> None:
        _log.info("fault_injected", kind=fault.kind.value, arg=fault.arg)
        handshake = self._firmware.handshake
        match fault.kind:
            case FaultKind.DROP:
                self._backlog.clear()
                self._for_ports(lambda port: port.drop())
            case FaultKind.REFUSE:
                self._backlog.clear()
                self._for_ports(lambda port: port.set_reachable(False))
            case FaultKind.GARBAGE:
                garbage = "".join(self._random.choices(_GARBAGE_ALPHABET, k=fault.number))
                self._broadcast(garbage + "\n")
            case FaultKind.FIRMWARE_VERSION:
                self._firmware.handshake = replace(handshake, firmware_version=fault.text)
            case FaultKind.PROTO_VERSION:
                self._firmware.handshake = replace(handshake, proto_version=fault.text)
            case FaultKind.DEVICE_ID:
                device_id = check_device_id(fault.text)
                self._firmware.handshake = replace(handshake, device_id=device_id)
            case FaultKind.SETUP_MODE:
                self._broadcast(annotation(SetupMode().event_text()))
                self._active[FaultKind.SILENT] = Fault(FaultKind.SILENT)
            case FaultKind.RESTART:
                self._restart(fault.number, ResetData.NOT_SPECIFIED)
            case FaultKind.CBOX_ERROR:
                self._broadcast(annotation(CboxErrorEvent(fault.number).event_text()))
            case FaultKind.FLOOD:
                self._flood(fault.number)
            case FaultKind.SILENT | FaultKind.BAD_CRC | FaultKind.DELAY:
                pass  # states, read where requests are served
        if fault.kind in LASTING:
            self._active[fault.kind] = fault

    def _clear(self) -> None:
        _log.info("faults_cleared", kinds=sorted(self._active))
        refusing = FaultKind.REFUSE in self._active
        self._active.clear()
        self._firmware.handshake = replace(
            self._firmware.handshake,
            firmware_version=self._configured.firmware_version,
            proto_version=self._configured.proto_version,
            device_id=self._configured.device_id,
        )
        if refusing:
            self._for_ports(lambda port: port.set_reachable(True))
        self._serve_backlog(self._backlog_timer)

    def _restart(self, reset_reason: int, reset_data: int) -> None:
        self._rebooting = False
        self._backlog.clear()
        self._firmware.restart(reset_reason, reset_data)
        _log.info("controller_restarted", reset_reason=f"{reset_reason:02X}")
        self._for_ports(lambda port: port.drop())

    # --- serving (PortEvents; called in the loop thread) --------------------

    def connected(self, port: Port) -> None:
        """Greet a new client with the handshake after the port's greeting delay; the old
        client's queued requests are forgotten."""
        self._backlog = collections.deque(item for item in self._backlog if item[0] is not port)
        self._later(port.greeting_delay, lambda: self._greet(port))

    def _greet(self, port: Port) -> None:
        if FaultKind.SILENT not in self._active:
            port.send(self._handshake_annotation())

    def received(self, port: Port, line: str) -> None:
        """Serve one request line, with the faults in effect; queue it while delayed."""
        if FaultKind.SILENT in self._active or self._rebooting or not line.strip():
            return
        if self._backlog or FaultKind.DELAY in self._active:
            self._backlog.append((port, line))
            if len(self._backlog) == 1:
                self._delay_backlog()
            return
        self._serve(port, line)

    def _delay_backlog(self) -> None:
        """Answer the oldest queued request after the delay (a timer; an older one is void)."""
        delay = self._active.get(FaultKind.DELAY, Fault(FaultKind.DELAY, 0))
        self._backlog_timer += 1
        timer = self._backlog_timer
        due = time.monotonic() + delay.number / 1000
        heapq.heappush(
            self._timers, (due, next(self._sequence), lambda: self._serve_backlog(timer))
        )

    def _serve_backlog(self, timer: int) -> None:
        """The oldest queued request's delay is over: answer it, and the whole queue if no
        longer delayed; else wait the delay again for the next."""
        if timer != self._backlog_timer or not self._backlog:
            return
        self._serve(*self._backlog.popleft())
        while self._backlog and FaultKind.DELAY not in self._active:
            self._serve(*self._backlog.popleft())
        if self._backlog:
            self._delay_backlog()

    def _serve(self, port: Port, line: str) -> None:
        """Answer one request now (unless the controller went silent or is rebooting since)."""
        if FaultKind.SILENT in self._active or self._rebooting:
            return
        served = self._firmware.serve(line)
        _log.debug(
            "request_served",
            port=port.name,
            msg_id=served.msg_id,
            opcode=served.opcode_name,
            errcode=served.errcode.name,
        )
        response = served.response
        if FaultKind.BAD_CRC in self._active:
            response = _corrupt_crc(response)
        out = (response + "\n").encode("latin-1", "replace")
        if served.opcode == Opcode.NONE:
            out += self._handshake_annotation()
        port.send(out)
        if served.errcode is Errcode.OK and served.opcode in _REBOOT_DATA:
            reset_data = _REBOOT_DATA[Opcode(served.opcode)]
            self._rebooting = True
            self._later(REBOOT_DELAY, lambda: self._restart(ResetReason.USER, reset_data))

    def _handshake_annotation(self) -> bytes:
        return annotation(self._firmware.handshake.event_text()).encode("latin-1", "replace")

    def _broadcast(self, text: str) -> None:
        self._send_all(text.encode("latin-1", "replace"))

    def _send_all(self, data: bytes) -> None:
        self._for_ports(lambda port: port.send(data))

    def _flood(self, size: int) -> None:
        """Send ``size`` bytes of one event, a piece at a time (each piece a write bounded
        by the port's write timeout), to each port until it fails to take a piece (no
        client, or one that does not read); the controller answers nothing meanwhile."""
        unit = annotation(CboxErrorEvent(FLOOD_CODE).event_text()).encode("latin-1")
        piece = unit * (FLOOD_PIECE // len(unit))
        ports = [port for port in (self._tcp, self._pty) if port is not None]
        sent = 0
        while sent < size and ports:
            data = piece[: size - sent]
            ports = [port for port in ports if port.send(data)]
            sent += len(data)

    def _for_ports(self, action: Callable[[Port], object]) -> None:
        for port in (self._tcp, self._pty):
            if port is not None:
                action(port)

    # --- the loop -----------------------------------------------------------

    def _loop(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._stopping.is_set():
                timeout = max(0.0, self._timers[0][0] - time.monotonic()) if self._timers else None
                for key, _ in selector.select(timeout):
                    if self._stopping.is_set():
                        break
                    self._guarded(key.data)
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    self._guarded(heapq.heappop(self._timers)[2])
        finally:
            self._close()

    def _guarded(self, action: Callable[[], object]) -> None:
        """Run a callback; a bug in one must not stop the controller."""
        try:
            action()
        except Exception:
            _log.exception("simulator_callback_failed")

    def _later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` in the loop after ``delay`` seconds (now if 0)."""
        if delay <= 0:
            action()
            return
        heapq.heappush(self._timers, (time.monotonic() + delay, next(self._sequence), action))

    def _close(self) -> None:
        self._for_ports(lambda port: port.close())
        if self._selector is not None:
            self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._calls_lock:
            self._closed = True
        while not self._calls.empty():
            _, future = self._calls.get_nowait()
            future.set_exception(RuntimeError("the simulator stopped"))

    def _call(self, action: Callable[[], _T]) -> _T:
        """Run ``action`` in the loop thread and wait for it (at once if not running)."""
        thread = self._thread
        if thread is None or threading.current_thread() is thread:
            return action()
        future: Future[object] = Future()
        with self._calls_lock:
            if self._closed or self._stopping.is_set():
                raise RuntimeError("the simulator stopped")
            self._calls.put((action, future))
        self._wake()
        return cast(_T, future.result(timeout=CALL_TIMEOUT))

    def _run_calls(self) -> None:
        with contextlib.suppress(BlockingIOError):
            self._wake_r.recv(4096)
        while not self._calls.empty():
            action, future = self._calls.get_nowait()
            try:
                future.set_result(action())
            except BaseException as error:
                future.set_exception(error)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # closed: the loop has ended
            self._wake_w.send(b"\0")
