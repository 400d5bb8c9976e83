"""The Spark connector's HTTP API against its in-process API: command throughput, 4 clients.

One simulator (loopback TCP), one connector, its HTTP API on a free loopback
port. Four clients each read the Ticks system object one command at a time:
either four threads calling ``SparkConnector.execute`` (in-process, what a
Python user of the library writes), or four threads of another process, each
with its own kept-alive connection (``http.client``), calling
``GET /spark/blocks/3``, as the operators' tools and other programs the API is
for do. Both run against the same connector in adjacent pairs
(``harness.side_by_side``: the median of per-pair ratios), on the same two
cores, so the ratio is what the HTTP layer costs: the clients' HTTP work,
parsing, JSON, the hop onto the server's event loop and back. Target:
HTTP / in-process >= 0.5.

Run: ``python -m benchmarks.bench_spark_http`` (or ``make bench``).
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

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


def over_http(client: SparkClient, count: int) -> None:
    for _ in range(count):
        client.read(TICKS_ID)


def http_clients(url: str) -> None:
    """In the clients' process: warm up, then print the seconds per command of one run."""
    clients = [SparkClient(url) for _ in range(CLIENTS)]
    for client in clients:
        over_http(client, 20)
    print(timed([functools.partial(over_http, client) for client in clients]))
    for client in clients:
        client.close()


def http_seconds(url: str) -> float:
    """Seconds per command of one run of the HTTP clients, in their own process."""
    clients = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_spark_http", "--clients", url],
        capture_output=True,
        text=True,
        timeout=WAIT * 4,
        check=True,
    )
    return float(clients.stdout)


def main() -> None:
    """Print the machine, then both throughputs and their ratio."""
    print_machine("Spark connector: HTTP API vs in-process API, 4 clients")
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
            try:
                connector.wait_for(Phase.SYNCHRONIZED, WAIT)
                in_process(connector, 20)  # warm up
                http, local, ratio = side_by_side(
                    RUNS,
                    functools.partial(http_seconds, service.http.url),
                    functools.partial(timed, [functools.partial(in_process, connector)] * CLIENTS),
                )
            finally:
                service.stop()
                connector.stop()
    finally:
        structlog.configure(**saved)
    print(f"   {COMMANDS:,} READs of Ticks per run, {CLIENTS} client threads, {RUNS} pairs")
    print(f"   commands/s, medians: in-process API (SparkConnector.execute) {1 / local:8,.0f} /s")
    print(f"   HTTP API (GET /spark/blocks/3, clients in another process): {1 / http:8,.0f} /s")
    print_ratio("HTTP / in-process throughput", ratio, ">= 0.5")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--clients"]:
        http_clients(sys.argv[2])
    else:
        main()
