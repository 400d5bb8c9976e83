"""The Connection against the simulator, over TCP (``socket://``) and the pty, with real pyserial.

A probe stands in for the PhaseTracker (it receives the ``RequestPhase``
messages), another for the Commander (it is handed the open port and receives
the chunks read), a third follows the Connection's own transitions, so each
scenario waits on what happens.
"""

from __future__ import annotations

import pathlib
import threading
from typing import Any

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo
from structlog.testing import capture_logs

from actorfsm import (
    CurrentState,
    Failure,
    SubscribeTransitionCallBack,
    Terminated,
    Transition,
    watch,
)
from actorfsm.testing import Probe, VirtualClock
from actors.spark.config import ConnectorConfig
from actors.spark.connection import (
    Close,
    Connection,
    Linked,
    LinkState,
    SetAutoconnecting,
    WriteFailed,
)
from actors.spark.datastore import Datastore
from actors.spark.discovery import DiscoveryConfig, DiscoveryExhausted
from actors.spark.phase import Phase, RequestPhase
from actors.spark.reader import Received
from actors.spark.simulator import Fault, FaultKind, Simulator
from actors.spark.topics import Subscribe, Topic

WAIT = 10.0
"""Seconds to wait for something the link must do (generous: the machine is shared)."""

CONNECTED = RequestPhase(Phase.CONNECTED, reason="port open")


class Rig:
    """A Connection to ``url`` with probes for its phase requests, chunks and transitions."""

    def __init__(
        self,
        url: str | None,
        tmp_path: pathlib.Path,
        discovery: DiscoveryConfig | None = None,
        **settings: Any,
    ) -> None:
        settings = {"reconnect_min": 0.05, "reconnect_max": 0.2, "reconnect_factor": 2.0} | settings
        self.config = ConnectorConfig(url, **settings)
        self.discovery = discovery
        self.datastore = Datastore(tmp_path / "s.db")
        self.phase = Probe()
        self.chunks = Probe()
        self.states = Probe()
        self.received = b""
        self.generations: list[int] = []
        self.port: Linked | None = None

    def start(self) -> Rig:
        self.conn = Connection.start(self.config, self.datastore, self.phase.ref, self.discovery)
        self.conn.tell(Subscribe(Topic.LINK, self.chunks.ref))
        self.conn.tell(SubscribeTransitionCallBack(self.states.ref))
        return self

    def _take(self) -> None:
        """Take the listener's next message: a chunk read or the port handed over."""
        match self.chunks.receive(timeout=WAIT):
            case Received(generation, chunk):
                self.generations.append(generation)
                self.received += chunk
            case Linked() as linked:
                self.port = linked
            case other:
                pytest.fail(f"the listener got {other!r}")

    def linked(self) -> Linked:
        """Wait until the Connection hands over an open port newer than the last one seen."""
        seen = self.port.generation if self.port else 0
        while self.port is None or self.port.generation == seen:
            self._take()
        return self.port

    def read_until(self, text: bytes) -> list[int]:
        """Collect received chunks until ``text`` arrived; return their generations."""
        while text not in self.received:
            self._take()
        return self.generations

    def until(self, state: LinkState) -> list[LinkState]:
        """Follow the Connection's states until it is in ``state``; return those it entered."""
        entered = []
        while True:
            match self.states.receive(timeout=WAIT):
                case CurrentState(_, now) | Transition(_, _, now):
                    entered.append(now)
                    if now is state:
                        return entered

    def expect_disconnected(self) -> str:
        request = self.phase.expect_msg_type(RequestPhase, timeout=WAIT)
        assert request.phase is Phase.DISCONNECTED
        return request.reason


