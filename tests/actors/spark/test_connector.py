"""The whole connector against the simulator, through the client API, with real pyserial.

Each scenario starts ``SparkConnector`` on the simulator's TCP port or pty,
waits for phases with ``wait_for`` or a subscribed probe, and checks what
``execute`` returns or raises. Intervals are small so recovery is quick.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import CurrentState, Transition
from actorfsm.testing import Probe
from actors.spark.broadcaster import Objects
from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.datastore import Datastore
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
    SparkError,
)
from actors.spark.phase import Phase
from actors.spark.protocol import (
    Ack,
    CreateObject,
    Errcode,
    ListObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    ReadObject,
    SparkObject,
    WriteObject,
)
from actors.spark.simulator import Fault, FaultKind, Simulator

WAIT = 15.0
"""Seconds to wait for a phase the connector must reach (generous: the machine is shared)."""

D, C, A, S = Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED

Start = Callable[..., SparkConnector]


@pytest.fixture
def start(tmp_path: pathlib.Path) -> Iterator[Start]:
    """Start connectors with small intervals; all are stopped after the test."""
    started: list[SparkConnector] = []

    def starting(url: str, **settings: Any) -> SparkConnector:
        defaults = {
            "datastore": tmp_path / "spark.db",
            "ping_interval": 0.1,
            "command_timeout": 3.0,
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
            "broadcast_interval": 60.0,  # one read at SYNCHRONIZED; scenarios add their own
        }
        connector = SparkConnector.start(ConnectorConfig(url, **(defaults | settings)))
        started.append(connector)
        return connector

    yield starting
    for connector in started:
        connector.stop()


def synchronized(start: Start, url: str, probe: Probe) -> SparkConnector:
    """A connector that has reached SYNCHRONIZED, with ``probe`` subscribed to its phase."""
    connector = start(url)
    connector.wait_for(S, WAIT)
    connector.subscribe(probe.ref)
    phases_after(probe, S)
    return connector


def quietly_synchronized(start: Start, url: str, probe: Probe) -> SparkConnector:
    """A synchronized connector whose first broadcast is done (so no other traffic comes)."""
    connector = start(url)
    connector.subscribe_broadcasts(probe.ref)
    connector.wait_for(S, WAIT)
    probe.expect_msg_type(Objects, timeout=WAIT)
    return connector


def phases_after(probe: Probe, *phases: Phase) -> None:
    """Expect the subscribed probe to see exactly ``phases`` entered next."""
    for phase in phases:
        match probe.receive(timeout=WAIT):
            case CurrentState(_, now) | Transition(_, _, now):
                assert now is phase


def test_it_synchronizes_and_runs_read_write_and_list(start: Start, url: str) -> None:
    connector = start(url)
    connector.wait_for(S, WAIT)
    assert connector.phase is S
    ticks = connector.execute(ReadObject(3))
    assert isinstance(ticks, ObjectReply) and ticks.obj.object_type == 257
    created = connector.execute(CreateObject(SparkObject(0, 1, 301, b"\x01\x02")))
    assert isinstance(created, ObjectReply)
    object_id = created.obj.object_id
    written = connector.execute(WriteObject(SparkObject(object_id, 1, 301, b"\x07")))
    assert written == ObjectReply(SparkObject(object_id, 1, 301, b"\x07"))
    assert connector.execute(ReadObject(object_id)) == written
    listed = connector.execute(ListObjects())
    assert isinstance(listed, ObjectListReply)
    assert [o.object_id for o in listed.objects] == [2, 3, object_id]
    assert connector.execute(Noop()) == Ack()
    with pytest.raises(CommandFailed) as failed:
        connector.execute(ReadObject(4242))
    assert failed.value.errcode is Errcode.INVALID_OBJECT_ID


def test_a_clean_stop_warns_about_nothing(start: Start, url: str, probe: Probe) -> None:
    connector = synchronized(start, url, probe)
    with capture_logs() as logs:
        connector.stop()
    loud = [e for e in logs if e["log_level"] in ("warning", "error", "critical")]
    assert loud == []
    assert [e["event"] for e in logs if e["log_level"] == "info"][-1] == "connector_stopped"


@pytest.mark.timeout(90)
def test_a_thousand_commands_in_flight_all_complete(start: Start, url: str) -> None:
    connector = start(url, command_timeout=30.0)
    connector.wait_for(S, WAIT)
    ids = [
        connector.execute(CreateObject(SparkObject(0, 1, 301, bytes([i % 256])))) for i in range(3)
    ]
    futures = [connector.execute(ReadObject(2 + i % 2), block=False) for i in range(1000)]
    replies = [future.get(timeout=60) for future in futures]
    assert [r.obj.object_id for r in replies] == [2 + i % 2 for i in range(1000)]  # type: ignore[union-attr]
    assert len(ids) == 3


def test_a_dropped_link_disconnects_and_synchronizes_again(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = synchronized(start, url, probe)
    simulator.inject(Fault(FaultKind.DROP))
    phases_after(probe, D, C, A, S)
    assert connector.execute(Noop()) == Ack()


def test_a_silent_controller_times_commands_out(
    start: Start, simulator: Simulator, url: str
) -> None:
    connector = start(url)
    connector.wait_for(S, WAIT)
    simulator.inject(Fault(FaultKind.SILENT))
    with pytest.raises(CommandTimeout):
        connector.execute(Noop(), timeout=0.3)


@dataclass(frozen=True)
class Mismatch:
    """A controller the service must not use: how to make one, the error line, the names in it."""

    fault: Fault | None
    settings: dict[str, Any]
    event: str
    names: tuple[str, str]


MISMATCHES = {
    "proto-version": Mismatch(
        Fault(FaultKind.PROTO_VERSION), {}, "incompatible_firmware", ("0badc0d", "3f2243a")
    ),
    "device-id": Mismatch(
        None,
        {"device_id": "0BADC0DE0BADC0DE0BADC0DE"},
        "device_id_mismatch",
        ("C0FFEE0123456789ABCDEF01", "0BADC0DE0BADC0DE0BADC0DE"),
    ),
}


@pytest.mark.parametrize("mismatch", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_an_incompatible_controller_parks_at_acknowledged(
    start: Start, simulator: Simulator, url: str, probe: Probe, mismatch: Mismatch
) -> None:
    if mismatch.fault is not None:
        simulator.inject(mismatch.fault)
    with capture_logs() as logs:
        connector = start(url, **mismatch.settings)
        connector.wait_for(A, WAIT)
        with pytest.raises(IncompatibleFirmware) as refused:
            connector.execute(Noop(), timeout=5.0)
        connector.subscribe(probe.ref)
        phases_after(probe, A)
        probe.expect_no_msg(0.5)  # no reconnect loop, no sync
    assert all(name in str(refused.value) for name in mismatch.names)
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == [mismatch.event]
    assert set(mismatch.names) <= {str(v) for v in errors[0].values()}


def test_setup_mode_drops_the_link_and_reconnects(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = synchronized(start, url, probe)
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.SETUP_MODE))
        phases_after(probe, D)
    simulator.clear_faults()
    connector.wait_for(S, WAIT)
    assert [e["event"] for e in logs].count("controller_setup_mode") == 1


def test_a_restarted_controller_is_synchronized_again_with_its_clock_written(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    synchronized(start, url, probe)
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.RESTART))
        phases_after(probe, D, C, A, S)
    assert [e["event"] for e in logs].count("clock_written") == 1
    handshakes = [e for e in logs if e["event"] == "handshake"]
    assert handshakes[-1]["reset_reason"] == "PIN_RESET"


def test_with_autoconnecting_off_it_never_connects(
    start: Start, simulator: Simulator, tmp_path: pathlib.Path
) -> None:
    store = Datastore(tmp_path / "spark.db")
    store.autoconnecting = False
    store.close()
    connector = start(simulator.tcp_url)
    with pytest.raises(NotConnected, match="not synchronized"):
        connector.execute(Noop(), timeout=0.5)
    assert connector.phase is D
    connector.set_autoconnecting(True)
    connector.wait_for(S, WAIT)


def test_a_command_sent_while_disconnected_waits_for_synchronized(
    start: Start, simulator: Simulator, url: str
) -> None:
    simulator.inject(Fault(FaultKind.REFUSE))
    connector = start(url)
    early = connector.execute(Noop(), block=False, timeout=WAIT)
    with pytest.raises(NotConnected):
        connector.execute(Noop(), timeout=0.3)
    simulator.clear_faults()
    assert early.get(timeout=2 * WAIT) == Ack()


def test_garbage_is_logged_once_then_summarised_and_commands_still_work(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = quietly_synchronized(start, url, probe)
    with capture_logs() as logs:
        for _ in range(3):
            simulator.inject(Fault(FaultKind.GARBAGE))
        assert connector.execute(Noop()) == Ack()
        connector.stop()  # the summary comes when the window closes, or at the stop
    bad = [(e["event"], e.get("count")) for e in logs if e["event"].startswith("bad_line")]
    assert bad == [("bad_line", None), ("bad_line_repeated", 3)]


def test_bad_crc_answers_fail_their_commands_with_a_clear_error(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = quietly_synchronized(start, url, probe)
    simulator.inject(Fault(FaultKind.BAD_CRC))
    with capture_logs() as logs:
        with pytest.raises(ProtocolFault, match="CRC"):
            connector.execute(ReadObject(3), timeout=5.0)
        with pytest.raises(ProtocolFault):
            connector.execute(Noop(), timeout=5.0)
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["bad_line"]
    simulator.clear_faults()
    assert connector.execute(Noop()) == Ack()


def test_wait_for_times_out_with_the_phase_it_is_in(start: Start, simulator: Simulator) -> None:
    simulator.inject(Fault(FaultKind.REFUSE))
    connector = start(simulator.tcp_url)
    with pytest.raises(TimeoutError, match=r"SYNCHRONIZED not reached.*DISCONNECTED"):
        connector.wait_for(S, 0.3)


def test_the_broadcaster_publishes_the_objects_every_interval(
    start: Start, url: str, probe: Probe
) -> None:
    connector = start(url, broadcast_interval=0.1)
    connector.subscribe_broadcasts(probe.ref)
    connector.wait_for(S, WAIT)
    created = connector.execute(CreateObject(SparkObject(0, 1, 301, b"\x05")))
    assert isinstance(created, ObjectReply)
    while created.obj not in probe.expect_msg_type(Objects, timeout=WAIT).objects:
        pass  # broadcasts from before the create


@pytest.mark.timeout(90)
def test_a_silent_controller_is_caught_by_the_watchdog_and_reconnected(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = start(url, broadcast_interval=0.2, command_timeout=0.5, handshake_timeout=1.0)
    connector.wait_for(S, WAIT)
    connector.subscribe(probe.ref)
    phases_after(probe, S)
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.SILENT))  # writes succeed, nothing is read
        phases_after(probe, D)  # a broadcast timed out, then the watchdog's Noop
    events = [e["event"] for e in logs]
    assert events.index("broadcast_failed") < events.index("watchdog_closing")
    assert events.count("watchdog_check") == 1  # one check at a time
    simulator.clear_faults()
    connector.wait_for(S, WAIT)


@pytest.mark.parametrize("block", [True, False])
def test_execute_on_a_stopped_connector_fails_at_once_with_a_clear_error(
    start: Start, url: str, block: bool
) -> None:
    connector = start(url)
    connector.wait_for(S, WAIT)
    connector.stop()
    began = time.monotonic()
    with pytest.raises(SparkError, match=r"connector to .* was stopped; Noop\(\) was not sent"):
        connector.execute(Noop(), block=block, timeout=1.0)  # type: ignore[call-overload]
    assert time.monotonic() - began < 0.5


def answered_within(connector: SparkConnector, seconds: float) -> float:
    """Send Noops (1 s timeout each) until one is answered; how long that took."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        with contextlib.suppress(CommandTimeout):
            assert connector.execute(Noop(), timeout=1.0) == Ack()
            return time.monotonic() - began
    pytest.fail(f"no Noop answered within {seconds} s")


