"""The simulator, seen from a pyserial client over TCP (``socket://``) and over the pty.

Most scenarios run on both transports (the ``transport`` fixture). Waiting is
always for a condition with a timeout (conftest's ``Client``); only the checks
that something does *not* arrive read for a fixed quiet period.
"""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
import serial

from actors.spark.protocol import (
    SYSINFO_ID,
    SYSINFO_TYPE,
    SYSTEM_GROUP_MASK,
    TICKS_ID,
    TICKS_TYPE,
    Ack,
    CboxErrorEvent,
    ClearObjects,
    CreateObject,
    DeleteObject,
    DiscoverObjects,
    DiscoveryReply,
    Errcode,
    FactoryReset,
    IdListReply,
    ListCompatibleObjects,
    ListObjects,
    ListStoredObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    Opcode,
    ProtocolError,
    ReadObject,
    ReadStoredObject,
    Reboot,
    Request,
    Response,
    SetupMode,
    SparkObject,
    SysInfoData,
    TicksData,
    TraceEntry,
    WriteObject,
    decode_event,
    decode_response,
    decode_trace,
    encode_request,
    encode_response,
)
from actors.spark.simulator import DEFAULT_HANDSHAKE, Fault, FaultKind, Firmware, Simulator
from actors.spark.simulator.ports import Port, TcpPort

if TYPE_CHECKING:
    from tests.actors.spark.conftest import Client

SENSOR = SparkObject(object_id=0, groups=0x01, object_type=302, data=b"\x10\x20")
SYSINFO_TRACE = SparkObject(SYSINFO_ID, SYSTEM_GROUP_MASK, SYSINFO_TYPE, b"\x02")


def reply_object(response: Response | ProtocolError) -> SparkObject:
    assert isinstance(response, Response), response
    assert isinstance(response.reply, ObjectReply), response
    return response.reply.obj


def ticks_of(response: Response | ProtocolError) -> TicksData:
    ticks = TicksData.decode(reply_object(response).data)
    assert isinstance(ticks, TicksData)
    return ticks


# --- connecting ------------------------------------------------------------


def test_the_handshake_arrives_on_connect(
    simulator: Simulator, connect: Callable[[], Client]
) -> None:
    assert connect().handshake() == DEFAULT_HANDSHAKE == simulator.handshake


def test_a_noop_is_answered_ok_and_followed_by_the_handshake(client: Client) -> None:
    text = client.send(Noop())
    assert client.data_line() == f"{text}|0000"
    assert client.handshake() == DEFAULT_HANDSHAKE


def test_the_pty_passes_bytes_unchanged(simulator: Simulator) -> None:
    """Raw mode: no echo, no CR/LF translation, control characters pass both ways."""
    port = serial.serial_for_url(simulator.pty_path, timeout=5)
    try:
        assert port.read_until(b">").startswith(b"<!BREWBLOX,")
        port.write(b"010000AB\n")
        assert port.read_until(b"|0000\n") == b"010000AB|0000\n"
        assert port.read_until(b">").startswith(b"<!BREWBLOX,")
        port.write(b"\x03\x04\x7f\r\n")
        expected = encode_response("\x03\x04\x7f", Errcode.INPUT_STREAM_DECODING_ERROR)
        assert port.read_until(b"\n") == expected.encode("latin-1") + b"\n"
    finally:
        port.close()


def test_a_second_tcp_client_replaces_the_first(
    simulator: Simulator, open_client: Callable[[str], Client]
) -> None:
    first = open_client(simulator.tcp_url)
    first.handshake()
    second = open_client(simulator.tcp_url)
    second.handshake()
    first.wait_until_disconnected()
    assert second.request(Noop()).errcode is Errcode.OK


# --- requests --------------------------------------------------------------


def test_a_tcp_client_is_answered_without_nagle_delays() -> None:
    """Replies go out at once (TCP_NODELAY): a second reply written before the first is
    ACKed would otherwise wait for the client's delayed ACK, about 40 ms on Linux."""
    with selectors.DefaultSelector() as selector:
        port = TcpPort("127.0.0.1", 0, selector, _Connected())
        try:
            with socket.create_connection(port.address, timeout=5.0):
                for key, _ in selector.select(timeout=5.0):
                    key.data()  # the listener is readable: accept the client
                assert port._client is not None
                assert port._client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            port.close()


