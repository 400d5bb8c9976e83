"""The Spark connector's HTTP API against its in-process API: command throughput, 4 clients.

One simulator (loopback TCP), one connector, its HTTP API on a free loopback
port. Four clients each read the Ticks system object one command at a time:
either four threads calling ``SparkConnector.execute`` (in-process, what a
Python user of the library writes), or four threads of another process, as
the operators' tools and other programs the API is for, each with its own
kept-alive connection, calling ``GET /spark/blocks/3`` and decoding the JSON.
Both run against the same connector in adjacent pairs
(``harness.side_by_side``: the median of per-pair ratios), on the same two
cores.

The HTTP clients come in two kinds. *lean*: a plain HTTP/1.1 keep-alive
client on a socket (a request line out, the headers and the body by
Content-Length in), costing about what curl or a Go program does: the
figure judged, target HTTP / in-process >= 0.5. *http.client*: Python's
standard client, which costs several times more per request (it parses
headers with the email package); on two shared cores its CPU comes out of
the service's, so it is printed for information.

Run: ``python -m benchmarks.bench_spark_http`` (or ``make bench``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.http_client import SparkClient
from actors.spark.phase import Phase
from actors.spark.protocol import TICKS_ID, ReadObject
from actors.spark.service import Service, ServiceOptions
from actors.spark.simulator import Simulator
from benchmarks.harness import print_machine, print_ratio, side_by_side

CLIENTS = 4
COMMANDS = 2_000
"""Commands per run (all clients together)."""

RUNS = 5
"""Pairs of runs."""

WAIT = 30.0

PATH = f"/spark/blocks/{TICKS_ID}"

_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


class LeanClient:
    """A minimal HTTP/1.1 keep-alive client: GET one path, read the answer by Content-Length."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=WAIT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = f"GET {PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        self.buffer = b""

    def read(self) -> Any:
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(65536)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = _LENGTH.search(head)
        if not head.startswith(b"HTTP/1.1 200") or length is None:
            raise RuntimeError(f"unexpected answer: {head[:80]!r}")
        size = int(length.group(1))
        while len(rest) < size:
            rest += self.sock.recv(65536)
        self.buffer = rest[size:]
        return json.loads(rest[:size])

    def close(self) -> None:
        self.sock.close()


def timed(clients: list[Callable[[int], None]]) -> float:
    """Seconds per command when each of ``clients`` runs its share on its own thread."""
    share = COMMANDS // len(clients)
    threads = [threading.Thread(target=client, args=(share,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 4)
    return (time.perf_counter() - started) / (share * len(clients))


def in_process(connector: SparkConnector, count: int) -> None:
    for _ in range(count):
        connector.execute(ReadObject(TICKS_ID))


def repeat(read: Callable[[], Any], count: int) -> None:
    for _ in range(count):
        read()


def http_clients(kind: str, url: str) -> None:
    """In the clients' process: warm up, then print the seconds per command of one run."""
    clients: list[LeanClient] | list[SparkClient]
    if kind == "lean":
        clients = [LeanClient(url) for _ in range(CLIENTS)]
        reads = [client.read for client in clients]
    else:
        clients = [SparkClient(url) for _ in range(CLIENTS)]
        reads = [functools.partial(client.read, TICKS_ID) for client in clients]
    for read in reads:
        repeat(read, 20)
    print(timed([functools.partial(repeat, read) for read in reads]))
    for client in clients:
        client.close()


def http_seconds(kind: str, url: str) -> float:
    """Seconds per command of one run of the HTTP clients, in their own process."""
    clients = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_spark_http", "--clients", kind, url],
        capture_output=True,
        text=True,
        timeout=WAIT * 4,
        check=True,
    )
    return float(clients.stdout)


def main() -> None:
    """Print the machine, then both throughputs and their ratio, per kind of HTTP client."""
    print_machine("Spark connector: HTTP API vs in-process API, 4 clients")
    print(f"   {COMMANDS:,} READs of Ticks per run, {CLIENTS} client threads, {RUNS} pairs")
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-spark-http-") as tmp,
            Simulator(tcp=("127.0.0.1", 0)) as simulator,
        ):
            config = ConnectorConfig(
                simulator.tcp_url, datastore=f"{tmp}/spark.db", broadcast_interval=60.0
            )
            connector = SparkConnector.start(config)
            service = Service.start(connector, ServiceOptions(http=("127.0.0.1", 0)))
            assert service.http is not None
            local = functools.partial(timed, [functools.partial(in_process, connector)] * CLIENTS)
            try:
                connector.wait_for(Phase.SYNCHRONIZED, WAIT)
                in_process(connector, 20)  # warm up
                for kind, target in (("lean", ">= 0.5"), ("http.client", "none, for information")):
                    http, in_proc, ratio = side_by_side(
                        RUNS, functools.partial(http_seconds, kind, service.http.url), local
                    )
                    print(
                        f"   commands/s (medians): HTTP with {kind} clients {1 / http:7,.0f},"
                        f" in-process API beside it {1 / in_proc:7,.0f}"
                    )
                    print_ratio(f"HTTP ({kind} clients) / in-process throughput", ratio, target)
            finally:
                service.stop()
                connector.stop()
    finally:
        structlog.configure(**saved)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--clients"]:
        http_clients(sys.argv[2], sys.argv[3])
    else:
        main()
