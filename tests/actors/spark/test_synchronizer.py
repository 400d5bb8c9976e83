"""The Synchronizer on its own: probes stand in for the Commander and the Connection.

Each scenario drives a real PhaseTracker to CONNECTED, answers the
Synchronizer's commands by telling it ``CommandDone`` and checks what it asks
of the phase, the Commander and the Connection.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import CurrentState, SubscribeTransitionCallBack, Transition
from actorfsm.testing import Probe, VirtualClock, settle
from actors.spark.commander import CommandDone, Execute, Incompatible
from actors.spark.config import PROTO_VERSION, ConnectorConfig
from actors.spark.connection import Close
from actors.spark.datastore import Datastore
from actors.spark.errors import CommandTimeout
from actors.spark.phase import Phase, PhaseTracker, RequestPhase
from actors.spark.protocol import (
    Handshake,
    Noop,
    ObjectReply,
    SetupMode,
    SparkObject,
    TicksData,
    TraceEntry,
    WriteObject,
    encode_trace,
)
from actors.spark.simulator import DEFAULT_HANDSHAKE
from actors.spark.synchronizer import Synchronizer
from actors.spark.topics import Subscribe, Topic

D, C, A, S = Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED


class Rig:
    """A Synchronizer wired to probes for the Commander and Connection and to a PhaseTracker."""

    def __init__(self, tmp_path: pathlib.Path, **settings: Any) -> None:
        settings.setdefault("ping_interval", 60.0)
        self.config = ConnectorConfig("socket://127.0.0.1:9", **settings)
        self.datastore = Datastore(tmp_path / "s.db")
        self.commander = Probe()
        self.connection = Probe()
        self.phases = Probe()
        self.tracker = PhaseTracker.start()
        self.tracker.tell(SubscribeTransitionCallBack(self.phases.ref))
        self.phases.expect_msg(CurrentState(self.tracker, D))
        self.sync = Synchronizer.start(
            self.config, self.datastore, self.tracker, self.commander.ref, self.connection.ref
        )
        self.commander.expect_msg(Subscribe(Topic.EVENTS, self.sync))

    def to(self, phase: Phase) -> None:
        old = self.tracker.proxy().state_name.get(timeout=3)
        assert self.tracker.ask(RequestPhase(phase)) is True
        self.phases.expect_msg(Transition(self.tracker, old, phase))
        settle(self.sync)  # it has seen the transition (and armed its timers)

    def expect_phase(self, old: Phase, new: Phase) -> None:
        self.phases.expect_msg(Transition(self.tracker, old, new))

    def expect_command(self) -> Execute:
        execute = self.commander.expect_msg_type(Execute)
        assert execute.internal and execute.reply_to is self.sync
        return execute

    def answer(self, execute: Execute, reply: Any = None, error: Any = None) -> None:
        self.sync.tell(CommandDone(execute.tag, execute.request, reply, error))

    def handshake(self, handshake: Handshake = DEFAULT_HANDSHAKE) -> Execute:
        """Connect, answer the first Noop with ``handshake``; return the next command."""
        self.to(C)
        assert self.expect_command().request == Noop()
        self.sync.tell(handshake)
        self.expect_phase(C, A)
        return self.expect_command()

    def sync_steps(self) -> tuple[Execute, Execute]:
        """Connect and handshake; return the clock write and the trace read, sent together."""
        clock = self.handshake()
        assert isinstance(clock.request, WriteObject) and clock.request.obj.object_id == 3
        trace = self.expect_command()
        assert trace.request == WriteObject(SparkObject(2, 0x80, 256, b"\x02"))
        settle(self.sync)
        return clock, trace


def answer_clock(rig: Rig, execute: Execute) -> None:
    assert isinstance(execute.request, WriteObject)
    rig.answer(execute, ObjectReply(execute.request.obj))


TRACE = (TraceEntry(2, 3, 257), TraceEntry(1, 100, 301))


def answer_trace(rig: Rig, execute: Execute) -> None:
    rig.answer(execute, ObjectReply(SparkObject(2, 0x80, 256, encode_trace(TRACE))))


def test_the_service_speaks_the_simulators_protocol_version() -> None:
    assert DEFAULT_HANDSHAKE.proto_version == PROTO_VERSION


def test_noops_prompt_every_ping_interval_until_a_handshake(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(tmp_path, ping_interval=1.0)
    rig.to(C)
    for _ in range(3):
        assert rig.expect_command().request == Noop()
        virtual_clock.advance(1.0)
    assert rig.expect_command().request == Noop()
    rig.sync.tell(DEFAULT_HANDSHAKE)
    rig.expect_phase(C, A)
    assert isinstance(rig.expect_command().request, WriteObject)  # the clock, not a Noop
    assert isinstance(rig.expect_command().request, WriteObject)  # the trace read
    virtual_clock.advance(5.0)
    rig.commander.expect_no_msg(0.1)


def test_no_handshake_within_the_timeout_closes_the_link(
    tmp_path: pathlib.Path, virtual_clock: VirtualClock
) -> None:
    rig = Rig(tmp_path, ping_interval=1.0, handshake_timeout=3.5)
    rig.to(C)
    with capture_logs() as logs:
        virtual_clock.advance(3.5)
        rig.connection.expect_msg(Close("no handshake within 3.5 s"))
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["handshake_timeout"]
    noops = [rig.commander.expect_msg_type(Execute).request for _ in range(4)]
    assert noops == [Noop()] * 4  # one at once, then every second until the timeout


def test_a_compatible_controller_is_synchronized(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path)
    rig.datastore.set_block_name(DEFAULT_HANDSHAKE.device_id, 100, "Fermenter")
    with capture_logs() as logs:
        clock, trace = rig.sync_steps()
        written = TicksData.decode(clock.request.obj.data)  # type: ignore[union-attr]
        assert isinstance(written, TicksData)
        assert abs(written.seconds_since_epoch - time.time()) < 60
        answer_clock(rig, clock)
        settle(rig.sync)
        rig.phases.expect_no_msg(0.1)  # not before the trace is read too
        answer_trace(rig, trace)
        rig.expect_phase(A, S)
    events = {e["event"]: e for e in logs}
    assert events["block_names_loaded"]["count"] == 1
    assert events["controller_trace"]["entries"] == ["WRITE_OBJECT 3 257", "READ_OBJECT 100 301"]
    rig.sync.tell(DEFAULT_HANDSHAKE)  # a handshake while synchronized is ignored
    settle(rig.sync)
    rig.commander.expect_no_msg(0.1)
    rig.phases.expect_no_msg(0.1)


@pytest.mark.parametrize(
    ("settings", "handshake", "event", "names"),
    [
        (
            {},
            Handshake("0badc0de0", "0badc0d", device_id="AB"),
            "incompatible_firmware",
            ("0badc0d", PROTO_VERSION),
        ),
        (
            {"device_id": "C0FFEE"},
            Handshake("fw", PROTO_VERSION, device_id="0BADC0DE"),
            "device_id_mismatch",
            ("0BADC0DE", "C0FFEE"),
        ),
    ],
    ids=["proto-version", "device-id"],
)
def test_an_incompatible_controller_parks_at_acknowledged(
    tmp_path: pathlib.Path,
    settings: dict[str, Any],
    handshake: Handshake,
    event: str,
    names: tuple[str, str],
) -> None:
    rig = Rig(tmp_path, **settings)
    with capture_logs() as logs:
        rig.to(C)
        rig.expect_command()
        rig.sync.tell(handshake)
        rig.expect_phase(C, A)
        incompatible = rig.commander.expect_msg_type(Incompatible)
        settle(rig.sync)
    assert all(name in incompatible.reason for name in names)
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == [event]
    assert set(names) <= {str(v) for v in errors[0].values()}
    rig.connection.expect_no_msg(0.2)  # no reconnect loop
    rig.phases.expect_no_msg(0.1)


def test_the_same_refusal_on_later_links_is_logged_once_then_summarised(
    tmp_path: pathlib.Path,
) -> None:
    rig = Rig(tmp_path)
    old = Handshake("0badc0de0", "0badc0d", device_id="AB")
    with capture_logs() as logs:
        for _ in range(3):  # the link drops and comes back to the same controller
            rig.to(C)
            rig.expect_command()
            rig.sync.tell(old)
            rig.expect_phase(C, A)
            rig.commander.expect_msg_type(Incompatible)
            rig.to(D)
        rig.sync_steps()  # reflashed: it passes, and the streak ends
    mine = [e for e in logs if e["log_level"] != "info" and e["event"] != "reply_dropped"]
    loud = [(e["log_level"], e["event"], e.get("count")) for e in mine]
    assert loud == [
        ("error", "incompatible_firmware", None),
        ("debug", "controller_still_refused", None),
        ("debug", "controller_still_refused", None),
        ("warning", "controller_refused_repeated", 3),
    ]


def test_the_checks_ignore_case_and_can_be_skipped(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path, device_id=DEFAULT_HANDSHAKE.device_id.lower(), skip_version_check=True)
    clock = rig.handshake(Handshake("fw", "other", device_id=DEFAULT_HANDSHAKE.device_id))
    assert isinstance(clock.request, WriteObject)


def test_the_sync_steps_may_be_answered_in_any_order(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path)
    clock, trace = rig.sync_steps()
    answer_trace(rig, trace)
    settle(rig.sync)
    rig.phases.expect_no_msg(0.1)
    answer_clock(rig, clock)
    rig.expect_phase(A, S)


def test_a_failing_sync_step_closes_the_link(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path)
    clock, _ = rig.sync_steps()
    rig.answer(clock, error=CommandTimeout("no answer"))
    close = rig.connection.expect_msg_type(Close)
    assert "CLOCK" in close.reason
    rig.to(D)
    rig.to(C)  # the next link starts over
    assert rig.expect_command().request == Noop()


def test_an_answer_about_an_older_link_is_ignored(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path)
    old_clock, old_trace = rig.sync_steps()
    rig.to(D)
    new_clock, new_trace = rig.sync_steps()
    rig.answer(old_clock, error=CommandTimeout("late"))
    answer_trace(rig, old_trace)
    settle(rig.sync)
    rig.connection.expect_no_msg(0.1)
    rig.phases.expect_no_msg(0.1)
    answer_clock(rig, new_clock)
    answer_trace(rig, new_trace)
    rig.expect_phase(A, S)


def test_setup_mode_closes_the_link_and_is_logged_once(tmp_path: pathlib.Path) -> None:
    rig = Rig(tmp_path)
    rig.sync_steps()
    with capture_logs() as logs:
        rig.sync.tell(SetupMode())
        rig.connection.expect_msg(Close("the controller entered setup mode"))
    assert [e["event"] for e in logs] == ["controller_setup_mode"]