class _Connected:
    """Port events that need nothing done (a port tested on its own)."""

    def connected(self, port: Port) -> None:
        pass

    def received(self, port: Port, line: str) -> None:
        pass


def test_objects_are_created_read_written_listed_and_deleted(client: Client) -> None:
    created = reply_object(client.request(CreateObject(SENSOR)))
    assert created == SparkObject(100, 0x01, 302, b"\x10\x20")
    assert reply_object(client.request(ReadObject(100))) == created

    written = SparkObject(100, 0x03, 302, b"\x30")
    assert reply_object(client.request(WriteObject(written))) == written
    assert reply_object(client.request(ReadStoredObject(100))) == written

    listed = client.request(ListObjects()).reply
    assert isinstance(listed, ObjectListReply)
    assert [o.object_id for o in listed.objects] == [SYSINFO_ID, TICKS_ID, 100]
    assert client.request(ListStoredObjects()).reply == ObjectListReply((written,))
    assert client.request(ListCompatibleObjects(302)).reply == IdListReply((100,))
    assert client.request(DiscoverObjects()).reply == DiscoveryReply(())

    assert client.request(DeleteObject(100)).reply == Ack()
    assert client.request(ReadObject(100)).errcode is Errcode.INVALID_OBJECT_ID


def test_create_assigns_free_ids_and_clear_removes_user_objects(client: Client) -> None:
    chosen = reply_object(client.request(CreateObject(SparkObject(200, 0x01, 302))))
    assert chosen.object_id == 200
    assigned = [reply_object(client.request(CreateObject(SENSOR))).object_id for _ in range(2)]
    assert assigned == [100, 101]
    assert client.request(ClearObjects()).reply == Ack()
    assert client.request(ListStoredObjects()).reply == ObjectListReply(())
    listed = client.request(ListObjects()).reply
    assert isinstance(listed, ObjectListReply)
    assert [o.object_id for o in listed.objects] == [SYSINFO_ID, TICKS_ID]


BAD_TICKS = SparkObject(TICKS_ID, SYSTEM_GROUP_MASK, TICKS_TYPE, b"\x01")
BAD_SYSINFO = SparkObject(SYSINFO_ID, SYSTEM_GROUP_MASK, SYSINFO_TYPE, b"\x01")


@pytest.mark.parametrize(
    ("request_", "errcode"),
    [
        (ReadObject(99), Errcode.INVALID_OBJECT_ID),
        (WriteObject(SparkObject(100, 0x01, 302)), Errcode.INVALID_OBJECT_ID),
        (WriteObject(SparkObject(TICKS_ID, SYSTEM_GROUP_MASK, 302)), Errcode.INVALID_OBJECT_TYPE),
        (WriteObject(BAD_TICKS), Errcode.OBJECT_DATA_NOT_ACCEPTED),
        (WriteObject(BAD_SYSINFO), Errcode.OBJECT_DATA_NOT_ACCEPTED),
        (CreateObject(SparkObject(50, 0x01, 302)), Errcode.INVALID_OBJECT_ID),
        (CreateObject(SparkObject(0, 0x01, 0)), Errcode.INVALID_OBJECT_TYPE),
        (CreateObject(SparkObject(0, 0x01, TICKS_TYPE)), Errcode.OBJECT_NOT_CREATABLE),
        (CreateObject(SparkObject(0, SYSTEM_GROUP_MASK, 302)), Errcode.INVALID_OBJECT_GROUPS),
        (DeleteObject(SYSINFO_ID), Errcode.OBJECT_NOT_DELETABLE),
        (DeleteObject(100), Errcode.INVALID_OBJECT_ID),
        (ReadStoredObject(TICKS_ID), Errcode.PERSISTED_OBJECT_NOT_FOUND),
        (ReadStoredObject(100), Errcode.PERSISTED_OBJECT_NOT_FOUND),
    ],
)
def test_requests_that_cannot_be_served_get_their_errcode(
    client: Client, request_: Request, errcode: Errcode
) -> None:
    response = client.request(request_)
    assert (response.errcode, response.reply) == (errcode, None)


