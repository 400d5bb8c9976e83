"""Prometheus metrics: off by default, one call to enable, bounded labels, every family fed."""

from __future__ import annotations

import enum
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from actorfsm import (
    FSM,
    Backoff,
    ChildSpec,
    Event,
    GetChild,
    GetChildStatus,
    Lifecycle,
    OneForOne,
    Supervisor,
    goto,
    metric_hooks,
    metrics,
    stay,
)
from actorfsm.testing import VirtualClock, settle

pytestmark = pytest.mark.timeout(30)


class S(enum.Enum):
    IDLE = 1
    BUSY = 2


class Machine(FSM[S, int]):
    """Moves IDLE <-> BUSY, ignores "x", postpones "later" while IDLE, fails on "boom"."""

    handler_warn_after = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.IDLE, 0)
        self.when(S.IDLE, self.idle)
        self.when(S.BUSY, self.busy)

    def idle(self, event: Event) -> Any:
        match event.event:
            case "go":
                return goto(S.BUSY)
            case "x":
                return stay()
            case "later":
                return stay().postponing()
            case ("timer", delay):
                self.start_single_timer("t", "x", delay)
                return stay()
            case ("hold", gate):
                gate.wait(5)
                return stay()
            case "boom":
                raise KeyError("boom")
        return None

    def busy(self, event: Event) -> Any:
        match event.event:
            case "go":
                return goto(S.IDLE)
            case "later":
                return stay()
        return None


@pytest.fixture
def registry() -> Iterator[CollectorRegistry]:
    registry = CollectorRegistry()
    metrics.enable(registry)
    yield registry
    metrics.disable()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_metrics_are_off_by_default_and_import_nothing() -> None:
    code = (
        "import sys, actorfsm\n"
        "from actorfsm import metric_hooks\n"
        "assert metric_hooks.sink is None\n"
        "assert 'prometheus_client' not in sys.modules\n"
        "print('off')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "off"
    assert metric_hooks.sink is None


def test_enable_is_one_call_and_refuses_a_second_registry(registry: CollectorRegistry) -> None:
    assert metrics.enable() is metrics.enable(registry) is metrics.current()
    with pytest.raises(RuntimeError, match="another registry"):
        metrics.enable(CollectorRegistry())


def test_per_class_and_state_metrics(registry: CollectorRegistry) -> None:
    ref = Machine.start()
    for _ in range(5):
        ref.tell("x")
    ref.tell("later")  # postponed in IDLE, handled in BUSY after "go"
    ref.ask("go")
    ref.tell("unknown")  # unhandled in BUSY
    ref.ask("go")
    ref.tell("boom")
    wait_for(lambda: not ref.is_alive())
    p, cls = "actorfsm_", {"fsm_class": "Machine"}
    assert value(registry, f"{p}transitions_total", **cls, from_state="IDLE", to_state="BUSY") == 1
    assert value(registry, f"{p}transitions_total", **cls, from_state="BUSY", to_state="IDLE") == 1
    assert value(registry, f"{p}time_in_state_seconds_count", **cls, state="IDLE") == 1
    assert value(registry, f"{p}time_in_state_seconds_count", **cls, state="BUSY") == 1
    assert value(registry, f"{p}unhandled_events_total", **cls, state="BUSY") == 1
    assert value(registry, f"{p}postponed_events_total", **cls, state="IDLE") == 1
    assert value(registry, f"{p}failures_total", **cls, state="IDLE", exception="KeyError") == 1
    # IDLE: 5 x, later (counted once, where it was postponed), go, then boom; BUSY: unknown, go.
    assert value(registry, f"{p}events_handled_total", **cls, state="IDLE") == 8
    assert value(registry, f"{p}events_handled_total", **cls, state="BUSY") == 2


def test_fsms_per_state_has_one_series_per_class_and_state(registry: CollectorRegistry) -> None:
    refs = [Machine.start() for _ in range(30)]
    for ref in refs[:10]:
        ref.ask("go")
    assert value(registry, "actorfsm_fsms", fsm_class="Machine", state="IDLE") == 20
    assert value(registry, "actorfsm_fsms", fsm_class="Machine", state="BUSY") == 10
    text = generate_latest(registry).decode()
    assert "urn:uuid" not in text and refs[0].actor_urn.split(":")[-1] not in text
    series = [line for line in text.splitlines() if line.startswith("actorfsm_fsms{")]
    assert len(series) == 2


def test_runtime_gauges_mailbox_timers_stuck_and_lateness(registry: CollectorRegistry) -> None:
    ref = Machine.start()
    ref.ask(("timer", 0.01))
    wait_for(lambda: value(registry, "actorfsm_scheduler_lateness_seconds_count") >= 1)
    ref.ask(("timer", 60.0))
    assert value(registry, "actorfsm_timers_armed", fsm_class="Machine") == 1
    gate = threading.Event()
    ref.tell(("hold", gate))
    for _ in range(7):
        ref.tell("x")
    wait_for(lambda: value(registry, "actorfsm_stuck_handlers", fsm_class="Machine") == 1)
    assert value(registry, "actorfsm_mailbox_depth", fsm_class="Machine") == 7
    assert value(registry, "actorfsm_mailbox_depth_max", fsm_class="Machine") == 7
    gate.set()
    ref.ask("x")
    wait_for(lambda: value(registry, "actorfsm_stuck_handlers", fsm_class="Machine") == 0)
    assert value(registry, "actorfsm_mailbox_depth", fsm_class="Machine") == 0


@pytest.mark.skipif(
    os.environ.get("ACTORFSM_DISPATCHER") == "pinned",
    reason="every FSM on a dedicated thread: no pool to measure",
)
def test_dispatcher_workers_are_gauges_per_pool(registry: CollectorRegistry) -> None:
    ref = Machine.start()
    gate = threading.Event()
    ref.tell(("hold", gate))
    try:
        wait_for(
            lambda: value(registry, "actorfsm_dispatcher_workers_busy", dispatcher="default") >= 1
        )
        assert value(registry, "actorfsm_dispatcher_workers", dispatcher="default") >= 1
    finally:
        gate.set()


class Service(FSM[S, None]):
    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.IDLE, None)
        self.when(S.IDLE, self.serving)

    def serving(self, event: Event) -> Any:
        if event.event == "boom":
            raise ValueError("runtime error")
        return stay()


