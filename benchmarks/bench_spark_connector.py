"""The Spark connector against the simulator: throughput, recovery after a restart, load.

(a) **Throughput.** Commands (READ of the Ticks system object) through
``SparkConnector.execute`` against a bare blocking pyserial request-response
loop, both over loopback TCP to the same simulator (the simulator serves one
TCP client at a time, so each run starts and stops its own client). The bare
loop is the fast one: the port opened non-blocking, ``select`` on its
descriptor, one ``read(65536)`` takes what has arrived (how the connector's
reader reads); it splits what it reads into lines and decodes the response
that echoes its request, so it does the protocol work the connector does,
minus the actors. (The textbook ``read(in_waiting or 1)`` loop is printed too:
over ``socket://`` ``in_waiting`` is only 0 or 1, so it reads a byte per call.)

The connector is driven three ways, each compared with the bare loop in
adjacent pairs of runs (``harness.side_by_side``: the median of per-pair
ratios): *in flight* (``block=False``: all sent, then all awaited: the
connector's throughput, what the target judges), *4 clients* (four threads,
each one command at a time: a service's usual load) and *one at a time* (a
single client waiting for each answer: latency-bound, for information: each
command crosses three thread wake-ups the bare loop does not have: client to
Commander, reader thread, Commander to client). Target: in flight / bare >= 0.8.

(b) **Restart to SYNCHRONIZED.** With ``reconnect_min`` 0.05 s, the simulator
restarts (``Fault(FaultKind.RESTART)``: the link drops) 20 times; each time the
clock runs from the injection to the connector's ``Transition`` to
SYNCHRONIZED (it reconnects, gets the handshake, writes the clock, reads the
trace). The retry interval is the least time between the starts of two
attempts, so it is measured twice: *back to back* (each restart as soon as the
previous one synchronized and answered a command: the next attempt waits
until 0.05 s after the previous one started) and *settled* (the link was up
longer than the interval before the restart: it is reopened at once).
Target, judged on the back-to-back series: median <= 0.05 s + 3 x the bare
loop's median Noop round trip.

(c) **1,000 commands in flight.** 1,000 ``WriteObject`` commands, each writing
its own index into one of 10 objects, are sent with ``block=False`` before any
reply is awaited; every future must get the reply that echoes its own data
(replies are matched by the echoed request, msgId included), none may be lost.

Logging is at error level, so that no per-request line is timed and the expected
warnings (a lost link after each restart) do not bury the figures.
Run: ``python -m benchmarks.bench_spark_connector`` (or ``make bench``).
"""

from __future__ import annotations

import functools
import logging
import select
import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pykka
import serial
import structlog

from actorfsm import CurrentState, Transition
from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.phase import Phase
from actors.spark.protocol import (
    TICKS_ID,
    CreateObject,
    DataLine,
    EventAnnotation,
    Noop,
    ObjectReply,
    ParsedItem,
    ReadObject,
    Request,
    Response,
    SparkObject,
    StreamParser,
    WriteObject,
    decode_response,
    encode_request,
    next_msg_id,
)
from actors.spark.simulator import Fault, FaultKind, Simulator
from benchmarks.harness import print_machine, print_ratio, side_by_side

RUNS = 9
COMMANDS = 1_000
"""Commands per throughput run."""

RESTARTS = 20
RETRY = 0.05
"""Seconds: the reconnect interval for the restart measurement."""

IN_FLIGHT = 1_000
WAIT = 30.0
"""Seconds to wait for something that must happen."""

SETTINGS: dict[str, Any] = {
    "broadcast_interval": 3600.0,  # one read at SYNCHRONIZED, then none while timing
    "command_timeout": 30.0,
    "ping_interval": 0.05,
    "reconnect_min": RETRY,
    "reconnect_max": 1.0,
}


# --- the bare pyserial loops ---------------------------------------------------------


class BareClient:
    """A blocking pyserial client: write a request, read until the data line that echoes it.

    What it reads goes through the protocol's ``StreamParser`` (annotations out,
    data lines split), as in the connector; ``selecting`` picks how it reads.
    """

    def __init__(self, url: str, selecting: bool) -> None:
        self.port = serial.serial_for_url(url, timeout=0 if selecting else 5)
        self.parser = StreamParser()
        self.items: deque[ParsedItem] = deque()
        self.msg_id = 0
        self.read_chunk: Callable[[], bytes] = self._select_read if selecting else self._waiting

    def close(self) -> None:
        self.port.close()

    def _waiting(self) -> bytes:
        return bytes(self.port.read(self.port.in_waiting or 1))

    def _select_read(self) -> bytes:
        ready, _, _ = select.select([self.port.fileno()], [], [], 5.0)
        return bytes(self.port.read(65536)) if ready else b""

    def next_item(self) -> ParsedItem:
        while not self.items:
            chunk = self.read_chunk()
            if not chunk:
                raise TimeoutError("the simulator did not answer")
            self.items.extend(self.parser.feed(chunk))
        return self.items.popleft()

    def request(self, request: Request) -> Response:
        self.msg_id = next_msg_id(self.msg_id)
        text = encode_request(self.msg_id, request)
        self.port.write(text.encode("ascii") + b"\n")
        while True:
            item = self.next_item()
            if isinstance(item, DataLine):
                response = decode_response(item.text)
                if isinstance(response, Response) and response.request == text:
                    return response

    def wait_for_greeting(self) -> None:
        """The simulator greets a TCP client after 0.2 s; take the greeting before timing."""
        while not isinstance(self.next_item(), EventAnnotation):
            pass


