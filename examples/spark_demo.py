"""The Spark connector against the built-in simulator, with faults injected while it runs.

A simulated controller serves a pty (as a USB controller would appear at
``/dev/ttyACM0``). The connector connects, synchronizes and runs a few
commands; then the controller misbehaves three times, and the connector
recovers each time by itself:

1. it goes silent (an unplugged USB cable: writes succeed, nothing comes back):
   commands time out, the Watchdog's Noop check fails, the link is closed and
   reopened, and synchronization resumes once the controller answers again;
2. it restarts and takes a second to boot: the link drops, reconnect attempts
   back off, and the connector synchronizes again (writing the clock anew);
3. it comes back with an incompatible protocol version: the connector parks at
   ACKNOWLEDGED (no reconnect loop) and commands fail with
   ``IncompatibleFirmware`` until a compatible controller reconnects.

The narrative goes to stdout; the library's warnings and errors (the lines an
operator would see) go to stderr in between. Every wait is bounded.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from actorfsm import CurrentState, Transition
from actorfsm.logging import configure
from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.datastore import Datastore
from actors.spark.errors import SparkError
from actors.spark.phase import Phase
from actors.spark.protocol import (
    Ack,
    CreateObject,
    ListObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    ReadObject,
    Reply,
    Request,
    SparkObject,
    TicksData,
    WriteObject,
)
from actors.spark.simulator import Fault, FaultKind, Simulator
from examples import spark_http_demo

D, C, A, S = Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED

WAIT = 10.0
"""Seconds to wait for something the connector must do (generous: the machine may be busy)."""

BOOT_TIME = 1.0
"""Seconds the restarted controller stays unreachable, so the reconnect backoff shows."""


class Clock:
    """Seconds since the demo started, for the narrative's time stamps."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def stamp(self) -> str:
        return f"{time.monotonic() - self.t0:6.2f} s"


CLOCK = Clock()


_PRINTING = threading.Lock()


def say(text: str = "") -> None:
    """Print a line of the narrative at once, whole (the phase printer prints from its thread)."""
    with _PRINTING:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


class PhaseLog:
    """Every phase the connector enters, in order, with the time; the main thread waits on it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.entered: list[tuple[float, Phase]] = []

    def record(self, phase: Phase, changed: bool) -> None:
        with self._changed:
            self.entered.append((time.monotonic(), phase))
            self._changed.notify_all()
        say(f"   {CLOCK.stamp()}  phase {'->' if changed else 'is'} {phase.name}")

    def mark(self) -> int:
        """A position in the log: :meth:`wait` looks only at phases entered after it."""
        with self._changed:
            return len(self.entered)

    def wait(self, phase: Phase, since: int, timeout: float = WAIT) -> float:
        """Block until ``phase`` is entered after position ``since``; return when it was."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for at, entered in self.entered[since:]:
                    if entered is phase:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"the connector did not reach {phase.name} in {timeout} s")
                self._changed.wait(left)


class PhasePrinter(pykka.ThreadingActor):
    """Subscribed to the connector's phase: passes each phase entered to the ``PhaseLog``."""

    def __init__(self, phases: PhaseLog) -> None:
        super().__init__()
        self.phases = phases

    def on_receive(self, message: Any) -> None:
        match message:
            case CurrentState(_, Phase() as phase):
                self.phases.record(phase, changed=False)
            case Transition(_, _, Phase() as phase):
                self.phases.record(phase, changed=True)


class Client:
    """Runs commands through the connector, prints each outcome and counts them."""

    def __init__(self, connector: SparkConnector) -> None:
        self.connector = connector
        self.outcomes: collections.Counter[str] = collections.Counter()

    def run(
        self,
        label: str,
        request: Request,
        timeout: float | None = None,
        show: Callable[..., str] | None = None,
    ) -> Reply | None:
        try:
            reply = self.connector.execute(request, timeout=timeout)
        except SparkError as error:
            self.outcomes[type(error).__name__] += 1
            say(f"   {CLOCK.stamp()}  {label:<34} -> {type(error).__name__}: {error}")
            return None
        self.outcomes["ok"] += 1
        say(f"   {CLOCK.stamp()}  {label:<34} -> {(show or describe)(reply)}")
        return reply


