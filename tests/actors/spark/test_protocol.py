"""The Controlbox v1 wire protocol: CRC8, requests, responses, objects, handshake and events.

The property at the end runs with the ``spark-properties`` hypothesis profile
(1,000 examples; ``ACTORFSM_HYPOTHESIS_EXAMPLES=10000`` for more, see conftest).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.spark.protocol import (
    Ack,
    CboxErrorEvent,
    ClearObjects,
    CreateObject,
    DeleteObject,
    DiscoveredObject,
    DiscoverObjects,
    DiscoveryReply,
    Errcode,
    FactoryReset,
    FirmwareUpdater,
    Handshake,
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
    RejectedRequest,
    Reply,
    Request,
    RequestFrame,
    Response,
    SetupMode,
    SparkObject,
    SysInfoData,
    TicksData,
    TraceEntry,
    UnknownEvent,
    WriteObject,
    annotation,
    crc8,
    decode_event,
    decode_request,
    decode_response,
    decode_trace,
    encode_chunk,
    encode_request,
    encode_response,
    encode_trace,
    next_msg_id,
    parse_handshake,
)

SENSOR = SparkObject(object_id=100, groups=0x01, object_type=302, data=b"\x01\x02\x03")
PID = SparkObject(object_id=101, groups=0x03, object_type=310, data=b"")

# One request of every opcode, and the reply it gets when it succeeds.
EXCHANGES: list[tuple[Request, Reply]] = [
    (Noop(), Ack()),
    (ReadObject(100), ObjectReply(SENSOR)),
    (WriteObject(SENSOR), ObjectReply(SENSOR)),
    (CreateObject(SparkObject(0, 0x01, 302, b"\xff")), ObjectReply(SENSOR)),
    (DeleteObject(100), Ack()),
    (ListObjects(), ObjectListReply((SENSOR, PID))),
    (ReadStoredObject(101), ObjectReply(PID)),
    (ListStoredObjects(), ObjectListReply(())),
    (ClearObjects(), Ack()),
    (Reboot(), Ack()),
    (FactoryReset(), Ack()),
    (ListCompatibleObjects(302), IdListReply((100, 0xFFFF))),
    (DiscoverObjects(), DiscoveryReply((DiscoveredObject(102, 302),))),
]

SPARK_MD_HANDSHAKE = (
    "BREWBLOX,ed70d66f0,3f2243a,2019-06-18,2019-06-18,1.2.1-rc.2,p1,78,0A,1234567F0CASE"
)


# --- CRC8 ------------------------------------------------------------------


def test_crc8_is_dallas_maxim() -> None:
    assert crc8(b"123456789") == 0xA1  # the CRC-8/MAXIM check value
    assert crc8(b"") == 0
    assert crc8(b"\x01\x00\x00") == 0xAB
    assert crc8(b"\x43") == 0xA4


def test_a_frame_with_its_crc_checks_to_zero() -> None:
    payload = bytes(range(40))
    assert crc8(payload + bytes((crc8(payload),))) == 0
    assert encode_chunk(payload).endswith(f"{crc8(payload):02X}")


def test_crc8_continues_from_a_previous_value() -> None:
    assert crc8(b"\x00\x00", crc8(b"\x01")) == crc8(b"\x01\x00\x00")


# --- requests and responses ------------------------------------------------


def test_noop_with_msg_id_1_encodes_to_the_spark_md_example() -> None:
    assert encode_request(1, Noop()) == "010000AB"


def test_the_noop_reply_decodes_ok() -> None:
    assert decode_response("010000AB|0000") == Response(
        request="010000AB", msg_id=1, opcode=Opcode.NONE, errcode=Errcode.OK, reply=Ack()
    )


def test_a_crc_failure_reply_decodes_to_its_errcode() -> None:
    response = decode_response("010000AC|43A4")
    assert isinstance(response, Response)
    assert response.errcode is Errcode.CRC_ERROR_IN_COMMAND
    assert response.reply is None
    assert encode_response("010000AC", Errcode.CRC_ERROR_IN_COMMAND) == "010000AC|43A4"


@pytest.mark.parametrize(("request_", "reply"), EXCHANGES, ids=lambda v: type(v).__name__)
def test_every_opcode_round_trips(request_: Request, reply: Reply) -> None:
    text = encode_request(0x1234, request_)
    assert text == text.upper()
    assert decode_request(text) == RequestFrame(text, 0x1234, request_)

    line = encode_response(text, Errcode.OK, reply)
    assert decode_response(line) == Response(text, 0x1234, request_.OPCODE, Errcode.OK, reply)

    failed = encode_response(text, Errcode.INVALID_OBJECT_ID)
    assert decode_response(failed) == Response(
        text, 0x1234, request_.OPCODE, Errcode.INVALID_OBJECT_ID, None
    )


def test_every_opcode_has_an_exchange() -> None:
    assert sorted(request.OPCODE for request, _ in EXCHANGES) == list(Opcode)


def test_a_list_reply_has_one_crc_checked_chunk_per_item() -> None:
    line = encode_response("0200050007", Errcode.OK, ObjectListReply((SENSOR, PID)))
    _, body = line.split("|")
    chunks = body.split(",")
    assert chunks[0] == "0000"
    assert [bytes.fromhex(chunk)[:-1] for chunk in chunks[1:]] == [SENSOR.encode(), PID.encode()]
    assert all(crc8(bytes.fromhex(chunk)) == 0 for chunk in chunks)


def test_objects_are_little_endian_id_groups_type_data() -> None:
    assert SparkObject(0x0102, 0x80, 0x0304, b"\xaa").encode() == bytes.fromhex("02018004 03AA")
    assert SparkObject.decode(bytes.fromhex("0201800403AA")) == SparkObject(
        0x0102, 0x80, 0x0304, b"\xaa"
    )
    assert isinstance(SparkObject.decode(b"\x01\x02\x03\x04"), ProtocolError)


def test_requests_are_read_ignoring_spaces_and_case() -> None:
    assert decode_request(" 01 00 00 ab\r") == RequestFrame("010000AB", 1, Noop())


@pytest.mark.parametrize(
    ("line", "errcode"),
    [
        ("01000G", Errcode.INPUT_STREAM_DECODING_ERROR),
        ("010", Errcode.INPUT_STREAM_DECODING_ERROR),
        ("0100", Errcode.INPUT_STREAM_READ_ERROR),
        ("010000AC", Errcode.CRC_ERROR_IN_COMMAND),
        (encode_chunk(bytes.fromhex("010063")), Errcode.INVALID_COMMAND),
        (encode_chunk(bytes.fromhex("01000164")), Errcode.INPUT_STREAM_READ_ERROR),
        (encode_chunk(bytes.fromhex("010002640001")), Errcode.INPUT_STREAM_READ_ERROR),
    ],
)
def test_malformed_requests_are_rejected_with_the_errcode_to_answer(
    line: str, errcode: Errcode
) -> None:
    rejected = decode_request(line)
    assert isinstance(rejected, RejectedRequest)
    assert rejected.errcode is errcode
    assert rejected.text == line.upper()


def test_bytes_after_the_arguments_are_ignored_as_the_firmware_spools_them() -> None:
    line = encode_chunk(bytes.fromhex("0100016400FFFF"))
    assert decode_request(line) == RequestFrame(line, 1, ReadObject(100))


def test_msg_ids_count_up_modulo_0xffff() -> None:
    assert next_msg_id(1) == 2
    assert next_msg_id(0xFFFE) == 0
    with pytest.raises(ValueError, match="u16"):
        encode_request(0x10000, Noop())


NOOP = "010000AB"
READ = encode_request(2, ReadObject(100))
LIST = encode_request(3, ListObjects())


@pytest.mark.parametrize(
    ("line", "reason", "request_"),
    [
        ("010000AB", "not one '|' separator", None),
        ("010000AB|0000|0000", "not one '|' separator", None),
        ("01ZZ|0000", "echoed request is not a frame", None),
        ("0100|0000", "echoed request is not a frame", None),
        ("01007F00|0000", "unknown opcode in echo", "01007F00"),
        ("010000AB|0001", "response chunk: bad CRC", NOOP),
        ("010000AB|00X0", "response chunk: not hex", NOOP),
        ("010000AB|", "response chunk: empty chunk", NOOP),
        ("010000AB|00", "no errcode", NOOP),
        ("010000AB|" + encode_chunk(b"\x05"), "unknown errcode", NOOP),
        ("010000AB|" + encode_chunk(b"\x00\x01"), "unexpected fields after the errcode", NOOP),
        ("010000AB|0000," + encode_chunk(b"\x01"), "list chunks in a reply that has none", NOOP),
        (READ + "|" + encode_chunk(b"\x00\x64\x00"), "object shorter than its header", READ),
        (READ + "|" + encode_chunk(b"\x00" + SENSOR.encode()) + ",0000", "list chunks after", READ),
        (LIST + "|0000," + encode_chunk(b"\x64"), "object shorter than its header", LIST),
    ],
)
def test_malformed_responses_are_protocol_error_values(
    line: str, reason: str, request_: str | None
) -> None:
    error = decode_response(line)
    assert isinstance(error, ProtocolError)
    assert error.reason.startswith(reason)
    assert error.text == line
    assert error.request == request_


def test_malformed_list_items_of_ids_and_discoveries_are_protocol_errors() -> None:
    ids = encode_request(4, ListCompatibleObjects(1))
    found = encode_request(5, DiscoverObjects())
    bad_id = decode_response(ids + "|0000," + encode_chunk(b"\x01"))
    bad_discovery = decode_response(found + "|0000," + encode_chunk(b"\x01\x00\x02"))
    assert isinstance(bad_id, ProtocolError)
    assert isinstance(bad_discovery, ProtocolError)
    assert (bad_id.request, bad_discovery.request) == (ids, found)


@given(msg_id=st.integers(0, 0xFFFF), obj=st.from_type(SparkObject))
@settings(parent=settings.get_profile("spark-properties"))
def test_any_object_round_trips_through_write_and_its_reply(msg_id: int, obj: SparkObject) -> None:
    text = encode_request(msg_id, WriteObject(obj))
    assert decode_request(text.lower()) == RequestFrame(text, msg_id, WriteObject(obj))
    reply = ObjectReply(obj)
    decoded = decode_response(encode_response(text, Errcode.OK, reply))
    assert decoded == Response(text, msg_id, Opcode.WRITE_OBJECT, Errcode.OK, reply)


# --- system objects --------------------------------------------------------


def test_ticks_data_is_two_little_endian_u32() -> None:
    ticks = TicksData(millis_since_boot=0x01020304, seconds_since_epoch=0x0A0B0C0D)
    assert ticks.encode() == bytes.fromhex("04030201 0D0C0B0A")
    assert TicksData.decode(ticks.encode()) == ticks
    assert isinstance(TicksData.decode(b"\x00" * 7), ProtocolError)


def test_sysinfo_data_is_device_id_then_nul_padded_version() -> None:
    info = SysInfoData(device_id=bytes(range(12)), version="ed70d66f0")
    assert info.encode() == bytes(range(12)) + b"ed70d66f0" + b"\0" * 11
    assert SysInfoData.decode(info.encode()) == info
    assert isinstance(SysInfoData.decode(b"\x00" * 31), ProtocolError)


def test_the_trace_reply_is_command_2_then_entries_oldest_first() -> None:
    entries = (TraceEntry(Opcode.READ_OBJECT, 2, 256), TraceEntry(Opcode.LIST_OBJECTS, 0, 0))
    data = encode_trace(entries)
    assert data == bytes.fromhex("0201 0200 000105 0000 0000")
    assert decode_trace(data) == entries
    assert isinstance(decode_trace(b"\x01"), ProtocolError)
    assert isinstance(decode_trace(data[:-1]), ProtocolError)


# --- handshake and events --------------------------------------------------


def test_a_full_handshake_parses_into_its_fields() -> None:
    handshake = parse_handshake(SPARK_MD_HANDSHAKE)
    assert handshake == Handshake(
        firmware_version="ed70d66f0",
        proto_version="3f2243a",
        firmware_date="2019-06-18",
        proto_date="2019-06-18",
        system_version="1.2.1-rc.2",
        platform="p1",
        reset_reason_hex="78",
        reset_data_hex="0A",
        device_id="1234567F0CASE",
    )
    assert handshake.event_text() == SPARK_MD_HANDSHAKE
    assert parse_handshake("!" + SPARK_MD_HANDSHAKE) == handshake


def test_old_firmware_sends_fewer_fields_and_the_rest_default_to_empty() -> None:
    short = parse_handshake(SPARK_MD_HANDSHAKE.rsplit(",", 1)[0])
    assert short is not None
    assert short.device_id == ""
    assert short.reset_data_hex == "0A"
    assert parse_handshake("BREWBLOX,ed70d66f0") == Handshake(firmware_version="ed70d66f0")
    assert parse_handshake("BREWBLOX") == Handshake()


def test_newer_firmware_may_send_more_fields() -> None:
    assert parse_handshake(SPARK_MD_HANDSHAKE + ",extra") == parse_handshake(SPARK_MD_HANDSHAKE)


def test_other_events_are_not_handshakes() -> None:
    assert parse_handshake("SETUP_MODE") is None
    assert parse_handshake("BREWBLOXY,1,2") is None


@pytest.mark.parametrize(
    ("reason_hex", "data_hex", "reason", "data"),
    [
        ("78", "0A", "DFU_MODE", "0A"),
        ("8C", "02", "USER", "CBOX_RESET"),
        ("8c", "03", "USER", "CBOX_FACTORY_RESET"),
        ("14", "00", "PIN_RESET", "NOT_SPECIFIED"),
        ("FE", "zz", "FE", "ZZ"),
        ("", "", "", ""),
    ],
)
def test_reset_reason_and_data_have_names(
    reason_hex: str, data_hex: str, reason: str, data: str
) -> None:
    handshake = Handshake(reset_reason_hex=reason_hex, reset_data_hex=data_hex)
    assert (handshake.reset_reason, handshake.reset_data) == (reason, data)


@pytest.mark.parametrize(
    ("text", "event"),
    [
        (SPARK_MD_HANDSHAKE, parse_handshake(SPARK_MD_HANDSHAKE)),
        ("SETUP_MODE", SetupMode()),
        ("CBOXERROR:43", CboxErrorEvent(0x43)),
        ("CBOXERROR:7", CboxErrorEvent(7)),
        ("CBOXERROR:+1", UnknownEvent("CBOXERROR:+1")),
        ("CBOXERROR:", UnknownEvent("CBOXERROR:")),
        ("FIRMWARE_UPDATER,ed70d66f0", FirmwareUpdater("FIRMWARE_UPDATER,ed70d66f0")),
        ("connected:sensor", UnknownEvent("connected:sensor")),
    ],
)
def test_events_are_classified(text: str, event: object) -> None:
    assert decode_event(text) == event


def test_events_render_as_their_annotations() -> None:
    assert annotation(SetupMode().event_text()) == "<!SETUP_MODE>"
    assert annotation(CboxErrorEvent(0x43).event_text()) == "<!CBOXERROR:43>"
    assert CboxErrorEvent(0x43).name == "CRC_ERROR_IN_COMMAND"
    assert CboxErrorEvent(0xFE).name == "FE"