def test_objects_keep_their_ids_and_groups_apart_from_the_system(client: Client) -> None:
    reply_object(client.request(CreateObject(SENSOR)))
    again = client.request(CreateObject(SparkObject(100, 0x01, 302)))
    assert again.errcode is Errcode.INVALID_OBJECT_ID
    moved = client.request(WriteObject(SparkObject(100, SYSTEM_GROUP_MASK, 302)))
    assert moved.errcode is Errcode.INVALID_OBJECT_GROUPS


@pytest.mark.parametrize(
    ("line", "errcode"),
    [
        ("010000AC", Errcode.CRC_ERROR_IN_COMMAND),
        ("0100632C", Errcode.INVALID_COMMAND),
        ("01000G", Errcode.INPUT_STREAM_DECODING_ERROR),
        ("0100", Errcode.INPUT_STREAM_READ_ERROR),
    ],
)
def test_malformed_requests_get_their_errcode(client: Client, line: str, errcode: Errcode) -> None:
    client.write_line(line)
    assert client.data_line() == encode_response(line, errcode)


def test_a_crc_error_is_answered_as_in_spark_md(client: Client) -> None:
    client.write_line("010000AC")
    assert client.data_line() == "010000AC|43A4"


def test_requests_may_use_spaces_and_lowercase(client: Client) -> None:
    client.write_line("01 00 00 ab")
    assert client.data_line() == "010000AB|0000"


def test_ticks_count_since_boot_and_keep_the_written_clock(client: Client) -> None:
    first = ticks_of(client.request(ReadObject(TICKS_ID)))
    epoch = 1_700_000_000
    clock = SparkObject(TICKS_ID, SYSTEM_GROUP_MASK, TICKS_TYPE, TicksData(0, epoch).encode())
    later = ticks_of(client.request(WriteObject(clock)))
    assert later.millis_since_boot >= first.millis_since_boot
    assert epoch <= later.seconds_since_epoch <= epoch + 1


def test_sysinfo_has_the_device_id_and_version_and_answers_the_trace(client: Client) -> None:
    info = SysInfoData.decode(reply_object(client.request(ReadObject(SYSINFO_ID))).data)
    assert info == SysInfoData(
        bytes.fromhex(DEFAULT_HANDSHAKE.device_id), DEFAULT_HANDSHAKE.firmware_version
    )
    reply_object(client.request(CreateObject(SENSOR)))
    trace = decode_trace(reply_object(client.request(WriteObject(SYSINFO_TRACE))).data)
    assert trace == (
        TraceEntry(Opcode.READ_OBJECT, SYSINFO_ID, SYSINFO_TYPE),
        TraceEntry(Opcode.CREATE_OBJECT, 0, 302),
        TraceEntry(Opcode.WRITE_OBJECT, SYSINFO_ID, SYSINFO_TYPE),
    )


def test_the_trace_keeps_the_last_10_operations() -> None:
    firmware = Firmware(DEFAULT_HANDSHAKE)
    for msg_id in range(1, 13):
        firmware.serve(encode_request(msg_id, ReadObject(msg_id)))
    served = firmware.serve(encode_request(13, WriteObject(SYSINFO_TRACE)))
    trace = decode_trace(reply_object(decode_response(served.response)).data)
    assert isinstance(trace, tuple)
    assert [entry.object_id for entry in trace] == [*range(4, 13), SYSINFO_ID]


def test_a_restart_starts_millis_since_boot_over() -> None:
    now = [1000.0]
    firmware = Firmware(DEFAULT_HANDSHAKE, clock=lambda: now[0])
    now[0] += 5.0
    before = ticks_of(decode_response(firmware.serve(encode_request(1, ReadObject(3))).response))
    firmware.restart(0x14, 0)
    now[0] += 0.25
    after = ticks_of(decode_response(firmware.serve(encode_request(2, ReadObject(3))).response))
    assert (before.millis_since_boot, after.millis_since_boot) == (5000, 250)
    assert (firmware.handshake.reset_reason, firmware.handshake.reset_data) == (
        "PIN_RESET",
        "NOT_SPECIFIED",
    )