@pytest.mark.timeout(120)
def test_a_flood_of_events_is_dropped_past_a_bound_logged_in_a_few_lines_and_recovered_from(
    start: Start, simulator: Simulator, url: str, probe: Probe
) -> None:
    connector = quietly_synchronized(start, url, probe)
    with capture_logs() as logs:
        simulator.inject(Fault(FaultKind.FLOOD, 32 << 20))  # returns once it is all sent
        assert answered_within(connector, 10.0) < 5.0
        connector.stop()  # the summaries of the window come out
    loud = [e["event"] for e in logs if e["log_level"] in ("warning", "error")]
    # Once per link: the watchdog may close a link whose check the flood swallowed.
    links = 1 + loud.count("watchdog_closing")
    # Dropping is bounded; whether it happens depends on whether the Commander kept up
    # (the reader's own tests flood past the bound for certain).
    assert loud.count("input_dropped") <= links, loud
    assert 1 <= loud.count("controller_error") <= links, loud
    assert len(loud) <= 8 * links, loud
    kinds = {e["kind"] for e in logs if e["event"] == "controller_event_repeated"}
    assert kinds == {"CboxErrorEvent(code=67)"}


@contextlib.contextmanager
def pty_taken_over(name: str) -> Iterator[int]:
    """Another program allocates the pty ``name`` (pty numbers are reused, lowest first);
    yields its master, where whatever is written to the pty arrives."""
    held: list[tuple[int, int]] = []
    try:
        for _ in range(256):
            master, slave = os.openpty()
            held.append((master, slave))
            if os.ttyname(slave) == name:
                os.set_blocking(master, False)
                yield master
                return
        pytest.skip(f"{name} was taken by some other process meanwhile")
    finally:
        for fds in held:
            for fd in fds:
                os.close(fd)