def test_it_opens_reports_connected_writes_and_forwards_what_it_reads(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    rig.linked().port.write(b"010000AB\n")
    rig.read_until(b"010000AB|0000")


def test_a_dropped_link_is_reported_and_reopened(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    first = rig.linked()
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.DROP))
        rig.expect_disconnected()
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["connection_lost"]
    second = rig.linked()
    assert second.generation > first.generation
    second.port.write(b"010000AB\n")
    generations = rig.read_until(b"010000AB|0000")
    assert generations[-1] == second.generation  # the answer came through the new port


def test_a_link_up_longer_than_the_interval_is_reopened_at_once(
    simulator: Simulator, url: str, tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    first = rig.linked()
    virtual_clock.advance(0.05)  # the interval since the attempt has passed
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.DROP))
        rig.expect_disconnected()
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)  # with no more virtual time
    assert rig.linked().generation > first.generation
    lost = [e for e in logs if e["event"] == "connection_lost"]
    assert [e["reconnect"] for e in lost] == ["now"]


def test_a_link_that_drops_within_the_interval_waits_out_the_interval(
    simulator: Simulator, url: str, tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    rig.until(LinkState.OPEN)
    virtual_clock.advance(0.03)
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.DROP))
        rig.expect_disconnected()
        rig.until(LinkState.WAITING)
        virtual_clock.advance(0.019)
        rig.phase.expect_no_msg(0.2)
        virtual_clock.advance(0.001)  # 0.05 since the attempt started, not since the drop
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    lost = [e for e in logs if e["event"] == "connection_lost"]
    assert [e["reconnect"] for e in lost] == ["after the interval"]


def test_a_controller_that_hangs_up_at_once_is_tried_once_per_interval(
    simulator: Simulator, url: str, tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(url, tmp_path).start()
    for _ in range(3):
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)
        rig.until(LinkState.OPEN)
        simulator.inject(Fault(FaultKind.DROP))
        rig.expect_disconnected()
        rig.until(LinkState.WAITING)
        rig.phase.expect_no_msg(0.1)  # no attempt until the clock moves: no spin
        virtual_clock.advance(0.05)