@pytest.mark.parametrize(
    ("command", "reset_data", "stored"),
    [
        (Reboot(), "CBOX_RESET", (SparkObject(100, 0x01, 302, b"\x10\x20"),)),
        (FactoryReset(), "CBOX_FACTORY_RESET", ()),
    ],
)
def test_reboot_and_factory_reset_answer_then_restart(
    connect: Callable[[], Client],
    command: Request,
    reset_data: str,
    stored: tuple[SparkObject, ...],
) -> None:
    """The reply gets out, then the connection drops; a factory reset also erases storage."""
    client = connect()
    client.handshake()
    reply_object(client.request(CreateObject(SENSOR)))
    assert client.request(command).reply == Ack()
    client.wait_until_disconnected()

    again = connect()
    handshake = again.handshake()
    assert (handshake.reset_reason, handshake.reset_data) == ("USER", reset_data)
    assert again.request(ListStoredObjects()).reply == ObjectListReply(stored)


# --- faults ----------------------------------------------------------------


def test_silent_accepts_writes_and_answers_nothing(
    simulator: Simulator, connect: Callable[[], Client], client: Client
) -> None:
    simulator.inject(Fault(FaultKind.SILENT))
    assert simulator.faults == {FaultKind.SILENT}
    client.send(Noop())
    assert client.quiet_for() == []
    fresh = connect()  # over TCP it replaces the first client
    assert fresh.quiet_for() == []  # no handshake for a new client either

    simulator.clear_faults()
    assert fresh.request(Noop()).errcode is Errcode.OK


def test_drop_hangs_up_and_the_same_address_works_again(
    simulator: Simulator, connect: Callable[[], Client], client: Client
) -> None:
    simulator.inject(Fault(FaultKind.DROP))
    client.wait_until_disconnected()
    assert connect().handshake() == DEFAULT_HANDSHAKE


def test_refuse_drops_and_refuses_until_cleared(
    simulator: Simulator, url: str, connect: Callable[[], Client], client: Client
) -> None:
    simulator.inject(Fault(FaultKind.REFUSE))
    client.wait_until_disconnected()
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(url, timeout=0.1)

    simulator.clear_faults()
    assert connect().handshake() == DEFAULT_HANDSHAKE


def test_garbage_arrives_as_a_protocol_error_and_service_goes_on(
    simulator: Simulator, client: Client
) -> None:
    simulator.inject(Fault(FaultKind.GARBAGE, 32))
    line = client.data_line()
    assert len(line) == 32
    assert isinstance(decode_response(line), ProtocolError)
    assert client.request(Noop()).errcode is Errcode.OK


def test_bad_crc_fails_the_matching_command_until_cleared(
    simulator: Simulator, client: Client
) -> None:
    simulator.inject(Fault(FaultKind.BAD_CRC))
    text = client.send(ReadObject(SYSINFO_ID))
    error = client.answer(text)
    assert isinstance(error, ProtocolError)
    assert (error.reason, error.request) == ("response chunk: bad CRC", text)

    simulator.clear_faults()
    assert client.request(ReadObject(SYSINFO_ID)).errcode is Errcode.OK


def test_delay_holds_every_reply(simulator: Simulator, client: Client) -> None:
    simulator.inject(Fault(FaultKind.DELAY, 300))
    started = time.monotonic()
    assert client.request(Noop()).errcode is Errcode.OK
    assert time.monotonic() - started >= 0.3


def test_delay_answers_queued_requests_in_order_each_a_delay_apart(
    simulator: Simulator, client: Client
) -> None:
    simulator.inject(Fault(FaultKind.DELAY, 200))
    started = time.monotonic()
    texts = [client.send(ReadObject(TICKS_ID)) for _ in range(3)]
    answered = []
    for text in texts:
        assert isinstance(client.answer(text), Response)
        answered.append(time.monotonic() - started)
    assert answered[0] >= 0.2
    assert answered[2] >= 0.6  # busy: one request at a time


def test_delay_cleared_answers_the_queue_at_once(simulator: Simulator, client: Client) -> None:
    """Soak finding: ``clear_faults`` waited behind every queued slow reply (seconds)."""
    simulator.inject(Fault(FaultKind.DELAY, 3000))
    texts = [client.send(ReadObject(TICKS_ID)) for _ in range(5)]
    deadline = time.monotonic() + 5.0
    while simulator.queued < len(texts):
        assert time.monotonic() < deadline, f"only {simulator.queued} requests queued"
    started = time.monotonic()
    simulator.clear_faults()
    assert time.monotonic() - started < 1.0
    for text in texts:
        assert isinstance(client.answer(text, timeout=1.0), Response)