def bare_seconds(url: str, selecting: bool) -> float:
    """Seconds per command of one bare run."""
    client = BareClient(url, selecting)
    try:
        client.wait_for_greeting()
        for _ in range(20):
            client.request(ReadObject(TICKS_ID))
        started = time.perf_counter()
        for _ in range(COMMANDS):
            client.request(ReadObject(TICKS_ID))
        return (time.perf_counter() - started) / COMMANDS
    finally:
        client.close()


def bare_noop_round_trip(url: str) -> float:
    """The median seconds of a Noop round trip with the faster bare loop (select + read)."""
    client = BareClient(url, selecting=True)
    try:
        client.wait_for_greeting()
        samples = []
        for _ in range(500):
            started = time.perf_counter()
            client.request(Noop())
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)
    finally:
        client.close()


# --- the connector ---------------------------------------------------------------------


def start_connector(url: str, datastore: str, **settings: Any) -> SparkConnector:
    connector = SparkConnector.start(
        ConnectorConfig(url, datastore=datastore, **(SETTINGS | settings))
    )
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    for _ in range(20):  # warm up; the first broadcast's read is done meanwhile
        connector.execute(ReadObject(TICKS_ID))
    return connector


CLIENTS = 4
"""Client threads in the *4 clients* mode."""


def _one_at_a_time(connector: SparkConnector, count: int) -> None:
    for _ in range(count):
        connector.execute(ReadObject(TICKS_ID))


def _in_flight(connector: SparkConnector, count: int) -> None:
    futures = [connector.execute(ReadObject(TICKS_ID), block=False) for _ in range(count)]
    for future in futures:
        future.get(timeout=WAIT)


