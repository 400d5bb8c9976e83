"""Debugging FSMs: a failure report with its rolling log, a stuck-handler report, inspect, diagram.

Run it: ``python -m examples.debugging_demo``. Every report is a structlog
event (console renderer on a terminal, JSON lines otherwise).
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from actorfsm import (
    FSM,
    Event,
    LoggingFSM,
    StateTimeout,
    Terminated,
    diagram,
    goto,
    inspect,
    state_label,
    stay,
    watch,
)
from actorfsm.logging import configure
from actorfsm.testing import Probe


class Valve(enum.Enum):
    CLOSED = 1
    OPENING = 2
    OPEN = 3


@dataclass(frozen=True)
class Command:
    name: str


class ValveController(LoggingFSM[Valve, int]):
    """Opens and closes a valve; a "calibrate" command in OPEN fails (a bug)."""

    log_depth = 8

    def __init__(self) -> None:
        super().__init__()
        self.start_with(Valve.CLOSED, 0)
        self.when(Valve.CLOSED, self.closed)
        self.when(Valve.OPENING, self.opening, state_timeout=0.05)
        self.when(Valve.OPEN, self.open)

    def closed(self, event: Event) -> Any:
        match event:
            case Event(Command("open"), cycles):
                return goto(Valve.OPENING).using(cycles + 1)
        return None

    def opening(self, event: Event) -> Any:
        match event.event:
            case Command("opened") | StateTimeout():
                return goto(Valve.OPEN)
        return None

    def open(self, event: Event) -> Any:
        match event:
            case Event(Command("close"), _):
                return goto(Valve.CLOSED)
            case Event(Command("calibrate"), cycles):
                return goto(Valve.OPEN).using(cycles / 0)  # the bug the report explains
        return None


class Sensor(FSM[Valve, None]):
    """A handler that blocks on I/O (here: an event nobody sets for a while)."""

    handler_warn_after: ClassVar[float | None] = 0.3

    def __init__(self, hardware: threading.Event) -> None:
        super().__init__()
        self.hardware = hardware
        self.start_with(Valve.CLOSED, None)
        self.when(Valve.CLOSED, self.read)

    def read(self, event: Event) -> Any:
        self.block_on_hardware()
        return stay().replying("reading")

    def block_on_hardware(self) -> None:
        self.hardware.wait(5)  # never do this in a handler: see the README


def main() -> None:
    configure(format="console")
    print("1. A LoggingFSM that fails: one fsm_failed report with the events leading to it")
    valve = ValveController.start()
    probe = Probe()
    watch(probe.ref, valve)
    for name in ("open", "opened", "close", "open", "opened", "calibrate"):
        valve.tell(Command(name))
    terminated = probe.expect_msg_type(Terminated)
    print(f"   -> the valve stopped with {terminated.reason!r}\n")

    print("2. A handler that blocks: handler_stuck (with the stack), then handler_returned")
    hardware = threading.Event()
    sensor = Sensor.start(hardware)
    reply = sensor.ask("read", block=False)
    time.sleep(0.5)
    snapshot = inspect(sensor)
    print(
        f"   -> inspect() while it is stuck: state={state_label(snapshot.state_name)}, "
        f"busy for {snapshot.busy_for:.2f} s handling {snapshot.current_event!r}"
    )
    hardware.set()
    print(f"   -> it answered {reply.get(timeout=5)!r} once unblocked\n")

    print("3. inspect() and diagram() of a running FSM")
    healthy = ValveController.start()
    for name in ("open", "opened", "close", "open", "opened"):
        healthy.tell(Command(name))
    healthy.ask(Command("unknown"))
    snapshot = inspect(healthy)
    print(f"   state={state_label(snapshot.state_name)} data={snapshot.state_data}")
    for state, metrics in snapshot.metrics.items():
        took = metrics.total_time * 1e3
        print(f"   {state_label(state):8} entered {metrics.entries}x, {took:.1f} ms")
    print(diagram(healthy))
    for ref in (healthy, sensor, probe.ref):
        ref.stop()


if __name__ == "__main__":
    main()
