"""Death watch and supervision across nodes, on a real Ray cluster: kill -9, node loss, restarts."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
import ray
from cluster_fsms import NODES, Boom, Close, Count, Open, Record, Recorder, Seen
from structlog.testing import capture_logs

import actorfsm.ray
from actorfsm import (
    ChildRef,
    ChildRestarting,
    Failure,
    GetChild,
    GetChildStatus,
    OneForOne,
    Supervisor,
    Terminated,
)
from actorfsm.ray import HostLost, NodeLost, RemoteChild, ResourcesUnavailable, remote_child
from actorfsm.ray.local_cluster import add_node
from actorfsm.testing import Probe


def _remote_of(child: ChildRef) -> Any:
    """The RayRef the child's current stand-in runs (waits for the stand-in to have one)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        current = child.current()
        if current is not None:
            remote = current.proxy().remote.get(timeout=5)
            if remote is not None:
                return remote
        time.sleep(0.05)
    raise AssertionError(f"{child} has no remote FSM")


def _ask_once_restarted(child: ChildRef, message: Any) -> Any:
    """Ask ``child``; while it waits out a restart backoff the ask fails at once: ask again."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return child.ask(message, timeout=20)
        except ChildRestarting as restarting:
            if time.monotonic() > deadline:
                raise
            time.sleep(restarting.restart_in)


def test_kill_9_of_a_host_process_is_terminated_with_host_lost(cluster: Any) -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n2": 1})
    probe = Probe()
    try:
        probe.watch(ref)
        ref.tell(Close())
        pending = ref.ask(Count(), block=False)  # postponed: waits in the host
        _, pid, _ = ray.get(ref.host.info.remote())
        os.kill(pid, signal.SIGKILL)
        terminated = probe.expect_msg_type(Terminated, timeout=15)
        assert terminated.ref == ref
        assert isinstance(terminated.reason, Failure)
        assert type(terminated.reason.cause) is HostLost
        with pytest.raises(HostLost):
            pending.get(timeout=15)  # fails, never hangs
    finally:
        probe.stop()
    # The next start on that node gets a new host.
    again = actorfsm.ray.start(Recorder, resources={"n2": 1})
    assert again.ask(Count(), timeout=10) == 0
    again.stop(timeout=10)


def test_a_failing_remote_child_restarts_and_nothing_sent_meanwhile_is_lost(
    cluster: Any,
) -> None:
    supervisor = Supervisor.start(
        OneForOne(max_restarts=3, within=60), [remote_child("rec", Recorder, resources={"n1": 1})]
    )
    try:
        child: ChildRef = supervisor.ask(GetChild("rec"))
        first = _remote_of(child)
        with capture_logs() as logs:
            for n in range(100):
                child.tell(Record(n))
            child.tell(Boom())
            for n in range(100, 300):
                child.tell(Record(n))
            seen = child.ask(Seen(), timeout=20)
        assert seen == list(range(100, 300))
        assert _remote_of(child) != first
        child.tell(Close())
        later = child.ask(Count(), block=False)  # relayed, answered well after it was sent
        time.sleep(0.3)
        child.tell(Open())
        assert later.get(timeout=10) == 200
        status = supervisor.ask(GetChildStatus("rec"))
        assert status.restarts == 1
        failures = [entry for entry in logs if entry["event"] == "fsm_failed"]
        assert len(failures) == 1, logs
    finally:
        supervisor.stop()


def test_no_node_has_the_resources_the_supervisor_backs_off_and_reports_once(
    cluster: Any,
) -> None:
    with capture_logs() as logs:
        supervisor = Supervisor.start(
            OneForOne(max_restarts=10, within=60),
            [remote_child("ghost", Recorder, resources={"nowhere": 1})],
        )
        try:
            time.sleep(1.6)  # backoff 0.2, 0.4, 0.8 s: three or four attempts, not hundreds
            status = supervisor.ask(GetChildStatus("ghost"))
        finally:
            supervisor.stop()
    assert 2 <= status.restarts <= 4, status
    assert isinstance(status.last_failure, ResourcesUnavailable)
    reports = [entry for entry in logs if entry["event"] == "fsm_failed"]
    assert len(reports) == 1, reports


def test_node_loss_terminates_watchers_and_the_child_moves_to_the_node_with_its_resource(
    cluster: Any,
) -> None:
    supervisor = Supervisor.start(
        OneForOne(max_restarts=3, within=60), [remote_child("dev", Recorder, resources={"dev": 1})]
    )
    probe = Probe()
    lost_node = None
    try:
        child: ChildRef = supervisor.ask(GetChild("dev"))
        remote = _remote_of(child)
        probe.watch(remote)
        lost_node = next(
            node for node in cluster.list_all_nodes() if node.node_id == remote.node_id
        )
        listed = next(node for node in ray.nodes() if node["NodeID"] == remote.node_id)
        resources = {
            key: listed["Resources"][key]
            for key in ("n1", "n2", "dev")
            if key in listed["Resources"]
        }
        started = time.monotonic()
        cluster.remove_node(lost_node, allow_graceful=False)
        terminated = probe.expect_msg_type(Terminated, timeout=20)
        assert isinstance(terminated.reason, Failure)
        assert type(terminated.reason.cause) is NodeLost
        for n in range(50):  # sent while the child restarts elsewhere: delivered in order
            child.tell(Record(n))
        assert _ask_once_restarted(child, Seen()) == list(range(50))
        moved = _remote_of(child)
        assert moved.node_id != remote.node_id
        assert time.monotonic() - started < 15
        assert child.actor_class is RemoteChild
    finally:
        probe.stop()
        supervisor.stop()
        if lost_node is not None:  # the cluster is shared: put a node like it back
            add_node(cluster, resources)


def test_a_frozen_node_is_declared_dead_within_seconds(cluster: Any) -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n2": 1})
    probe = Probe()
    frozen = next(node for node in cluster.list_all_nodes() if node.node_id == ref.node_id)
    raylet = frozen.all_processes["raylet"][0].process
    try:
        probe.watch(ref)
        started = time.monotonic()
        os.kill(raylet.pid, signal.SIGSTOP)  # the node stops answering, as a frozen machine
        terminated = probe.expect_msg_type(Terminated, timeout=20)
        took = time.monotonic() - started
        assert type(terminated.reason.cause) is NodeLost
        assert took < 10, took  # Ray's default health checks take about a minute
    finally:
        probe.stop()
        os.kill(raylet.pid, signal.SIGCONT)
        cluster.remove_node(frozen, allow_graceful=False)
        add_node(cluster, NODES[1])
