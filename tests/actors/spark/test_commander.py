"""The Commander alone: a probe stands in for the Connection, a real PhaseTracker for the phase.

The probe also stands in for the port the Connection hands over (``Linked``):
the test reads each request the Commander writes from it and answers by
feeding response text back as ``Received`` chunks, so matching, msgIds,
timeouts and stashing are checked line by line, without a controller.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm.testing import Probe, VirtualClock, settle
from actors.spark.commander import Commander, Execute, Incompatible
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Linked, WriteFailed
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
)
from actors.spark.phase import Phase, PhaseTracker, RequestPhase
from actors.spark.protocol import (
    MAX_BUFFER,
    Ack,
    CboxErrorEvent,
    Errcode,
    Handshake,
    ListObjects,
    Noop,
    ObjectReply,
    ReadObject,
    SetupMode,
    SparkObject,
    annotation,
    decode_request,
    encode_response,
)
from actors.spark.reader import Received
from actors.spark.repeats import WINDOW
from actors.spark.topics import Subscribe, Topic

TICKS = SparkObject(3, 0x80, 257, bytes(8))


class ProbePort:
    """The open port as the Commander sees it: each write reaches the probe as bytes."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def write(self, data: bytes) -> int:
        self.probe.ref.tell(data)
        return len(data)


class DeadPort:
    """A port whose link is gone: every write fails as pyserial's would."""

    def write(self, data: bytes) -> int:
        raise OSError(5, "Input/output error")


class Rig:
    """A Commander wired to a probe (its Connection and port) and a PhaseTracker."""

    def __init__(self, tmp_path: pathlib.Path, **settings: Any) -> None:
        self.config = ConnectorConfig(
            "socket://127.0.0.1:9", datastore=tmp_path / "s.db", **settings
        )
        self.link = Probe()
        self.tracker = PhaseTracker.start()
        self.commander = Commander.start(self.config, self.tracker, self.link.ref)
        self.link.expect_msg(Subscribe(Topic.LINK, self.commander))

    def phase(self, *phases: Phase, port: Any = None) -> None:
        for phase in phases:
            if phase is Phase.CONNECTED:  # as the Connection does, before it reports CONNECTED
                self.commander.tell(Linked(1, port or ProbePort(self.link)))
            assert self.tracker.ask(RequestPhase(phase)) is True
        settle(self.commander)

    def execute(self, request: Any, **kwargs: Any) -> pykka.Future[Any]:
        future: pykka.Future[Any] = pykka.ThreadingFuture()
        self.commander.tell(Execute(request, future, **kwargs))
        return future

    def written(self) -> str:
        """The next request line the Commander wrote."""
        data = self.link.expect_msg_type(bytes)
        assert data.endswith(b"\n")
        return data.decode("ascii").strip()

    def feed(self, text: str, generation: int = 1) -> None:
        self.commander.tell(Received(generation, text.encode("latin-1")))


@pytest.fixture
def rig(tmp_path: pathlib.Path) -> Rig:
    return Rig(tmp_path)


def synced(rig: Rig) -> Rig:
    rig.phase(Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED)
    return rig


def test_a_response_is_matched_by_its_echo_and_answers_the_future(rig: Rig) -> None:
    synced(rig)
    future = rig.execute(ReadObject(3))
    line = rig.written()
    frame = decode_request(line)
    assert frame.request == ReadObject(3)  # type: ignore[union-attr]
    # Split across chunks, with a log annotation inside the line: still one response.
    response = encode_response(line, Errcode.OK, ObjectReply(TICKS))
    rig.feed(response[:7] + "<INFO: busy>")
    rig.feed(response[7:] + "\n")
    assert future.get(timeout=3) == ObjectReply(TICKS)


def test_an_error_code_fails_the_command_with_command_failed(rig: Rig) -> None:
    synced(rig)
    future = rig.execute(ReadObject(77))
    rig.feed(encode_response(rig.written(), Errcode.INVALID_OBJECT_ID) + "\n")
    with pytest.raises(CommandFailed) as failed:
        future.get(timeout=3)
    assert failed.value.errcode is Errcode.INVALID_OBJECT_ID