def describe(reply: Reply | None) -> str:
    match reply:
        case Ack():
            return "Ack"
        case ObjectReply(SparkObject(object_id, _, 257, data)):
            match TicksData.decode(data):
                case TicksData(millis, seconds):
                    clock = time.strftime("%H:%M:%S", time.localtime(seconds))
                    now = time.strftime("%H:%M:%S")
                    clock = f"clock {clock} (now {now})" if seconds else "clock not set"
                    return f"Ticks: up {millis / 1000:.1f} s, {clock}"
            return f"object {object_id} (Ticks)"
        case ObjectReply(SparkObject(object_id, _, object_type, data)):
            return f"object {object_id}, type {object_type}, data {data.hex().upper()}"
        case ObjectListReply(objects):
            ids = ", ".join(str(obj.object_id) for obj in objects)
            return f"{len(objects)} objects: {ids}"
    return repr(reply)


def connect(config: ConnectorConfig, phases: PhaseLog) -> tuple[SparkConnector, Any]:
    """Start the connector with a phase printer subscribed; wait until it is synchronized."""
    say("1. Connecting: DISCONNECTED -> CONNECTED (port open) -> ACKNOWLEDGED (handshake")
    say("   received, firmware checked) -> SYNCHRONIZED (clock written, trace read).")
    store = Datastore(config.datastore)  # start paused, so the printer sees every phase
    store.autoconnecting = False
    store.close()
    connector = SparkConnector.start(config)
    printer = PhasePrinter.start(phases)
    connector.subscribe(printer)
    started = time.monotonic()
    try:
        connector.set_autoconnecting(True)
        connector.wait_for(S, WAIT)
    except BaseException:
        connector.stop()
        printer.stop()
        raise
    took = time.monotonic() - started
    say(f"   {CLOCK.stamp()}  synchronized {took:.2f} s after connecting began")
    return connector, printer


def commands(client: Client) -> None:
    say("   Some commands while SYNCHRONIZED:")
    created = client.run(
        "CreateObject(type 301, data 0102)", CreateObject(SparkObject(0, 1, 301, b"\x01\x02"))
    )
    object_id = created.obj.object_id if isinstance(created, ObjectReply) else 100
    client.run(
        f"WriteObject({object_id}, data 07)", WriteObject(SparkObject(object_id, 1, 301, b"\x07"))
    )
    client.run(f"ReadObject({object_id})", ReadObject(object_id))
    client.run("ReadObject(3) (the Ticks object)", ReadObject(3))
    client.run("ListObjects()", ListObjects())
    client.run("ReadObject(4242) (no such object)", ReadObject(4242))


def silent(client: Client, simulator: Simulator, phases: PhaseLog) -> tuple[float, float]:
    say()
    say("2. Fault: the controller goes silent (an unplugged USB cable: writes succeed,")
    say("   nothing comes back). A command times out; the Watchdog then sends one Noop,")
    say("   and when that times out too it closes the link. The Connection reopens it,")
    say("   and the Synchronizer pings until a handshake comes:")
    mark = phases.mark()
    injected = time.monotonic()
    simulator.inject(Fault(FaultKind.SILENT))
    client.run("ReadObject(3)", ReadObject(3))
    noticed = phases.wait(D, mark) - injected
    phases.wait(C, mark)
    client.run("Noop() while not synchronized", Noop(), timeout=0.3)
    say(f"   {CLOCK.stamp()}  the controller answers again (faults cleared)")
    mark = phases.mark()
    cleared = time.monotonic()
    simulator.clear_faults()
    resynced = phases.wait(S, mark) - cleared
    client.run("Noop()", Noop())
    return noticed, resynced


def restart(client: Client, simulator: Simulator, phases: PhaseLog) -> tuple[float, float]:
    say()
    say(f"3. Fault: the controller restarts, and is unreachable for {BOOT_TIME:.0f} s as it boots.")
    say("   The link drops; reconnect attempts back off (0.2 s, x1.5 each, at most 1 s;")
    say("   one connect_failed line, then a connect_failed_repeated summary on success);")
    say("   once it is back the connector synchronizes and writes its clock again:")
    mark = phases.mark()
    injected = time.monotonic()
    simulator.inject(Fault(FaultKind.REFUSE))  # booting: unreachable from the restart on
    simulator.inject(Fault(FaultKind.RESTART))
    noticed = phases.wait(D, mark) - injected
    time.sleep(BOOT_TIME)  # the simulated controller boots; no wait for the connector here
    say(f"   {CLOCK.stamp()}  the controller has booted")
    mark = phases.mark()
    cleared = time.monotonic()
    simulator.clear_faults()
    resynced = phases.wait(S, mark) - cleared
    client.run("ReadObject(3) (the Ticks object)", ReadObject(3))
    return noticed, resynced