def test_supervision_restarts_lifecycle_streaks_give_ups_dead_letters(
    registry: CollectorRegistry,
) -> None:
    sup = Supervisor.start(OneForOne(max_restarts=2), [ChildSpec("svc", Service)])
    child = sup.ask(GetChild("svc"))
    sup_labels = {"supervisor_class": "Supervisor", "child": "svc"}
    for restarts in (1, 2):
        child.tell("boom")
        child.ask("ping")  # the new incarnation answers
        wait_for(lambda r=restarts: sup.ask(GetChildStatus("svc")).restarts == r)
    assert value(registry, "actorfsm_child_restarts_total", **sup_labels) == 2
    assert value(registry, "actorfsm_failure_streak", **sup_labels) == 2
    wait_for(lambda: sup.ask(GetChildStatus("svc")).state is Lifecycle.RUNNING)
    assert value(registry, "actorfsm_children", **sup_labels, lifecycle="RUNNING") == 1
    assert value(registry, "actorfsm_children", **sup_labels, lifecycle="ERROR") == 0
    child.tell("boom")  # a third failure within the limit's window: give up
    wait_for(lambda: not sup.is_alive())
    assert value(registry, "actorfsm_supervisor_give_ups_total", supervisor_class="Supervisor") == 1
    child.tell("late")
    labels = {"fsm_class": "Service", "child": "svc"}
    assert value(registry, "actorfsm_dead_letters_total", **labels) == 1


def test_lifecycle_alerts_are_gauges(registry: CollectorRegistry) -> None:
    backoff = Backoff(min=400.0, max=400.0, jitter=0.0)
    with VirtualClock() as clock:
        sup = Supervisor.start(OneForOne(backoff=backoff), [ChildSpec("svc", Service)])
        child = sup.ask(GetChild("svc"))
        settle(sup)
        child.tell("boom")
        while sup.ask(GetChildStatus("svc")).restart_at is None:
            settle(sup)
        alert = {"supervisor_class": "Supervisor", "child": "svc", "alert": "error_too_long"}
        assert value(registry, "actorfsm_lifecycle_alerts", **alert) == 0
        clock.advance(301.0)
        assert value(registry, "actorfsm_lifecycle_alerts", **alert) == 1
        seconds = value(
            registry,
            "actorfsm_child_state_seconds",
            supervisor_class="Supervisor",
            child="svc",
            lifecycle="ERROR",
        )
        assert seconds == pytest.approx(301.0)
        sup.stop()
