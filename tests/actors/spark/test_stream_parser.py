"""The stream parser: the protocol's test vector, its rules for malformed input, and properties.

The properties run with the ``spark-properties`` hypothesis profile: 1,000
examples each by default; set ``ACTORFSM_HYPOTHESIS_EXAMPLES=10000`` (or more)
for a deeper run, e.g.
``ACTORFSM_HYPOTHESIS_EXAMPLES=10000 pytest tests/actors/spark/test_stream_parser.py``
(about two minutes; each property's timeout grows with the count).
"""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from actors.spark.protocol import (
    Ack,
    BufferOverflow,
    DataLine,
    Errcode,
    EventAnnotation,
    ListObjects,
    LogAnnotation,
    Noop,
    ObjectListReply,
    ObjectReply,
    ParsedItem,
    ProtocolError,
    ReadObject,
    Reply,
    Request,
    Response,
    SparkObject,
    StreamParser,
    annotation,
    decode_response,
    encode_request,
    encode_response,
)
from actors.spark.simulator import DEFAULT_HANDSHAKE

PROPERTY = settings(parent=settings.get_profile("spark-properties"))
WHITESPACE = " \t\r\n\x0b\x0c"


def feed_all(parser: StreamParser, chunks: list[str] | list[bytes]) -> list[ParsedItem]:
    return [item for chunk in chunks for item in parser.feed(chunk)]


# --- examples --------------------------------------------------------------


def test_the_spark_md_test_vector() -> None:
    chunks = [
        "<add>0A<id>00<OneWir<!connected:sen",
        "sor>eTem<!s",
        "paced message>pSensor>01<address>28C80E",
        "9A0300009C\n",
    ]
    items = feed_all(StreamParser(), chunks)
    assert [i.text for i in items if isinstance(i, EventAnnotation)] == [
        "connected:sensor",
        "spaced message",
    ]
    assert [i.text for i in items if isinstance(i, DataLine)] == ["0A000128C80E9A0300009C"]
    assert items == [
        LogAnnotation("add"),
        LogAnnotation("id"),
        EventAnnotation("connected:sensor"),
        EventAnnotation("spaced message"),
        LogAnnotation("OneWireTempSensor"),
        LogAnnotation("address"),
        DataLine("0A000128C80E9A0300009C"),
    ]


def test_an_event_is_reported_as_soon_as_it_closes_without_waiting_for_a_newline() -> None:
    parser = StreamParser()
    assert parser.feed("<!BREWBLOX,ed70d66f0") == []
    assert parser.feed(">") == [EventAnnotation("BREWBLOX,ed70d66f0")]
    assert parser.buffered == 0


def test_firmware_that_puts_the_handshake_inside_the_noop_echo_is_understood() -> None:
    # The Brewblox firmware writes the handshake while it echoes the Noop.
    items = StreamParser().feed("010000<!BREWBLOX,a,b>AB|0000\n")
    assert items == [EventAnnotation("BREWBLOX,a,b"), DataLine("010000AB|0000")]


def test_log_lines_trailing_whitespace_and_empty_lines() -> None:
    items = StreamParser().feed("<INFO: booted>\r\n\n  \n010000AB|0000 \t\r\n")
    assert items == [LogAnnotation("INFO: booted"), DataLine("010000AB|0000")]


def test_a_close_without_an_open_is_data() -> None:
    assert StreamParser().feed("sor>eTem\n") == [DataLine("sor>eTem")]


def test_an_annotation_left_open_at_a_newline_stays_in_the_data_line() -> None:
    parser = StreamParser()
    assert parser.feed("01<INFO: cut\n") == [DataLine("01<INFO: cut")]
    assert parser.feed("end>\n") == [DataLine("end>")]
    assert isinstance(decode_response("01<INFO: cut"), ProtocolError)


def test_bytes_are_read_as_latin_1_so_no_byte_is_an_error() -> None:
    assert StreamParser().feed(b"\xff\x00<\x80>\n") == [LogAnnotation("\x80"), DataLine("\xff\x00")]


def test_a_line_that_outgrows_the_buffer_is_dropped_once_and_parsing_resumes() -> None:
    parser = StreamParser(max_buffer=16)
    items = parser.feed("<!SETUP_MODE>" + "A" * 10)
    items += parser.feed("B" * 10 + "<C" * 50)
    assert parser.buffered == 0
    items += parser.feed("still dropped>\n010000AB|0000\n")
    assert items == [
        EventAnnotation("SETUP_MODE"),
        BufferOverflow(16),
        DataLine("010000AB|0000"),
    ]