def incompatible(client: Client, simulator: Simulator, phases: PhaseLog) -> tuple[float, float]:
    say()
    say("4. Fault: the controller reconnects with an incompatible protocol version.")
    say("   The connector logs it once and parks at ACKNOWLEDGED: no sync, no reconnect loop;")
    say("   commands fail with IncompatibleFirmware:")
    mark = phases.mark()
    injected = time.monotonic()
    simulator.inject(Fault(FaultKind.PROTO_VERSION))
    simulator.inject(Fault(FaultKind.DROP))
    phases.wait(D, mark)
    parked = phases.wait(A, mark) - injected
    client.run("Noop()", Noop())
    mark = phases.mark()
    time.sleep(1.0)  # an observation window: nothing should happen in it
    changes = len(phases.entered) - mark
    now = client.connector.phase.name
    say(f"   {CLOCK.stamp()}  1 s later: {changes} phase changes, still {now}")
    say(f"   {CLOCK.stamp()}  a compatible controller is plugged in (faults cleared, link dropped)")
    mark = phases.mark()
    cleared = time.monotonic()
    simulator.clear_faults()
    simulator.inject(Fault(FaultKind.DROP))
    resynced = phases.wait(S, mark) - cleared
    client.run("Noop()", Noop())
    return parked, resynced


@dataclass(frozen=True, slots=True)
class Recovery:
    """How one fault went: how soon the connector noticed, how soon it was back."""

    fault: str
    noticed: float
    recovered: float
    how: str


def summary(client: Client, phases: PhaseLog, recoveries: list[Recovery]) -> None:
    counts = collections.Counter(phase for _, phase in phases.entered[1:])
    entered = ", ".join(f"{phase.name} {counts[phase]}" for phase in Phase if counts[phase])
    failed = ", ".join(f"{name} {n}" for name, n in sorted(client.outcomes.items()) if name != "ok")
    say()
    say("Summary")
    say(f"   phase changes: {sum(counts.values())} ({entered})")
    say(f"   commands: {client.outcomes['ok']} ok; failed, as intended:")
    say(f"      {failed}")
    say("   fault          noticed  recovered  (recovered: from the fault's end to SYNCHRONIZED)")
    for r in recoveries:
        say(f"   {r.fault:<14} {r.noticed:5.2f} s  {r.recovered:7.2f} s  {r.how}")


def main() -> None:
    configure(format="console", level="warning")
    CLOCK.t0 = time.monotonic()
    say("Spark connector demo: a simulated controller on a pty, faults injected live.")
    with (
        tempfile.TemporaryDirectory(prefix="spark-demo-") as tmp,
        Simulator(tcp=None, pty=True) as simulator,
    ):
        config = ConnectorConfig(
            simulator.pty_path,
            datastore=f"{tmp}/spark.db",
            ping_interval=0.2,
            command_timeout=0.5,
            broadcast_interval=0.5,
            reconnect_min=0.2,
            reconnect_factor=1.5,
            reconnect_max=1.0,
        )
        say(f"   controller: {simulator.pty_path} (a real one: /dev/ttyACM0)")
        say("   timing: ping 0.2 s, command timeout 0.5 s, broadcast 0.5 s, reconnect 0.2-1 s")
        say("   (the connector's warnings and errors are logged to stderr, between these lines)")
        say()
        phases = PhaseLog()
        connector, printer = connect(config, phases)
        client = Client(connector)
        try:
            commands(client)
            noticed, recovered = silent(client, simulator, phases)
            recoveries = [Recovery("silent", noticed, recovered, "watchdog closed the link")]
            noticed, recovered = restart(client, simulator, phases)
            recoveries.append(Recovery("restart", noticed, recovered, "backoff, then resync"))
            noticed, recovered = incompatible(client, simulator, phases)
            recoveries.append(Recovery("proto-version", noticed, recovered, "parked, then fixed"))
            spark_http_demo.run(connector)
        finally:
            connector.stop()
            printer.stop()
        summary(client, phases, recoveries)
    say("Spark connector demo done.")


if __name__ == "__main__":
    main()
