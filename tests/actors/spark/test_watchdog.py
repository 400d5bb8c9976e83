"""The Watchdog alone: probes stand in for the Commander and the Connection."""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from actorfsm.testing import Probe, settle
from actors.spark.commander import CommandDone, CommandTimedOut, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Close
from actors.spark.errors import CommandTimeout
from actors.spark.phase import Phase, PhaseTracker, RequestPhase
from actors.spark.protocol import Ack, Noop
from actors.spark.topics import Subscribe, Topic
from actors.spark.watchdog import Watchdog


def started() -> tuple[Probe, Probe, Any, Any]:
    commander, connection = Probe(), Probe()
    tracker = PhaseTracker.start()
    dog = Watchdog.start(
        ConnectorConfig("socket://127.0.0.1:9"), tracker, commander.ref, connection.ref
    )
    commander.expect_msg(Subscribe(Topic.TIMEOUTS, dog))
    return commander, connection, tracker, dog


def synchronize(tracker: Any, dog: Any) -> None:
    for phase in (Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED):
        assert tracker.ask(RequestPhase(phase)) is True
    settle(dog)


def test_a_timeout_while_synchronized_starts_one_noop_check_at_a_time() -> None:
    commander, connection, tracker, dog = started()
    dog.tell(CommandTimedOut("0100..."))
    settle(dog)
    commander.expect_no_msg(0.1)  # not synchronized: nothing to check
    synchronize(tracker, dog)
    for _ in range(3):
        dog.tell(CommandTimedOut("0200..."))
    check = commander.expect_msg_type(Execute)
    assert check.request == Noop() and check.internal
    commander.expect_no_msg(0.2)
    dog.tell(CommandDone(check.tag, Noop(), Ack(), None))
    dog.tell(CommandTimedOut("0300..."))
    assert commander.expect_msg_type(Execute).tag != check.tag  # watching again
    connection.expect_no_msg(0.1)


def test_a_failed_check_closes_the_connection() -> None:
    commander, connection, tracker, dog = started()
    synchronize(tracker, dog)
    dog.tell(CommandTimedOut("0100..."))
    check = commander.expect_msg_type(Execute)
    with capture_logs() as logs:
        dog.tell(CommandDone(check.tag, Noop(), None, CommandTimeout("no")))
        connection.expect_msg(Close("the controller does not answer a Noop"))
    assert [e["event"] for e in logs] == ["watchdog_closing"]
