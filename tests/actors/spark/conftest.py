"""Fixtures for the Spark protocol and simulator tests.

The ``spark-properties`` hypothesis profile sets how many examples each property
runs: 1,000 by default, ``ACTORFSM_HYPOTHESIS_EXAMPLES=10000`` (or any number)
for a deeper run; their pytest timeout grows with it (60 s per 1,000). Properties
use it as ``@settings(parent=settings.get_profile("spark-properties"))``.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import serial
from hypothesis import HealthCheck, is_hypothesis_test, settings
from hypothesis import strategies as st

from actors.spark.protocol import (
    DataLine,
    EventAnnotation,
    Handshake,
    ParsedItem,
    ProtocolError,
    Request,
    Response,
    SparkObject,
    StreamParser,
    decode_response,
    encode_request,
    next_msg_id,
    parse_handshake,
)
from actors.spark.simulator import Simulator

# Any object the wire can carry: ``st.from_type(SparkObject)`` in the properties.
st.register_type_strategy(
    SparkObject,
    st.builds(
        SparkObject,
        object_id=st.integers(0, 0xFFFF),
        groups=st.integers(0, 0xFF),
        object_type=st.integers(0, 0xFFFF),
        data=st.binary(max_size=32),
    ),
)

EXAMPLES = int(os.environ.get("ACTORFSM_HYPOTHESIS_EXAMPLES", "1000"))

# The spark-connector programs the tests start serve their HTTP API on a free
# port, never on the default 5000 that another program on the machine may hold.
os.environ.setdefault("SPARK_CONNECTOR_HTTP", "127.0.0.1:0")

settings.register_profile(
    "spark-properties",
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give this directory's properties 60 s per 1,000 examples instead of the flat 60 s."""
    here = pathlib.Path(__file__).parent
    for item in items:
        test = getattr(item, "obj", None)
        if item.path.is_relative_to(here) and is_hypothesis_test(test):
            item.add_marker(pytest.mark.timeout(60 * max(1, EXAMPLES // 1000)))


_T = TypeVar("_T")

WAIT = 5.0
"""Seconds a client waits for something the simulator must send."""

QUIET = 0.5
"""Seconds of silence that count as "the simulator answers nothing"."""


class Client:
    """A pyserial client that speaks the protocol: it writes requests and parses the stream."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = serial.serial_for_url(url, timeout=0.05)
        self.parser = StreamParser()
        self.pending: deque[ParsedItem] = deque()
        self.msg_id = 0

    def close(self) -> None:
        self.port.close()

    def write_line(self, text: str) -> None:
        self.port.write(text.encode("latin-1") + b"\n")

    def next_item(self, timeout: float = WAIT) -> ParsedItem | None:
        """Return the next parsed item, or None if none arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if time.monotonic() > deadline:
                return None
            self.pending.extend(self.parser.feed(self.read()))
        return self.pending.popleft()

    def read(self) -> bytes:
        """Read what has arrived, or wait up to the port timeout for one byte.

        Reading only what is waiting matters: pyserial drops the bytes of a
        ``read(n)`` that meets the hang-up before it has n.
        """
        return bytes(self.port.read(self.port.in_waiting or 1))

    def poll(self, pick: Callable[[ParsedItem], _T | None], timeout: float = WAIT) -> _T | None:
        """Skip items until ``pick`` returns something for one; None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (item := self.next_item(max(0.0, deadline - time.monotonic()))) is not None:
            picked = pick(item)
            if picked is not None:
                return picked
        return None

    def wait_for(self, pick: Callable[[ParsedItem], _T | None], timeout: float = WAIT) -> _T:
        """Like :meth:`poll`, but fail the test when nothing is picked."""
        picked = self.poll(pick, timeout)
        if picked is None:
            pytest.fail(f"nothing expected arrived from {self.url} within {timeout} s")
        return picked

    def handshake(self, timeout: float = WAIT) -> Handshake:
        """Wait for the next handshake event."""
        return self.wait_for(
            lambda item: parse_handshake(item.text) if isinstance(item, EventAnnotation) else None,
            timeout,
        )

    def event(self, timeout: float = WAIT) -> str:
        """Wait for the next event's text."""
        return self.wait_for(
            lambda item: item.text if isinstance(item, EventAnnotation) else None, timeout
        )

    def data_line(self, timeout: float = WAIT) -> str:
        """Wait for the next data line's text."""
        return self.wait_for(
            lambda item: item.text if isinstance(item, DataLine) else None, timeout
        )

    def send(self, request: Request) -> str:
        """Write ``request`` with the next msgId; return its text (the echo to expect)."""
        self.msg_id = next_msg_id(self.msg_id)
        text = encode_request(self.msg_id, request)
        self.write_line(text)
        return text

    def answer(self, text: str, timeout: float = WAIT) -> Response | ProtocolError:
        """Wait for the response (or protocol error) that echoes request ``text``."""
        return decode_response(self.wait_for(_echoing(text), timeout).text)

    def poll_answer(self, text: str, timeout: float) -> Response | ProtocolError | None:
        """Like :meth:`answer`, but None when none arrives within ``timeout``."""
        line = self.poll(_echoing(text), timeout)
        return None if line is None else decode_response(line.text)

    def request(self, request: Request, timeout: float = WAIT) -> Response:
        """Send ``request`` and return its decoded response."""
        answer = self.answer(self.send(request), timeout)
        assert isinstance(answer, Response), answer
        return answer

    def quiet_for(self, seconds: float = QUIET) -> list[ParsedItem]:
        """Read for ``seconds`` and return whatever arrived (to show that nothing did)."""
        items = list(self.pending)
        self.pending.clear()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            items.extend(self.parser.feed(self.read()))
        return items

    def wait_until_disconnected(self, timeout: float = WAIT) -> None:
        """Read until the port reports the hang-up, as a connector's reader thread sees it.

        That is a SerialException, or a bare OSError (EIO) from ``in_waiting`` on a
        hung-up pty; SerialException is an OSError.
        """
        deadline = time.monotonic() + timeout
        with pytest.raises(OSError):  # which one depends on the transport
            while time.monotonic() < deadline:
                self.read()
        self.close()


def _echoing(text: str) -> Callable[[ParsedItem], DataLine | None]:
    """Pick the data line that echoes request ``text``."""

    def pick(item: ParsedItem) -> DataLine | None:
        if isinstance(item, DataLine) and decode_response(item.text).request == text:
            return item
        return None

    return pick


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A simulator on a free loopback TCP port and a pty."""
    with Simulator(tcp=("127.0.0.1", 0), pty=True) as sim:
        yield sim


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs over TCP (``socket://``) and over the pty."""
    param: str = request.param
    return param


@pytest.fixture
def url(simulator: Simulator, transport: str) -> str:
    """The pyserial URL of the transport under test."""
    return simulator.tcp_url if transport == "tcp" else simulator.pty_path


@pytest.fixture
def open_client() -> Iterator[Callable[[str], Client]]:
    """Open pyserial clients on any URL; all are closed afterwards."""
    clients: list[Client] = []

    def opened(url: str) -> Client:
        client = Client(url)
        clients.append(client)
        return client

    yield opened
    for client in clients:
        client.close()


@pytest.fixture
def connect(open_client: Callable[[str], Client], url: str) -> Callable[[], Client]:
    """Open pyserial clients on the transport under test."""
    return lambda: open_client(url)


@pytest.fixture
def client(connect: Callable[[], Client]) -> Client:
    """A client on the transport under test that has received its greeting handshake."""
    opened = connect()
    opened.handshake()
    return opened
