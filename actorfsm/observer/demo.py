"""A small live system to look at with the observer (``python -m actorfsm.observer``).

A supervisor runs a service that goes through its lifecycle on timers, a
worker that fails every few seconds (so restarts, streaks and backoff show),
and a nested supervisor with two pollers; a pool of plain counters fills the
FSM list so that search and paging have something to do.
"""

from __future__ import annotations

import enum
import random
from typing import Any

from actorfsm.dsl import NextState, goto, stay
from actorfsm.logging_fsm import LoggingFSM
from actorfsm.messages import Event, StateTimeout
from actorfsm.supervision import Backoff, ChildSpec, OneForOne, Supervisor


class Phase(enum.Enum):
    STOPPED = 1
    STARTING = 2
    RUNNING = 3
    DRAINING = 4


NEXT_PHASE = {
    Phase.STOPPED: Phase.STARTING,
    Phase.STARTING: Phase.RUNNING,
    Phase.RUNNING: Phase.DRAINING,
    Phase.DRAINING: Phase.STOPPED,
}


class Service(LoggingFSM[Phase, int]):
    """Cycles STOPPED → STARTING → RUNNING → DRAINING on a timer, with a heartbeat."""

    log_depth = 20

    def __init__(self, pace: float = 2.0) -> None:
        super().__init__()
        self.pace = pace
        self.start_with(Phase.STOPPED, 0)
        for phase in Phase:
            self.when(phase, self.phase)
        self.on_transition(lambda _old, _new: self.start_single_timer("advance", "advance", pace))
        self.start_single_timer("advance", "advance", pace)
        self.start_timer_with_fixed_delay("heartbeat", "beat", 1.0)

    def phase(self, event: Event) -> NextState | None:
        match event:
            case Event("advance", cycles):
                following = NEXT_PHASE[self.state_name]
                return goto(following).using(cycles + (following is Phase.STOPPED))
            case Event("beat", _):
                return stay()
        return None


class Flaky(LoggingFSM[Phase, int]):
    """Works, then fails after a few seconds: a restart and a failure streak to watch."""

    log_depth = 10

    def __init__(self, fail_after: float = 6.0) -> None:
        super().__init__()
        self.start_with(Phase.RUNNING, 0)
        self.when(Phase.RUNNING, self.running)
        self.start_timer_at_fixed_rate("work", "work", 0.5)
        self.start_single_timer("fail", "fail", fail_after)

    def running(self, event: Event) -> NextState | None:
        match event:
            case Event("work", done):
                return stay().using(done + 1)
            case Event("fail", _):
                msg = "lost the connection to the upstream"
                raise ConnectionError(msg)
        return None


class Counter(LoggingFSM[Phase, int]):
    """A plain FSM of the pool: counts ticks, idles and works by turns."""

    log_depth = 5

    def __init__(self, period: float) -> None:
        super().__init__()
        self.start_with(Phase.STOPPED, 0)
        self.when(Phase.STOPPED, self.handle, state_timeout=period)
        self.when(Phase.RUNNING, self.handle, state_timeout=period)

    def handle(self, event: Event) -> NextState | None:
        match event:
            case Event(StateTimeout(), count):
                target = Phase.RUNNING if self.state_name is Phase.STOPPED else Phase.STOPPED
                return goto(target).using(count + 1)
        return None


def start(pool: int = 200) -> list[Any]:
    """Start the demo system; returns the refs to stop (the tree's root first)."""
    nested = ChildSpec(
        "pollers",
        Supervisor,
        args=(
            OneForOne(max_restarts=100, within=60.0),
            [ChildSpec("poller-a", Service, (3.0,)), ChildSpec("poller-b", Service, (5.0,))],
        ),
    )
    root = Supervisor.start(
        OneForOne(max_restarts=100, within=60.0, backoff=Backoff(min=1.0, max=8.0)),
        [ChildSpec("service", Service), ChildSpec("flaky", Flaky), nested],
    )
    rng = random.Random(1)
    counters = [Counter.start(rng.uniform(1.0, 8.0)) for _ in range(pool)]
    return [root, *counters]