def test_the_default_cap_is_64_kib() -> None:
    parser = StreamParser()
    assert parser.max_buffer == 64 * 1024
    assert parser.feed("<" * (64 * 1024)) == []
    assert parser.buffered == 64 * 1024
    assert parser.feed("<") == [BufferOverflow(64 * 1024)]
    assert parser.buffered == 0


# --- properties ------------------------------------------------------------


# Plain characters: anything but the three the parser splits on.
PLAIN = st.characters(codec="latin-1", exclude_characters="<>\n")

# A valid stream as a list of steps: text, open a log annotation ("<") or an
# event ("!"), close the innermost open one (">"), end the line ("\n", which
# first closes whatever is open). Flat lists keep hypothesis fast.
STEPS = st.lists(st.tuples(st.sampled_from("t<!>\n"), st.text(PLAIN, max_size=6)), max_size=40)


def render_and_model(steps: list[tuple[str, str]]) -> tuple[str, list[ParsedItem]]:
    """Return the stream the steps write and the items it must parse to.

    The model keeps one data buffer per open annotation: text goes to the
    innermost, a close turns its buffer into an item (an event if the text starts
    with "!") and adds nothing to the enclosing one, a newline turns the line's
    buffer into a data line.
    """
    stream: list[str] = []
    items: list[ParsedItem] = []
    open_texts: list[str] = [""]

    def close() -> None:
        text = open_texts.pop()
        stream.append(">")
        items.append(EventAnnotation(text[1:]) if text.startswith("!") else LogAnnotation(text))

    for kind, text in [*steps, ("\n", "")]:
        match kind:
            case "t":
                stream.append(text)
                open_texts[-1] += text
            case "<" | "!":
                start = "<" if kind == "<" else "<!"
                stream.append(start)
                open_texts.append(start[1:])
            case ">" if len(open_texts) > 1:
                close()
            case "\n":
                while len(open_texts) > 1:
                    close()
                stream.append("\n")
                line = open_texts.pop().rstrip(WHITESPACE)
                open_texts.append("")
                if line:
                    items.append(DataLine(line))
    return "".join(stream), items


def spec_reference(stream: str) -> tuple[list[str], list[str]]:
    """The framing rule read literally: remove the innermost ``<[^<]*?>`` first, repeatedly."""
    annotations = []
    while match := re.search("<([^<]*?)>", stream):
        annotations.append(match.group(1))
        stream = stream[: match.start()] + stream[match.end() :]
    lines = [line.rstrip(WHITESPACE) for line in stream.split("\n")[:-1]]
    return annotations, [line for line in lines if line]


def split(data: st.DataObject, stream: str) -> list[str]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]


@given(steps=STEPS, data=st.data(), as_bytes=st.booleans())
@PROPERTY
def test_any_split_of_a_valid_stream_parses_to_the_same_events_and_data(
    steps: list[tuple[str, str]], data: st.DataObject, as_bytes: bool
) -> None:
    """A stream of lines with nested annotations anywhere gives the items of the model.

    Whatever the chunks and whether they come as str or bytes, the parser yields
    every annotation when it closes (innermost first) and each non-empty line's
    data, in stream order, exactly as the model and the framing rule say.
    """
    stream, expected = render_and_model(steps)
    chunks = split(data, stream)
    parsed = feed_all(StreamParser(), [c.encode("latin-1") for c in chunks] if as_bytes else chunks)
    assert parsed == expected

    annotations, data_lines = spec_reference(stream)
    assert [i.text for i in parsed if isinstance(i, DataLine)] == data_lines
    assert [
        "!" + i.text if isinstance(i, EventAnnotation) else i.text
        for i in parsed
        if isinstance(i, EventAnnotation | LogAnnotation)
    ] == annotations


OBJECTS = st.from_type(SparkObject)


