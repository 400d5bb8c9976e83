"""Noop round trips per second from a blocking pyserial client, over loopback TCP and a pty.

A round trip is what a connector does for a ping: encode the Noop, write it,
read until the reply and the handshake that follows it have come, parse the
stream and decode the reply. The client reads what is waiting (``in_waiting or
1``), as a connector's reader thread does; note that pyserial's ``socket://``
reports at most 1 byte waiting, so over TCP it reads byte by byte. For scale, a
third figure times the same round trip over a plain socket, without pyserial.
The simulator serves both transports from one thread, its logging at warning
level so that no per-request log line is timed.

Run: ``python -m benchmarks.bench_spark_wire`` (or ``make bench``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable

import serial
import structlog

from actors.spark.protocol import (
    DataLine,
    EventAnnotation,
    Noop,
    ParsedItem,
    Response,
    StreamParser,
    decode_response,
    encode_request,
    next_msg_id,
)
from actors.spark.simulator import Simulator
from benchmarks.harness import median_of, print_machine, print_ratio

RUNS = 5
RUN_SECONDS = 1.0


class NoopClient:
    """A blocking client that pings and waits for the reply and the handshake after it."""

    def __init__(self, read: Callable[[], bytes], write: Callable[[bytes], object]) -> None:
        self._read = read
        self._write = write
        self.parser = StreamParser()
        self.msg_id = 0
        self._wait(lambda item: isinstance(item, EventAnnotation))  # the greeting

    def round_trip(self) -> None:
        self.msg_id = next_msg_id(self.msg_id)
        request = encode_request(self.msg_id, Noop())
        self._write(request.encode("ascii") + b"\n")
        answered = False

        def done(item: ParsedItem) -> bool:
            nonlocal answered
            if isinstance(item, DataLine):
                response = decode_response(item.text)
                answered = isinstance(response, Response) and response.request == request
            return answered and isinstance(item, EventAnnotation)

        self._wait(done)

    def _wait(self, done: Callable[[ParsedItem], bool]) -> None:
        while True:
            chunk = self._read()
            if not chunk:
                raise TimeoutError("the simulator did not answer")
            if any(done(item) for item in self.parser.feed(chunk)):
                return

    def rate(self) -> float:
        """Round trips per second over one run of about RUN_SECONDS."""
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < RUN_SECONDS:
            self.round_trip()
            count += 1
        return count / (time.perf_counter() - started)


def _measure(label: str, client: NoopClient) -> float:
    rate, samples = median_of(RUNS, client.rate)
    spread = ", ".join(f"{sample:,.0f}" for sample in samples)
    print(f"   {label}: {rate:,.0f} round trips/s (median of {RUNS} runs: {spread})")
    return rate


def _pyserial(label: str, url: str) -> float:
    port = serial.serial_for_url(url, timeout=5)
    try:
        return _measure(label, NoopClient(lambda: port.read(port.in_waiting or 1), port.write))
    finally:
        port.close()


def _plain_socket(label: str, address: tuple[str, int]) -> float:
    with socket.create_connection(address, timeout=5) as sock:
        return _measure(label, NoopClient(lambda: sock.recv(4096), sock.sendall))


def main() -> None:
    """Print the machine, then the median Noop round-trip rates."""
    print_machine("Spark wire protocol: Noop round trips from a blocking client")
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        with Simulator(tcp=("127.0.0.1", 0), pty=True) as simulator:
            tcp = _pyserial("pyserial, loopback TCP", simulator.tcp_url)
            pty = _pyserial("pyserial, pty", simulator.pty_path)
            _plain_socket(
                "plain socket, loopback TCP (no pyserial, for scale)", simulator.tcp_address
            )
        print_ratio("pty / TCP with pyserial", pty / tcp, "none, for reference")
    finally:
        structlog.configure(**saved)


if __name__ == "__main__":
    main()
