"""Lifecycle monitoring: the service states, time in each, errors, transitions, alerts."""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    SubscribeTransitionCallBack,
    Transition,
    stay,
)
from actorfsm.supervision import (
    Backoff,
    ChildRef,
    ChildSpec,
    GetChild,
    GetChildStatus,
    Lifecycle,
    LifecycleAlerts,
    OneForOne,
    Supervisor,
    SupervisorState,
)
from actorfsm.supervision.lifecycle import LifecycleMonitor
from actorfsm.testing import Probe, VirtualClock, settle

pytestmark = pytest.mark.timeout(20)

L = Lifecycle


def test_the_monitor_counts_time_in_each_state_and_transitions() -> None:
    monitor = LifecycleMonitor(LifecycleAlerts(), now=0.0)
    assert monitor.move(L.STARTING, 1.0) is L.STOPPED
    assert monitor.move(L.STARTING, 2.0) is None  # already there: no transition
    assert monitor.move(L.RUNNING, 3.0) is L.STARTING
    monitor.failed(ValueError("x"))
    status = monitor.status("w", now=10.0, restart_at=12.0)
    assert (status.state, status.since, status.transitions, status.errors) == (L.RUNNING, 3.0, 2, 1)
    assert status.time_in_state == {L.STOPPED: 1.0, L.STARTING: 2.0, L.RUNNING: 7.0}
    assert status.restart_at == 12.0
    assert str(status.last_failure) == "x"


def test_thrashing_is_reported_once_per_episode() -> None:
    monitor = LifecycleMonitor(LifecycleAlerts(thrash_transitions=3, thrash_window=10.0), 0.0)
    states = [L.STARTING, L.RUNNING, L.ERROR, L.STARTING, L.RUNNING]
    reports = []
    for t, state in enumerate(states):
        monitor.move(state, float(t))
        reports.append(monitor.thrashing(float(t)))
    assert reports == [None, None, None, 4, None]  # more than 3 within 10 s: once
    monitor.move(L.ERROR, 30.0)
    assert monitor.thrashing(30.0) is None  # calm again: the episode ended
    for t in (31.0, 32.0, 33.0):
        monitor.move(L.STARTING if t != 32.0 else L.RUNNING, t)
    assert monitor.thrashing(33.0) == 4  # a new episode is reported again


def test_alert_defaults_follow_seed_001() -> None:
    alerts = LifecycleAlerts()
    assert alerts.bound(L.ERROR) == 300.0
    assert alerts.bound(L.STARTING) == 600.0
    assert alerts.bound(L.STOPPING) == 120.0
    assert alerts.bound(L.RESTARTING) == 120.0
    assert alerts.bound(L.RUNNING) is None
    assert (alerts.thrash_transitions, alerts.thrash_window) == (15, 60.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_after": 0},
        {"starting_after": -1.0},
        {"thrash_transitions": 0},
        {"thrash_transitions": 2.5},
        {"thrash_window": 0},
    ],
)
def test_bad_alert_bounds_are_a_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LifecycleAlerts(**kwargs)


# ------------------------------------------------------------ under a supervisor


class S(enum.Enum):
    SERVING = 1


class Boom(Exception):
    pass


class Gate:
    """Where a handler blocks until the test opens it; ``entered`` says it got there.

    A test moving virtual time waits for ``entered`` first: only a handler
    already blocking when the clock moves is taken as blocked, not waited for.
    """

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        self.opened.wait(5)


class Service(FSM[S, None]):
    """A child that fails, blocks or blocks its start when told to."""

    def __init__(self, start_gate: Gate | None = None) -> None:
        super().__init__()
        self.start_gate = start_gate
        self.start_with(S.SERVING, None)
        self.when(S.SERVING, self.serving)

    def on_start(self) -> None:
        if self.start_gate is not None:
            self.start_gate.hold()

    def serving(self, event: Event) -> Any:
        match event.event:
            case "boom":
                raise Boom("runtime error")
            case ("hold", gate):
                gate.hold()
        return stay()


def supervise(*specs: ChildSpec, **kwargs: Any) -> tuple[pykka.ActorRef[Any], list[ChildRef]]:
    """Start a supervisor and (unless ``wait=False``) wait until it saw its children run."""
    strategy = kwargs.pop("strategy", OneForOne(max_restarts=20))
    wait = kwargs.pop("wait", True)
    sup = Supervisor.start(strategy, list(specs), **kwargs)
    refs = [sup.ask(GetChild(spec.name)) for spec in specs]
    if wait:  # children start one after another, each once the previous one ran on_start
        deadline = time.monotonic() + 10.0
        for spec in specs:
            while sup.ask(GetChildStatus(spec.name)).state is not L.RUNNING:
                assert time.monotonic() < deadline, f"{spec.name} did not start"
                time.sleep(0.001)
    return sup, refs


