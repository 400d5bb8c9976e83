"""The connector's actors under its Supervisor: a failed actor is restarted, the link recovers.

A Commander is made to fail by a command whose request is not a Request (its
handler raises); any actor by a pykka call of a method it lacks. The
RestForOne supervisor restarts the failed actor and those started after it,
after the backoff; the connector synchronizes again and runs commands
through the same refs. A supervisor that gives up sets ``failure`` and ``exit_code`` and calls
``on_failure``.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator
from typing import Any

import pykka
import pytest
from pykka.messages import ProxyCall

from actorfsm import (
    ChildRef,
    CurrentState,
    GetChildStatus,
    Lifecycle,
    SubscribeTransitionCallBack,
    Transition,
)
from actorfsm.testing import Probe
from actors.spark import connector as connector_module
from actors.spark.broadcaster import Objects
from actors.spark.commander import Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connector import CHILD_NAMES, EXIT_FAILED, SparkConnector
from actors.spark.phase import Phase
from actors.spark.protocol import Ack, Noop
from actors.spark.simulator import Fault, FaultKind, Simulator

WAIT = 15.0
"""Seconds to wait for something that must happen (generous: the machine is shared)."""


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(tcp=("127.0.0.1", 0)) as simulator:
        yield simulator


@pytest.fixture
def connector(sim: Simulator, tmp_path: pathlib.Path) -> Iterator[SparkConnector]:
    config = ConnectorConfig(
        sim.tcp_url,
        datastore=tmp_path / "spark.db",
        ping_interval=0.1,
        command_timeout=3.0,
        reconnect_min=0.05,
        reconnect_max=0.2,
        broadcast_interval=60.0,
    )
    started = SparkConnector.start(config)
    yield started
    started.stop()


def crash(child: Any) -> None:
    """Make the Commander's handler raise: a command whose request has no opcode."""
    child.tell(Execute(object(), pykka.ThreadingFuture()))  # type: ignore[arg-type]


def crash_any(child: Any) -> None:
    """Make any actor fail: a pykka call, without a reply, of a method it does not have."""
    child.tell(ProxyCall(attr_path=("no_such_method",), args=(), kwargs={}))


def expect_running_again(probe: Probe, name: str) -> None:
    """Wait for the lifecycle Transition of child ``name`` from a failure back to RUNNING."""
    deadline = time.monotonic() + WAIT
    failed = False
    while time.monotonic() < deadline:
        message = probe.receive(timeout=max(0.01, deadline - time.monotonic()))
        match message:
            case Transition(ChildRef(name=child), _, Lifecycle.ERROR) if child == name:
                failed = True
            case Transition(ChildRef(name=child), _, Lifecycle.RUNNING) if child == name and failed:
                return
    pytest.fail(f"{name} was not restarted within {WAIT} s")


def expect_phase(probe: Probe, phase: Phase) -> None:
    """Wait for a phase Transition to ``phase``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        match probe.receive(timeout=max(0.01, deadline - time.monotonic())):
            case Transition(_, _, Phase() as new) if new is phase:
                return
    pytest.fail(f"no transition to {phase.name} within {WAIT} s")


def test_a_failed_actor_is_restarted_and_the_connector_synchronizes_again(
    connector: SparkConnector,
) -> None:
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    refs = connector.refs
    probe = Probe()
    connector.supervisor.tell(SubscribeTransitionCallBack(probe.ref))

    crash(refs["commander"])

    expect_running_again(probe, "commander")
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    assert isinstance(connector.execute(Noop()), Ack)
    assert connector.refs == refs  # the same ChildRefs reach the new incarnations
    status = connector.supervisor.ask(GetChildStatus("commander"))
    assert status.restarts == 1
    assert status.state is Lifecycle.RUNNING
    assert connector.failure is None
    assert connector.exit_code == 0


def test_every_actor_is_rewired_after_a_restart(connector: SparkConnector, sim: Simulator) -> None:
    """Clients' subscriptions survive the restart; a later reconnect still synchronizes."""
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    phases, broadcasts, lifecycle = Probe(), Probe(), Probe()
    connector.subscribe(phases.ref)
    connector.subscribe_broadcasts(broadcasts.ref)
    first = phases.expect_msg_type(CurrentState)
    connector.supervisor.tell(SubscribeTransitionCallBack(lifecycle.ref))

    crash_any(connector.refs["phase"])
    expect_running_again(lifecycle, "phase")

    # The new PhaseTracker greets the old subscription, which follows it back up.
    greeting = phases.expect_msg_type(CurrentState, timeout=WAIT)
    assert greeting.fsm_ref != first.fsm_ref
    if greeting.state is not Phase.SYNCHRONIZED:
        expect_phase(phases, Phase.SYNCHRONIZED)
    broadcasts.expect_msg_type(Objects, timeout=WAIT)  # the new Broadcaster's first read

    sim.inject(Fault(FaultKind.DROP))  # the new Synchronizer must hear the next handshake
    expect_phase(phases, Phase.DISCONNECTED)
    expect_phase(phases, Phase.SYNCHRONIZED)
    assert isinstance(connector.execute(Noop()), Ack)


def test_a_supervisor_that_gives_up_reports_failure(
    sim: Simulator, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connector_module, "MAX_RESTARTS", 0)
    causes: list[BaseException] = []
    config = ConnectorConfig(sim.tcp_url, datastore=tmp_path / "spark.db", ping_interval=0.1)
    started = SparkConnector.start(config, on_failure=causes.append)
    try:
        started.wait_for(Phase.SYNCHRONIZED, WAIT)
        crash(started.refs["commander"])
        assert started.failed.wait(WAIT)
        assert started.exit_code == EXIT_FAILED
        assert len(causes) == 1
        assert causes[0] is started.failure
    finally:
        started.stop()


def test_a_watchdog_failure_restarts_the_watchdog_alone(connector: SparkConnector) -> None:
    """RestForOne: the actors before the Watchdog, the link among them, keep running."""
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    phases, lifecycle = Probe(), Probe()
    connector.subscribe(phases.ref)
    phases.expect_msg(CurrentState(connector.refs["phase"].current(), Phase.SYNCHRONIZED))
    connector.supervisor.tell(SubscribeTransitionCallBack(lifecycle.ref))

    crash_any(connector.refs["watchdog"])
    expect_running_again(lifecycle, "watchdog")

    phases.expect_no_msg(0.5)  # the link never dropped
    for name in CHILD_NAMES[:-1]:
        assert connector.supervisor.ask(GetChildStatus(name)).restarts == 0, name
    assert connector.supervisor.ask(GetChildStatus("watchdog")).restarts == 1
    assert isinstance(connector.execute(Noop()), Ack)


def test_a_connection_failure_restarts_it_and_those_after_it_and_synchronizes_again(
    connector: SparkConnector,
) -> None:
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    lifecycle = Probe()
    connector.supervisor.tell(SubscribeTransitionCallBack(lifecycle.ref))
    crash_any(connector.refs["connection"])
    expect_running_again(lifecycle, "connection")
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    assert isinstance(connector.execute(Noop()), Ack)
    statuses = {name: connector.supervisor.ask(GetChildStatus(name)) for name in CHILD_NAMES}
    assert statuses["phase"].restarts == 0
    assert all(statuses[name].restarts == 1 for name in CHILD_NAMES[1:])