def test_identity_changes_show_in_the_next_handshake_and_sysinfo(
    simulator: Simulator, client: Client
) -> None:
    simulator.inject(Fault(FaultKind.FIRMWARE_VERSION, "f00dcafe0"))
    simulator.inject(Fault(FaultKind.PROTO_VERSION, "f00dcaf"))
    simulator.inject(Fault(FaultKind.DEVICE_ID, "00112233445566778899aabb"))
    client.send(Noop())
    handshake = client.handshake()
    assert (handshake.firmware_version, handshake.proto_version, handshake.device_id) == (
        "f00dcafe0",
        "f00dcaf",
        "00112233445566778899AABB",
    )
    info = SysInfoData.decode(reply_object(client.request(ReadObject(SYSINFO_ID))).data)
    assert info == SysInfoData(bytes.fromhex("00112233445566778899AABB"), "f00dcafe0")

    simulator.clear_faults()
    client.send(Noop())
    assert client.handshake() == DEFAULT_HANDSHAKE


def test_setup_mode_announces_itself_then_goes_silent(simulator: Simulator, client: Client) -> None:
    simulator.inject(Fault(FaultKind.SETUP_MODE))
    assert decode_event(client.event()) == SetupMode()
    client.send(Noop())
    assert client.quiet_for() == []
    assert simulator.faults == {FaultKind.SILENT}


def test_restart_drops_and_the_next_handshake_gives_the_reason(
    simulator: Simulator, connect: Callable[[], Client], client: Client
) -> None:
    reply_object(client.request(CreateObject(SENSOR)))
    simulator.inject(Fault(FaultKind.RESTART))
    client.wait_until_disconnected()

    again = connect()
    assert again.handshake().reset_reason == "PIN_RESET"
    assert reply_object(again.request(ReadStoredObject(100))).object_type == 302
    command = again.request(WriteObject(SYSINFO_TRACE))
    trace = decode_trace(reply_object(command).data)
    assert trace == (  # the trace started over
        TraceEntry(Opcode.READ_STORED_OBJECT, 100, 302),
        TraceEntry(Opcode.WRITE_OBJECT, SYSINFO_ID, SYSINFO_TYPE),
    )


def test_cbox_error_is_sent_as_an_event(simulator: Simulator, client: Client) -> None:
    simulator.inject(Fault(FaultKind.CBOX_ERROR, 0x43))
    assert decode_event(client.event()) == CboxErrorEvent(0x43)


def test_every_fault_kind_can_be_injected_with_its_default_and_cleared(
    simulator: Simulator,
) -> None:
    for kind in FaultKind:
        simulator.inject(Fault(kind))
    simulator.clear_faults()
    assert simulator.faults == frozenset()
    assert simulator.handshake.device_id == DEFAULT_HANDSHAKE.device_id


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("silent", Fault(FaultKind.SILENT)),
        ("delay=250", Fault(FaultKind.DELAY, 250)),
        ("cbox-error=0x43", Fault(FaultKind.CBOX_ERROR, 0x43)),
        ("garbage=100000", Fault(FaultKind.GARBAGE, 100_000)),  # beyond a line limit
        (" Proto-Version = abc ", Fault(FaultKind.PROTO_VERSION, "abc")),
    ],
)
def test_faults_are_parsed_from_command_line_specs(spec: str, fault: Fault) -> None:
    assert Fault.parse(spec) == fault


