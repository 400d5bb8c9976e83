"""The Spark connector on the node that holds the controller, driven from the head node.

A local Ray cluster stands in for three machines: the head (where this
program runs), a node with the controller plugged in (resource
``usb:spark-1``; here a simulated controller on a pty of that node) and a
spare node. ``actorfsm.ray.start`` places a ``SparkStation`` FSM, which runs
the connector next to the device, on the node that has the resource; the head
finds it by name, reads its phase, runs commands on the controller, looks into
it, makes the controller go silent and watches the connector recover, then
stops everything. Every wait is bounded; the program ends by itself.

Run it with ``python -m examples.ray_demo`` (or ``make ray-demo``).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import actorfsm.ray
from actorfsm import (
    FSM,
    PINNED,
    CurrentState,
    Event,
    NextState,
    StopEvent,
    Transition,
    goto,
    state_label,
    stay,
)
from actorfsm.logging import configure
from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.errors import SparkError
from actors.spark.phase import Phase
from actors.spark.protocol import CreateObject, ListObjects, ReadObject, Request, SparkObject
from actors.spark.simulator import Fault, FaultKind, Simulator

DEVICE = "usb:spark-1"
COMMAND_TIMEOUT = 0.5
WAIT = 20.0


@dataclass(frozen=True, slots=True)
class GetPhases:
    """Ask the station for every phase the connector entered, in order (the last is now)."""


@dataclass(frozen=True, slots=True)
class Execute:
    """Ask the station to run ``request`` on its controller: the reply, or the error as text."""

    request: Request


@dataclass(frozen=True, slots=True)
class Inject:
    """Make the (simulated) controller misbehave (``None``: clear the faults)."""

    fault: FaultKind | None


class SparkStation(FSM[Phase, tuple[Phase, ...]]):
    """The connector and its controller on one node; its state is the connector's phase.

    Its data is every phase the connector entered, so the head misses none by polling.
    """

    handler_warn_after = 2.0  # Execute waits at most the command timeout

    dispatcher = PINNED  # Execute waits for the controller: on its own thread, not the pool's

    def __init__(self) -> None:
        super().__init__()
        self._stack = contextlib.ExitStack()
        self._connector: SparkConnector | None = None
        self._simulator: Simulator | None = None
        self.start_with(Phase.DISCONNECTED, ())
        for phase in Phase:
            self.when(phase, self._station)
        self.on_termination(self._close)

    def on_start(self) -> None:
        """Start the simulated controller on a pty of this node, and the connector on it."""
        simulator = self._simulator = self._stack.enter_context(Simulator(tcp=None, pty=True))
        folder = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="spark-station-"))
        config = ConnectorConfig(
            simulator.pty_path,
            datastore=f"{folder}/spark.db",
            ping_interval=0.2,
            command_timeout=COMMAND_TIMEOUT,
            broadcast_interval=0.5,
            reconnect_min=0.2,
            reconnect_max=1.0,
        )
        self._connector = SparkConnector.start(config)
        self._connector.subscribe(self.actor_ref)

    def _station(self, event: Event) -> NextState | None:
        match event.event:
            case CurrentState(_, Phase() as phase) | Transition(_, _, Phase() as phase):
                return goto(phase).using((*event.data, phase))
            case GetPhases():
                return stay().replying(event.data)
            case Execute(request):
                return stay().replying(self._execute(request))
            case Inject(fault):
                assert self._simulator is not None
                if fault is None:
                    self._simulator.clear_faults()
                else:
                    self._simulator.inject(Fault(fault))
                return stay()
        return None

    def _execute(self, request: Request) -> Any:
        """Run one command; bounded by the command timeout (the only wait in a handler here)."""
        assert self._connector is not None
        try:
            return self._connector.execute(request, timeout=COMMAND_TIMEOUT)
        except SparkError as error:
            return f"{type(error).__name__}: {error}"

    def _close(self, stop_event: StopEvent) -> None:
        if self._connector is not None:
            self._connector.stop()
        self._stack.close()


def _wait_for(station: Any, phase: Phase, since: int, timeout: float = WAIT) -> float:
    """Ask for the phases until ``phase`` is entered after the first ``since``; how long it took."""
    started = time.monotonic()
    while phase not in station.ask(GetPhases(), timeout=WAIT)[since:]:
        if time.monotonic() - started > timeout:
            msg = f"the station did not reach {phase.name} within {timeout} s"
            raise TimeoutError(msg)
        time.sleep(0.05)
    return time.monotonic() - started


def _run(station: Any, label: str, request: Request) -> None:
    reply = station.ask(Execute(request), timeout=WAIT)
    print(f"   {label:<28} -> {str(reply)[:100]}")


def main() -> None:
    configure(format="console", level="warning")
    print("Spark connector on a Ray cluster: the connector runs on the node with the device.")
    nodes = ({DEVICE: 1}, {"spare": 1})
    with actorfsm.ray.local_cluster(nodes, host_log_level="warning"):
        station = actorfsm.ray.start(SparkStation, name="spark-1", resources={DEVICE: 1})
        try:
            found = actorfsm.ray.get("spark-1")
            print(f"   head node: this process; station {found} (the node with {DEVICE})")
            took = _wait_for(found, Phase.SYNCHRONIZED, 0)
            phases = found.ask(GetPhases(), timeout=WAIT)
            print(f"   phases read from the head node: {' -> '.join(p.name for p in phases)}")
            print("1. Commands from the head node, run by the connector next to the controller:")
            _run(found, "CreateObject(type 301)", CreateObject(SparkObject(0, 1, 301, b"\x01")))
            _run(found, "ReadObject(3) (Ticks)", ReadObject(3))
            _run(found, "ListObjects()", ListObjects())
            _run(found, "ReadObject(4242) (no such)", ReadObject(4242))
            print("2. The controller goes silent; the connector notices and recovers by itself:")
            mark = len(found.ask(GetPhases(), timeout=WAIT))
            found.tell(Inject(FaultKind.SILENT))
            took = _wait_for(found, Phase.DISCONNECTED, mark)
            print(f"   phase DISCONNECTED after {took:.2f} s (the watchdog closed the link)")
            mark = len(found.ask(GetPhases(), timeout=WAIT))
            found.tell(Inject(None))
            took = _wait_for(found, Phase.SYNCHRONIZED, mark)
            print(f"   phase SYNCHRONIZED again {took:.2f} s after the controller came back")
            snapshot = actorfsm.ray.inspect(found)
            state = state_label(snapshot.state_name)
            print(f"3. inspect from the head node: state {state}, metrics:")
            for phase, metrics in snapshot.metrics.items():
                took = metrics.total_time
                print(f"   {state_label(phase):<13} entered {metrics.entries}x, {took:.2f} s")
        finally:
            station.stop(timeout=WAIT)
    print("Spark connector on a Ray cluster: done.")


if __name__ == "__main__":
    main()