@st.composite
def responses(draw: st.DrawFn) -> tuple[str, Response]:
    """A response line and the Response it must decode to."""
    msg_id = draw(st.integers(0, 0xFFFF))
    request: Request
    reply: Reply | None
    errcode = Errcode.OK
    match draw(st.sampled_from(["noop", "read", "list", "error"])):
        case "noop":
            request, reply = Noop(), Ack()
        case "read":
            obj = draw(OBJECTS)
            request, reply = ReadObject(obj.object_id), ObjectReply(obj)
        case "list":
            request, reply = (
                ListObjects(),
                ObjectListReply(tuple(draw(st.lists(OBJECTS, max_size=3)))),
            )
        case _:
            request, reply = ReadObject(draw(st.integers(0, 0xFFFF))), None
            errcode = draw(st.sampled_from([e for e in Errcode if e is not Errcode.OK]))
    text = encode_request(msg_id, request)
    response = Response(text, msg_id, request.OPCODE, errcode, reply)
    return encode_response(text, errcode, reply), response


# A frame, maybe with a firmware log annotation inserted at some position.
FRAMES = st.tuples(
    st.just("frame"),
    responses(),
    st.none() | st.tuples(st.integers(0), st.text(PLAIN, max_size=10)),
)
GARBAGE = st.tuples(
    st.just("garbage"),
    st.binary(max_size=40).map(lambda raw: raw.translate(None, b"<>\n").decode("latin-1") + "\n"),
    st.none(),
)
EVENTS = st.tuples(
    st.just("event"),
    st.sampled_from(
        [annotation(DEFAULT_HANDSHAKE.event_text()), "<!SETUP_MODE>", "<!CBOXERROR:43>"]
    ),
    st.none(),
)


@given(segments=st.lists(st.one_of(FRAMES, GARBAGE, EVENTS), max_size=12), data=st.data())
@PROPERTY
def test_valid_frames_interleaved_with_garbage_are_all_recovered(
    segments: list[tuple[str, object, tuple[int, str] | None]], data: st.DataObject
) -> None:
    """Every valid frame comes out as its Response, in order; garbage never hides or invents one.

    The stream is a sequence of response lines (each maybe with a log
    annotation inside), garbage lines (random bytes without ``<``, ``>`` or
    ``\\n``, then ``\\n``) and events, cut into random chunks. Recovered
    means: the data lines that decode to a Response are exactly the frames
    sent, in order (none lost, none invented); every garbage line with any
    non-whitespace character is reported as one ProtocolError (a blank one is an
    empty line, dropped); every event arrives, in order; nothing overflows.
    """
    expected: list[Response] = []
    events: list[str] = []
    garbage_lines = 0
    parts: list[str] = []
    for kind, value, log in segments:
        if kind == "frame":
            assert isinstance(value, tuple)
            line, response = value
            if log is not None:
                at = log[0] % (len(line) + 1)
                line = line[:at] + "<INFO: " + log[1] + ">" + line[at:]
            expected.append(response)
            parts.append(line + "\n")
        elif kind == "garbage":
            assert isinstance(value, str)
            text = value.rstrip(WHITESPACE)
            assume(not isinstance(decode_response(text), Response))
            garbage_lines += bool(text)
            parts.append(value)
        else:
            assert isinstance(value, str)
            events.append(value)
            parts.append(value)

    items = feed_all(StreamParser(), split(data, "".join(parts)))

    decoded = [decode_response(i.text) for i in items if isinstance(i, DataLine)]
    assert [d for d in decoded if isinstance(d, Response)] == expected
    assert sum(isinstance(d, ProtocolError) for d in decoded) == garbage_lines
    assert [f"<!{i.text}>" for i in items if isinstance(i, EventAnnotation)] == events
    assert not any(isinstance(i, BufferOverflow) for i in items)


@given(chunks=st.lists(st.binary(max_size=600), max_size=20), frame=responses())
@PROPERTY
def test_random_bytes_never_raise_never_outgrow_the_cap_and_the_next_line_resyncs(
    chunks: list[bytes], frame: tuple[str, Response]
) -> None:
    """Line noise: no exception, ``buffered`` never above the cap, and recovery at ``\\n``.

    The cap is 256 characters here so that hypothesis overflows it often. After
    the noise, a newline and then a valid response line must come out as that
    response: the parser has resynchronised, whatever state the noise left.
    """
    parser = StreamParser(max_buffer=256)
    for chunk in chunks:
        parser.feed(chunk)
        assert parser.buffered <= 256
    line, response = frame
    items = parser.feed(b"\n" + line.encode("ascii") + b"\n")
    assert parser.buffered == 0
    assert items[-1] == DataLine(line)
    assert decode_response(line) == response