def test_lifecycle_transitions_go_to_subscribers_with_the_child_ref(probe: Probe) -> None:
    sup, (ref,) = supervise(ChildSpec("svc", Service))
    sup.tell(SubscribeTransitionCallBack(probe.ref))
    probe.expect_msg(CurrentState(sup, SupervisorState.SUPERVISING))
    ref.tell("boom")
    probe.expect_msg(Transition(ref, L.RUNNING, L.ERROR))
    probe.expect_msg(Transition(ref, L.ERROR, L.STARTING))
    probe.expect_msg(Transition(ref, L.STARTING, L.RUNNING))
    sup.stop()
    probe.expect_msg(Transition(ref, L.RUNNING, L.STOPPING))
    probe.expect_msg(Transition(ref, L.STOPPING, L.STOPPED))


def test_child_status_counts_restarts_errors_and_time_in_each_state(
    virtual_clock: VirtualClock,
) -> None:
    sup, (ref,) = supervise(ChildSpec("svc", Service))
    virtual_clock.advance(10.0)
    ref.tell("boom")
    settle(sup)
    ref.ask("ping")  # answered by the new incarnation, so it runs
    status = sup.ask(GetChildStatus("svc"))
    assert (status.name, status.state, status.restarts, status.errors) == ("svc", L.RUNNING, 1, 1)
    assert isinstance(status.last_failure, Boom)
    assert status.since == virtual_clock.now()
    assert status.time_in_state[L.RUNNING] == pytest.approx(10.0)
    assert status.transitions == 5  # STOPPED>STARTING>RUNNING>ERROR>STARTING>RUNNING


def test_a_child_stuck_starting_is_alerted_once(virtual_clock: VirtualClock) -> None:
    gate = Gate()
    with capture_logs() as logs:
        supervise(ChildSpec("svc", Service, (gate,)), wait=False)
        assert gate.entered.wait(5)  # the child's on_start hangs, from virtual time 0
        virtual_clock.advance(599.0)
        assert not [e for e in logs if e["event"] == "lifecycle_alert"]
        virtual_clock.advance(2.0)
        assert len([e for e in logs if e["event"] == "lifecycle_alert"]) == 1
        virtual_clock.advance(1000.0)
        gate.opened.set()
    alerts = [e for e in logs if e["event"] == "lifecycle_alert"]
    assert [(e["kind"], e["state"], e["child"], e["log_level"]) for e in alerts] == [
        ("stuck", "STARTING", "svc", "warning")
    ]
    assert alerts[0]["bound"] == 600.0


def test_a_child_stuck_in_error_is_alerted(virtual_clock: VirtualClock) -> None:
    backoff = Backoff(min=400.0, max=400.0, jitter=0.0)
    with capture_logs() as logs:
        sup, (ref,) = supervise(ChildSpec("svc", Service), strategy=OneForOne(backoff=backoff))
        ref.tell("boom")
        ref.ask("ping", block=False)  # waits for the restart
        while sup.ask(GetChildStatus("svc")).restart_at is None:
            settle(sup)
        virtual_clock.advance(301.0)
    alerts = [(e["kind"], e["state"]) for e in logs if e["event"] == "lifecycle_alert"]
    assert alerts == [("stuck", "ERROR")]


def test_a_child_stuck_stopping_is_alerted(virtual_clock: VirtualClock) -> None:
    gate = Gate()
    sup, (busy, failing) = supervise(
        ChildSpec("busy", Service),
        ChildSpec("failing", Service),
        strategy=OneForOne(max_restarts=0),
    )
    busy.tell(("hold", gate))
    assert gate.entered.wait(5)
    with capture_logs() as logs:
        failing.tell("boom")  # gives up: stops "busy", which is stuck in a handler
        while sup.ask(GetChildStatus("busy")).state is not L.STOPPING:
            settle(sup)
        virtual_clock.advance(121.0)
        gate.opened.set()
    alerts = [(e["kind"], e["state"], e["child"]) for e in logs if e["event"] == "lifecycle_alert"]
    assert alerts == [("stuck", "STOPPING", "busy")]


def test_a_thrashing_child_is_alerted_once() -> None:
    alerts = LifecycleAlerts(thrash_transitions=6, thrash_window=60.0)
    with capture_logs() as logs:
        sup, (ref,) = supervise(ChildSpec("svc", Service), alerts=alerts)
        for _ in range(4):
            ref.tell("boom")
            ref.ask("ping")
        settle(sup)
    thrashing = [e for e in logs if e["event"] == "lifecycle_alert"]
    assert [(e["kind"], e["child"], e["transitions"]) for e in thrashing] == [
        ("thrashing", "svc", 7)
    ]


def test_a_child_given_up_on_under_the_default_limit_raises_no_thrashing_alert() -> None:
    with capture_logs() as logs:
        sup, (ref,) = supervise(ChildSpec("svc", Service), strategy=OneForOne())
        for _ in range(3):  # the default limit: 3 restarts within 60 s
            ref.tell("boom")
            ref.ask("ping")
        ref.tell("boom")  # one more: the supervisor gives up and stops
        assert sup.actor_stopped.wait(10)
    events = [e["event"] for e in logs]
    assert "supervisor_gave_up" in events
    assert "lifecycle_alert" not in events
