"""The Broadcaster alone: a probe stands in for the Commander, a virtual clock drives its timer."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from actorfsm.testing import Probe, VirtualClock, settle
from actors.spark.broadcaster import Broadcaster, Objects
from actors.spark.commander import CommandDone, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.errors import CommandTimeout
from actors.spark.phase import Phase, PhaseTracker, RequestPhase
from actors.spark.protocol import ListObjects, ObjectListReply, SparkObject
from actors.spark.topics import Subscribe, Topic

OBJECTS = (SparkObject(2, 0x80, 256), SparkObject(3, 0x80, 257))


def set_phase(tracker: Any, caster: Any, *phases: Phase) -> None:
    for phase in phases:
        assert tracker.ask(RequestPhase(phase)) is True
    settle(caster)


def test_it_reads_every_interval_one_at_a_time_while_synchronized(
    virtual_clock: VirtualClock, probe: Probe
) -> None:
    commander = Probe()
    tracker = PhaseTracker.start()
    caster = Broadcaster.start(
        ConnectorConfig("socket://127.0.0.1:9", broadcast_interval=5.0), tracker, commander.ref
    )
    caster.tell(Subscribe(Topic.BROADCASTS, probe.ref))
    virtual_clock.advance(10.0)
    commander.expect_no_msg(0.1)  # not synchronized: no reads
    set_phase(tracker, caster, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED)
    first = commander.expect_msg_type(Execute)
    assert first.request == ListObjects() and not first.internal
    virtual_clock.advance(10.0)
    commander.expect_no_msg(0.1)  # the first read is still in flight
    with capture_logs() as logs:
        caster.tell(CommandDone(first.tag, ListObjects(), None, CommandTimeout("no")))
        for _ in range(2):
            virtual_clock.advance(5.0)
            failing = commander.expect_msg_type(Execute)
            caster.tell(CommandDone(failing.tag, ListObjects(), None, CommandTimeout("no")))
        virtual_clock.advance(5.0)
        good = commander.expect_msg_type(Execute)
        caster.tell(CommandDone(good.tag, ListObjects(), ObjectListReply(OBJECTS), None))
        probe.expect_msg(Objects(OBJECTS))
    assert [(e["event"], e.get("count")) for e in logs] == [
        ("broadcast_failed", None),
        ("broadcast_failed_repeated", 3),
    ]
    set_phase(tracker, caster, Phase.DISCONNECTED)
    virtual_clock.advance(10.0)
    commander.expect_no_msg(0.1)