@pytest.mark.parametrize(
    "spec",
    [
        "unplug",
        "delay=soon",
        "silent=1",
        "device-id=123",
        "cbox-error=300",
        "delay=-1",
        "delay=60001",
        "garbage=1048577",
    ],
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        Fault.parse(spec)


# --- the command-line program ----------------------------------------------


@pytest.fixture
def run_program() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m actors.spark.simulator`` with arguments; killed afterwards if running."""
    processes: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "actors.spark.simulator", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        processes.append(process)
        return process

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def listening(process: subprocess.Popen[str]) -> dict[str, str]:
    """Read the program's first line: where it listens, as {"tcp": ..., "pty": ...}."""
    assert process.stdout is not None
    first = process.stdout.readline().split()
    assert first[:2] == ["spark-sim", "listening:"]
    return dict(part.split("=", 1) for part in first[2:])


def test_the_program_prints_where_it_listens_takes_faults_on_stdin_and_stops_on_ctrl_c(
    run_program: Callable[..., subprocess.Popen[str]], open_client: Callable[[str], Client]
) -> None:
    program = run_program(
        *("--tcp", "127.0.0.1:0", "--pty"),
        *("--device-id", "AABBCCDDEEFF001122334455", "--firmware-version", "1234abcd0"),
        *("--fault", "silent", "--log-level", "debug"),
    )
    where = listening(program)
    assert set(where) == {"tcp", "pty"}

    tcp = open_client("socket://" + where["tcp"])
    tcp.send(Noop())
    assert tcp.quiet_for() == []  # --fault silent
    assert program.stdin is not None
    program.stdin.write("clear\n")
    program.stdin.flush()
    answer = None
    for _ in range(10):  # the program applies "clear" on its own time
        answer = tcp.poll_answer(tcp.send(Noop()), timeout=0.5)
        if answer is not None:
            break
    assert isinstance(answer, Response)
    handshake = tcp.handshake()
    assert (handshake.device_id, handshake.firmware_version) == (
        "AABBCCDDEEFF001122334455",
        "1234abcd0",
    )
    assert open_client(where["pty"]).handshake() == handshake

    program.send_signal(signal.SIGINT)
    assert program.wait(timeout=10) == 0
    _, log = program.communicate(timeout=10)
    assert "request_served" in log
    assert "Traceback" not in log
    assert not os.path.exists(where["pty"])


def test_the_program_with_only_a_pty_does_not_listen_on_tcp_and_stops_on_sigterm(
    run_program: Callable[..., subprocess.Popen[str]],
    open_client: Callable[[str], Client],
    tmp_path: pathlib.Path,
) -> None:
    link = tmp_path / "spark"
    program = run_program("--pty", str(link))
    assert listening(program) == {"pty": str(link)}
    assert open_client(str(link)).handshake() == DEFAULT_HANDSHAKE
    program.send_signal(signal.SIGTERM)
    assert program.wait(timeout=10) == 0
    assert not link.exists()


def test_the_program_prints_where_it_listens_only_once_its_faults_took_effect() -> None:
    # stdout and stderr share one pipe, so the order of the lines is the order of the events.
    program = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "actors.spark.simulator",
            "--tcp",
            "127.0.0.1:0",
            "--fault",
            "silent",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert program.stdout is not None
        before = []
        while not (line := program.stdout.readline()).startswith("spark-sim listening"):
            assert line, "the program ended before saying where it listens"
            before.append(line)
        assert any("fault_injected" in line for line in before), before
    finally:
        program.send_signal(signal.SIGTERM)
        program.communicate(timeout=10)


def test_a_simulator_started_with_a_fault_never_serves_without_it(
    open_client: Callable[[str], Client],
) -> None:
    with Simulator(tcp=("127.0.0.1", 0), faults=[Fault(FaultKind.SILENT)]) as sim:
        client = open_client(sim.tcp_url)
        client.send(Noop())
        assert client.quiet_for() == []


def test_the_pty_link_never_removes_a_file_beside_it(tmp_path: pathlib.Path) -> None:
    link = tmp_path / "spark"
    theirs = tmp_path / "spark.new"
    theirs.write_text("someone else's")
    with Simulator(tcp=None, pty=True, pty_link=str(link)) as sim:
        sim.inject(Fault(FaultKind.DROP))  # a new pty behind the same link
        assert os.path.realpath(link).startswith("/dev/pts/")
    assert theirs.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spark.new"]


@pytest.mark.parametrize("address", ["127.0.0.1:99999", "127.0.0.1:65536"])
def test_a_tcp_port_out_of_range_is_a_one_line_error(address: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actors.spark.simulator", "--tcp", address],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    port = address.rpartition(":")[2]
    assert done.stderr.splitlines()[-1].endswith(f"port {port} of {address!r} is not in 0..65535")


def test_the_program_logs_json_lines_with_log_format_json(
    run_program: Callable[..., subprocess.Popen[str]],
) -> None:
    program = run_program("--tcp", "127.0.0.1:0", "--log-format", "json")
    listening(program)
    program.send_signal(signal.SIGTERM)
    assert program.wait(timeout=10) == 0
    _, log = program.communicate(timeout=10)
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert events[0] == "simulator_started"
    assert events[-1] == "simulator_stopped"