def test_a_thousand_commands_in_flight_get_unique_msg_ids_and_their_own_answers(rig: Rig) -> None:
    synced(rig)
    futures = [rig.execute(ReadObject(100 + i % 500)) for i in range(1000)]
    lines = [rig.written() for _ in futures]
    ids = [decode_request(line).msg_id for line in lines]  # type: ignore[union-attr]
    assert len(set(ids)) == 1000
    # Answer in reverse order, all in one chunk: each goes to its own command.
    answers = [
        encode_response(line, Errcode.OK, ObjectReply(SparkObject(100 + i % 500, 0, 1)))
        for i, line in enumerate(lines)
    ]
    rig.feed("\n".join(reversed(answers)) + "\n")
    for i, future in enumerate(futures):
        assert future.get(timeout=10) == ObjectReply(SparkObject(100 + i % 500, 0, 1))


def test_an_unanswered_command_times_out(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = synced(Rig(tmp_path, command_timeout=2.0))
    future = rig.execute(Noop())
    rig.written()
    settle(rig.commander)  # its timeout is armed
    virtual_clock.advance(1.9)
    settle(rig.commander)
    rig.feed("garbage that answers nothing\n")
    virtual_clock.advance(0.2)
    with pytest.raises(CommandTimeout, match="no answer"):
        future.get(timeout=3)


def test_a_client_command_waits_for_synchronized_then_goes_out(rig: Rig) -> None:
    future = rig.execute(ListObjects(), timeout=30.0)
    rig.phase(Phase.CONNECTED, Phase.ACKNOWLEDGED)
    rig.link.expect_no_msg(0.2)  # not before SYNCHRONIZED
    rig.phase(Phase.SYNCHRONIZED)
    rig.feed(encode_response(rig.written(), Errcode.OK) + "\n")
    assert future.get(timeout=3) is not None


def test_a_waiting_command_fails_with_not_connected_at_its_timeout(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(tmp_path)
    future = rig.execute(Noop(), timeout=5.0)
    settle(rig.commander)
    virtual_clock.advance(5.0)
    with pytest.raises(NotConnected, match=r"not synchronized within 5\.0 s"):
        future.get(timeout=3)
    rig.link.expect_no_msg(0.1)  # never written


def test_internal_commands_go_out_from_connected_on(rig: Rig) -> None:
    client = rig.execute(Noop())
    internal = rig.execute(Noop(), internal=True)
    rig.phase(Phase.CONNECTED)
    rig.feed(encode_response(rig.written(), Errcode.OK, Ack()) + "\n")
    assert internal.get(timeout=3) == Ack()
    rig.link.expect_no_msg(0.1)
    with pytest.raises(pykka.Timeout):
        client.get(timeout=0.01)


def test_a_dropped_link_fails_commands_in_flight_with_connection_lost(rig: Rig) -> None:
    synced(rig)
    future = rig.execute(Noop())
    rig.written()
    rig.phase(Phase.DISCONNECTED)
    with pytest.raises(ConnectionLost):
        future.get(timeout=3)


def test_a_failed_write_is_reported_to_the_connection_and_the_command_waits(rig: Rig) -> None:
    rig.phase(Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED, port=DeadPort())
    future = rig.execute(Noop())
    failed = rig.link.expect_msg_type(WriteFailed)
    assert failed.generation == 1
    assert "Input/output error" in failed.error
    rig.phase(Phase.DISCONNECTED)  # the Connection drops the link
    with pytest.raises(ConnectionLost):
        future.get(timeout=3)


def test_a_bad_crc_answer_fails_its_command_at_once_with_a_protocol_fault(rig: Rig) -> None:
    synced(rig)
    future = rig.execute(Noop())
    line = rig.written()
    rig.feed(f"{line}|00FF\n")  # the echo is readable, the reply chunk's CRC is wrong
    with pytest.raises(ProtocolFault, match=line):
        future.get(timeout=3)


def test_lines_that_answer_nothing_are_logged_once_then_counted_per_window(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = synced(Rig(tmp_path))
    with capture_logs() as logs:
        rig.feed("not a response\n<!x>also not\n0100|00\n")
        future = rig.execute(Noop())
        rig.feed(encode_response(rig.written(), Errcode.OK) + "\n")
        future.get(timeout=3)  # an answered command does not start a new episode
        rig.feed("again\n")
        settle(rig.commander)
        virtual_clock.advance(WINDOW)  # the window closes: one summary
        rig.feed("in the next window\n")
        settle(rig.commander)
        virtual_clock.advance(WINDOW)
        virtual_clock.advance(WINDOW)  # a quiet window ends the episode
        rig.feed("a new episode\n")
        settle(rig.commander)
    bad = [(e["event"], e.get("count")) for e in logs if e["event"].startswith("bad_line")]
    assert bad == [
        ("bad_line", None),
        ("bad_line_repeated", 4),
        ("bad_line_repeated", 1),
        ("bad_line", None),
    ]


def test_a_garbage_line_every_50_ms_between_answers_logs_two_lines_per_window(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = synced(Rig(tmp_path))
    with capture_logs() as logs:
        for _ in range(200):  # 10 s of a garbage line every 50 ms, each followed by an answer
            rig.feed("garbage\n")
            future = rig.execute(Noop())
            rig.feed(encode_response(rig.written(), Errcode.OK) + "\n")
            future.get(timeout=3)
            virtual_clock.advance(0.05)
        settle(rig.commander)
    loud = [(e["event"], e.get("count")) for e in logs if e["log_level"] == "warning"]
    assert loud == [("bad_line", None), ("bad_line_repeated", 200)]


def test_over_long_lines_are_summarised_per_window(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = synced(Rig(tmp_path))
    line = "x" * (MAX_BUFFER + 1) + "\n"
    with capture_logs() as logs:
        for _ in range(100):
            rig.feed(line)
        settle(rig.commander)
        virtual_clock.advance(WINDOW)
        settle(rig.commander)
    loud = [(e["event"], e.get("count")) for e in logs if e["log_level"] == "warning"]
    assert loud == [("stream_buffer_overflow", None), ("stream_buffer_overflow_repeated", 100)]


def test_a_repeated_event_is_forwarded_once_per_window_a_handshake_always(
    rig: Rig, probe: Probe
) -> None:
    rig.commander.tell(Subscribe(Topic.EVENTS, probe.ref))
    handshake = annotation(Handshake("fw", "pv", device_id="AB").event_text())
    with capture_logs() as logs:
        rig.feed(annotation("CBOXERROR:43") * 1000 + handshake * 2 + annotation("CBOXERROR:01"))
        rig.feed(annotation("SETUP_MODE") * 1000)
        assert probe.expect_msg_type(CboxErrorEvent) == CboxErrorEvent(0x43)
        probe.expect_msg_type(Handshake)
        probe.expect_msg_type(Handshake)
        assert probe.expect_msg_type(CboxErrorEvent) == CboxErrorEvent(0x01)
        probe.expect_msg(SetupMode())
        probe.expect_no_msg(0.1)
        rig.commander.stop()
    summaries = [(e["kind"], e["count"]) for e in logs if e["event"] == "controller_event_repeated"]
    assert sorted(summaries) == [("CboxErrorEvent(code=67)", 1000), ("SetupMode()", 1000)]


def test_events_are_forwarded_to_subscribers(rig: Rig, probe: Probe) -> None:
    rig.commander.tell(Subscribe(Topic.EVENTS, probe.ref))
    handshake = Handshake("fw", "pv", device_id="AB")
    rig.feed(f"{annotation(handshake.event_text())}{annotation('SETUP_MODE')}")
    assert probe.expect_msg_type(Handshake) == handshake
    probe.expect_msg(SetupMode())


def test_an_incompatible_controller_fails_client_commands(rig: Rig) -> None:
    rig.phase(Phase.CONNECTED, Phase.ACKNOWLEDGED)
    waiting = rig.execute(Noop())
    rig.commander.tell(Incompatible("protocol 0badc0d, expected 3f2243a"))
    with pytest.raises(IncompatibleFirmware, match="0badc0d"):
        waiting.get(timeout=3)
    with pytest.raises(IncompatibleFirmware):
        rig.execute(Noop()).get(timeout=3)
    rig.phase(Phase.DISCONNECTED, Phase.CONNECTED)  # a new link is checked anew
    with pytest.raises(pykka.Timeout):
        rig.execute(Noop()).get(timeout=0.1)


def test_commands_still_waiting_when_it_stops_fail_with_not_connected(rig: Rig) -> None:
    future = rig.execute(Noop())
    settle(rig.commander)
    rig.commander.stop()
    with pytest.raises(NotConnected, match="stopped"):
        future.get(timeout=3)
