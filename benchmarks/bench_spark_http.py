"""The Spark connector's HTTP API against its in-process API: command throughput, 4 clients.

One simulator (loopback TCP), one connector, its HTTP API on a free loopback
port. Four client threads each read the Ticks system object one command at a
time, either through ``SparkConnector.execute`` (in-process, what a Python
user of the library would write) or through ``GET /spark/blocks/3`` with
their own kept-alive HTTP connection (``http.client``, as an operator's tool
would). Both run against the same connector in adjacent pairs
(``harness.side_by_side``: the median of per-pair ratios), so the ratio is
what the HTTP layer costs: parsing, JSON, the hop onto the server's event
loop and back, and the clients' own HTTP work, all in this one process on the
same cores. Target: HTTP / in-process >= 0.5.

Run: ``python -m benchmarks.bench_spark_http`` (or ``make bench``).
"""

from __future__ import annotations

import functools
import logging
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
            clients = [SparkClient(service.http.url) for _ in range(CLIENTS)]
            try:
                connector.wait_for(Phase.SYNCHRONIZED, WAIT)
                for client in clients:  # warm up: connections open, names loaded
                    over_http(client, 20)
                http, local, ratio = side_by_side(
                    RUNS,
                    functools.partial(timed, [functools.partial(over_http, c) for c in clients]),
                    functools.partial(timed, [functools.partial(in_process, connector)] * CLIENTS),
                )
            finally:
                for client in clients:
                    client.close()
                service.stop()
                connector.stop()
    finally:
        structlog.configure(**saved)
    print(f"   {COMMANDS:,} READs of Ticks per run, {CLIENTS} client threads, {RUNS} pairs")
    print(f"   in-process API (SparkConnector.execute): {1 / local:8,.0f} commands/s (median)")
    print(f"   HTTP API (GET /spark/blocks/3):          {1 / http:8,.0f} commands/s (median)")
    print_ratio("HTTP / in-process throughput", ratio, ">= 0.5")


if __name__ == "__main__":
    main()