def test_refused_connects_back_off_and_are_logged_once_per_streak(
    simulator: Simulator, url: str, tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    simulator.inject(Fault(FaultKind.REFUSE))
    rig = Rig(url, tmp_path)
    with capture_logs() as logs:
        rig.start()
        persisted = []
        for wait in (0.05, 0.1, 0.2, 0.2):  # x2 per failure, at most 0.2
            rig.until(LinkState.WAITING)
            persisted.append(rig.datastore.reconnect_interval(default=0.0))
            virtual_clock.advance(wait)
        assert persisted == [0.1, 0.2, 0.2, 0.2]  # the next wait, persisted
        rig.until(LinkState.WAITING)
        simulator.clear_faults()
        virtual_clock.advance(0.2)
        rig.until(LinkState.OPEN)
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    failed = [e for e in logs if e["event"].startswith("connect_failed")]
    assert [e["event"] for e in failed] == ["connect_failed", "connect_failed_repeated"]
    assert failed[1]["count"] == 5
    assert rig.datastore.reconnect_interval(default=0.0) == 0.05  # reset on success


def test_the_persisted_interval_survives_a_restart(
    simulator: Simulator, tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    simulator.inject(Fault(FaultKind.REFUSE))
    rig = Rig(simulator.tcp_url, tmp_path, reconnect_max=1.0)
    rig.datastore.set_reconnect_interval(0.4)
    rig.start()
    rig.until(LinkState.WAITING)
    assert rig.datastore.reconnect_interval(default=0.0) == 0.8  # went on from 0.4, not 0.05
    virtual_clock.advance(0.39)
    rig.states.expect_no_msg(0.2)  # the first wait is the persisted 0.4


def test_close_drops_the_link_and_reconnects(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    with capture_logs() as logs:
        rig.conn.tell(Close("watchdog"))
        assert rig.expect_disconnected() == "closed: watchdog"
        rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    closed = [e for e in logs if e["event"] == "connection_closed"]
    assert [e["reason"] for e in closed] == ["watchdog"]


def test_a_write_failure_reported_by_the_writer_drops_the_link_and_reconnects(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    first = rig.linked()
    rig.conn.tell(WriteFailed(first.generation - 1, "stale: an older link"))
    rig.conn.tell(WriteFailed(first.generation, "OSError: [Errno 5] Input/output error"))
    assert rig.expect_disconnected() == "write failed: OSError: [Errno 5] Input/output error"
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    assert rig.linked().generation > first.generation


def test_a_listener_added_while_open_is_handed_the_port_and_gets_the_bytes(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    first = rig.linked()
    late = Probe()
    rig.conn.tell(Subscribe(Topic.LINK, late.ref))
    linked = late.expect_msg_type(Linked, timeout=WAIT)
    assert linked.generation == first.generation
    linked.port.write(b"010000AB\n")
    received = b""
    while b"010000AB|0000" not in received:
        received += late.expect_msg_type(Received, timeout=WAIT).chunk


def test_with_autoconnecting_off_it_never_connects_until_it_is_turned_on(
    simulator: Simulator, tmp_path: pathlib.Path
) -> None:
    rig = Rig(simulator.tcp_url, tmp_path)
    rig.datastore.autoconnecting = False
    rig.start()
    rig.states.expect_msg(CurrentState(rig.conn, LinkState.PAUSED))
    rig.states.expect_no_msg(0.5)
    rig.phase.expect_no_msg(0.1)
    rig.conn.tell(SetAutoconnecting(True))
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    assert rig.datastore.autoconnecting
    rig.conn.tell(SetAutoconnecting(False))
    assert rig.expect_disconnected() == "autoconnecting off"
    assert rig.until(LinkState.PAUSED) == [LinkState.OPENING, LinkState.OPEN, LinkState.PAUSED]


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_stop_closes_the_port_and_ends_the_reader_thread(
    simulator: Simulator, url: str, tmp_path: pathlib.Path
) -> None:
    rig = Rig(url, tmp_path).start()
    rig.phase.expect_msg(CONNECTED, timeout=WAIT)
    readers = [t for t in threading.enumerate() if t.name.endswith(f" {url}")]
    assert len(readers) == 1
    rig.conn.stop(block=True, timeout=WAIT)
    assert not readers[0].is_alive()


def photon(device: str) -> ListPortInfo:
    """A port as ``list_ports.comports()`` describes a Photon on ``device``."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = 0x2B04, 0xC006
    info.apply_usb_info()
    return info


def test_discovery_tries_the_candidates_in_order_until_one_opens(
    simulator: Simulator, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_ports, "comports", lambda: [photon(str(tmp_path / "no-such-tty"))])
    host, port = simulator.tcp_address
    discovery = DiscoveryConfig("all", tcp_hosts=(f"{host}:{port}",))
    with capture_logs() as logs:
        rig = Rig(None, tmp_path, discovery).start()
        try:
            rig.until(LinkState.OPEN)
            assert rig.phase.expect_msg(CONNECTED, timeout=WAIT) == CONNECTED
        finally:
            rig.conn.stop()
    tried = [entry["url"] for entry in logs if entry["event"] == "connect_attempt"]
    assert tried == [str(tmp_path / "no-such-tty"), simulator.tcp_url]  # USB first, then TCP
    assert [entry["url"] for entry in logs if entry["event"] == "connected"] == [simulator.tcp_url]


def test_exhausted_usb_discovery_fails_the_actor_with_discovery_exhausted(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_ports, "comports", list)
    rig = Rig(None, tmp_path, DiscoveryConfig("usb", max_attempts=3))
    watcher = Probe()
    rig.start()
    watch(watcher.ref, rig.conn)
    terminated = watcher.expect_msg_type(Terminated, timeout=WAIT)
    match terminated.reason:
        case Failure(DiscoveryExhausted() as cause):
            assert (cause.mode, cause.attempts) == ("usb", 3)
        case other:
            pytest.fail(f"stopped with {other!r}")
