"""Restarts do not leak: a failed incarnation is freed once its supervisor moved on."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, ChildSpec, Event, GetChild, OneForOne, Supervisor, stay
from actorfsm.supervision import RESTART_FLOOR
from actorfsm.testing import Probe, VirtualClock

pytestmark = pytest.mark.timeout(60)

RESTARTS = 2_000

live: weakref.WeakSet[Any] = weakref.WeakSet()


class Fragile(FSM[str, None]):
    """Registers itself in ``live``; raises (with itself in the traceback's frames) when told."""

    def __init__(self, probe: Any) -> None:
        super().__init__()
        self.probe = probe
        live.add(self)
        self.start_with("up", None)
        self.when("up", self.up)

    def on_start(self) -> None:
        self.probe.tell("started")

    def up(self, event: Event) -> Any:
        match event:
            case Event("raise", _):
                raise RuntimeError("planned")
        return stay()


def test_two_thousand_restarts_leave_no_failed_instance_alive(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    strategy = OneForOne(max_restarts=RESTARTS + 1, within=1.0)
    sup = Supervisor.start(strategy, [ChildSpec("c", Fragile, args=(probe.ref,))])
    probe.expect_msg("started")
    ref = sup.ask(GetChild("c"))
    with capture_logs():
        for _ in range(RESTARTS):
            virtual_clock.advance(RESTART_FLOOR)  # it ran past the floor: restarted at once
            ref.tell("raise")
            probe.expect_msg("started")
    sup.stop()
    gc.collect()
    assert len(live) <= 2, f"{len(live)} Fragile instances still alive after {RESTARTS} restarts"