def _clients(connector: SparkConnector, count: int) -> None:
    threads = [
        threading.Thread(target=_one_at_a_time, args=(connector, count // CLIENTS))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)


MODES: dict[str, Callable[[SparkConnector, int], None]] = {
    "in flight": _in_flight,
    f"{CLIENTS} clients": _clients,
    "one at a time": _one_at_a_time,
}


def connector_seconds(url: str, datastore: str, mode: str) -> float:
    """Seconds per command of one connector run in ``mode``."""
    connector = start_connector(url, datastore)
    try:
        started = time.perf_counter()
        MODES[mode](connector, COMMANDS)
        return (time.perf_counter() - started) / COMMANDS
    finally:
        connector.stop()


def throughput(simulator: Simulator, datastore: str) -> None:
    """Print the throughput figures, each mode beside the bare select loop."""
    print(f"(a) throughput: {COMMANDS:,} READs of Ticks per run, loopback TCP, {RUNS} pairs")
    url = simulator.tcp_url
    textbook = statistics.median(bare_seconds(url, selecting=False) for _ in range(3))
    print(f"   bare, read(in_waiting or 1): {1 / textbook:8,.0f} commands/s (median of 3)")
    for mode in MODES:
        connector, bare, ratio = side_by_side(
            RUNS,
            functools.partial(connector_seconds, url, datastore, mode),
            functools.partial(bare_seconds, url, selecting=True),
        )
        print(
            f"   connector, {mode:<13} {1 / connector:8,.0f} commands/s;"
            f" bare select loop beside it {1 / bare:8,.0f}"
        )
        target = ">= 0.8" if mode == "in flight" else "none, for information"
        print_ratio(f"connector {mode} / bare select loop", ratio, target)


# --- restart to SYNCHRONIZED -----------------------------------------------------------


class Reached:
    """When the connector last entered each phase; stamped by a subscribed :class:`Watcher`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[Phase, float] = {}
        self.synchronized = threading.Event()

    def stamp(self, phase: Phase) -> None:
        with self.lock:
            self.at[phase] = time.perf_counter()
        if phase is Phase.SYNCHRONIZED:
            self.synchronized.set()

    def reset(self) -> None:
        with self.lock:
            self.at.clear()
        self.synchronized.clear()

    def since(self, started: float) -> dict[Phase, float]:
        with self.lock:
            return {phase: at - started for phase, at in self.at.items()}


class Watcher(pykka.ThreadingActor):
    """Subscribed to the phase: stamps each phase entered."""

    def __init__(self, reached: Reached) -> None:
        super().__init__()
        self.reached = reached

    def on_receive(self, message: Any) -> None:
        match message:
            case Transition(_, _, Phase() as phase) | CurrentState(_, Phase() as phase):
                self.reached.stamp(phase)


def restart_cycles(
    simulator: Simulator, connector: SparkConnector, reached: Reached, settle: float
) -> list[dict[Phase, float]]:
    """Restart the simulator RESTARTS times, ``settle`` seconds after each SYNCHRONIZED."""
    cycles = []
    for _ in range(RESTARTS):
        time.sleep(settle)
        reached.reset()
        injected = time.perf_counter()
        simulator.inject(Fault(FaultKind.RESTART))
        if not reached.synchronized.wait(WAIT):
            raise TimeoutError("the connector did not synchronize after a restart")
        cycles.append(reached.since(injected))
        connector.execute(ReadObject(TICKS_ID))  # and it works
    return cycles


def print_cycles(name: str, cycles: list[dict[Phase, float]]) -> float:
    """Print the median (and range) to SYNCHRONIZED and of each step; return the median."""
    samples = [cycle[Phase.SYNCHRONIZED] for cycle in cycles]
    median = statistics.median(samples)
    low, high = min(samples) * 1000, max(samples) * 1000
    print(f"   {name}: median {median * 1000:.1f} ms ({low:.1f} to {high:.1f})")
    steps = [Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED]
    parts = []
    for before, after in zip([None, *steps], steps, strict=False):
        took = [c[after] - (c[before] if before else 0.0) for c in cycles if after in c]
        label = f"{before.name[:4] if before else 'restart'} -> {after.name[:4]}"
        parts.append(f"{label} {statistics.median(took) * 1000:.1f}")
    print(f"      median of each step, ms: {'; '.join(parts)}")
    return median


def restart_recovery(simulator: Simulator, datastore: str) -> None:
    print(f"(b) restart -> SYNCHRONIZED, reconnect_min {RETRY} s, TCP, {RESTARTS} restarts each")
    round_trip = bare_noop_round_trip(simulator.tcp_url)
    print(f"   bare Noop round trip (select loop, median of 500): {round_trip * 1000:.3f} ms")
    connector = start_connector(simulator.tcp_url, datastore)
    reached = Reached()
    watcher = Watcher.start(reached)
    connector.subscribe(watcher)
    try:
        reached.synchronized.wait(WAIT)
        back_to_back = restart_cycles(simulator, connector, reached, 0.0)
        settled = restart_cycles(simulator, connector, reached, 2 * RETRY)
    finally:
        connector.unsubscribe(watcher)
        watcher.stop()
        connector.stop()
    median = print_cycles("back to back", back_to_back)
    print_cycles(f"settled {2 * RETRY * 1000:.0f} ms", settled)
    target = RETRY + 3 * round_trip
    print(
        f"   target (back to back): <= {RETRY * 1000:.0f} + 3 x {round_trip * 1000:.3f}"
        f" = {target * 1000:.1f} ms"
    )
    print_ratio("back-to-back median / target", median / target, "<= 1.0")


# --- 1,000 commands in flight ----------------------------------------------------------


def in_flight(simulator: Simulator, datastore: str) -> None:
    print(f"(c) {IN_FLIGHT:,} commands in flight at once (block=False), loopback TCP")
    connector = start_connector(simulator.tcp_url, datastore)
    try:
        ids = []
        for n in range(10):
            created = connector.execute(CreateObject(SparkObject(0, 1, 301, bytes([n]))))
            assert isinstance(created, ObjectReply)
            ids.append(created.obj.object_id)
        started = time.perf_counter()
        futures = [
            connector.execute(
                WriteObject(SparkObject(ids[i % 10], 1, 301, i.to_bytes(2, "little"))),
                block=False,
            )
            for i in range(IN_FLIGHT)
        ]
        sent = time.perf_counter() - started
        replies = []
        lost = 0
        for future in futures:
            try:
                replies.append(future.get(timeout=WAIT))
            except Exception:
                lost += 1
        elapsed = time.perf_counter() - started
    finally:
        connector.stop()
    right = sum(
        1
        for i, reply in enumerate(replies)
        if isinstance(reply, ObjectReply) and reply.obj.data == i.to_bytes(2, "little")
    )
    print(f"   sent {IN_FLIGHT:,} in {sent * 1000:.0f} ms; all answered in {elapsed * 1000:.0f} ms")
    print(f"   answered with their own data: {right:,} of {IN_FLIGHT:,}; lost or failed: {lost}")
    print_ratio("answered correctly / sent", right / IN_FLIGHT, "1.000, with >= 1,000 in flight")


def main() -> None:
    """Print the machine, then the three figures."""
    print_machine("Spark connector against the simulator")
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp,
            Simulator(tcp=("127.0.0.1", 0)) as simulator,
        ):
            datastore = f"{tmp}/spark.db"
            throughput(simulator, datastore)
            restart_recovery(simulator, datastore)
            in_flight(simulator, datastore)
    finally:
        structlog.configure(**saved)


if __name__ == "__main__":
    main()