def nothing_arrives(master: int, seconds: float) -> bool:
    """Whether nothing is written to the pty of ``master`` for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            if os.read(master, 4096):
                return False
        time.sleep(0.02)
    return True


def test_a_dead_simulators_link_to_a_reused_pty_is_never_opened(
    start: Start, tmp_path: pathlib.Path
) -> None:
    master, slave = os.openpty()  # the simulator's pty and its link...
    name = os.ttyname(slave)
    link = tmp_path / "tty"
    link.symlink_to(name)
    os.close(slave)  # ...then it died: the link stays, the pty is freed
    os.close(master)
    time.sleep(0.02)  # a later clock tick than the link's
    with pty_taken_over(name) as theirs, capture_logs() as logs:
        start(str(link))
        assert nothing_arrives(theirs, 1.5)
    (failed,) = [e for e in logs if e["event"] == "connect_failed"]
    assert "a pty allocated after the link was made" in failed["error"]


def test_a_pty_path_reused_by_another_program_is_not_reopened(start: Start) -> None:
    master, slave = os.openpty()  # a controller on a pty, reached by its own path
    name = os.ttyname(slave)
    os.set_blocking(master, False)
    connector = start(name)
    with capture_logs() as logs:
        try:
            assert not nothing_arrives(master, WAIT)  # the connector opened it and prompts it
        finally:
            os.close(slave)
            os.close(master)  # the controller is gone; the connector's reads fail
        time.sleep(0.02)
        with pty_taken_over(name) as theirs:
            assert nothing_arrives(theirs, 1.5)
            connector.stop()  # ends the streak of failed attempts: its summary names the last
    errors = [e.get("error", e.get("last_error")) for e in logs if "connect_failed" in e["event"]]
    assert "a pty allocated after it was first opened" in str(errors[-1]), errors
