"""Regressions the chaos soak found in the connector, each named after the fault that shows it.

Each replays, through the public API and against the simulator, the smallest
fault sequence that showed the bug in a soak run.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from actors.spark.connector import SparkConnector
from actors.spark.phase import Phase
from actors.spark.simulator import Fault, FaultKind, Simulator
from actors.spark.soak.phases import PhaseLog, PhaseRecorder
from actors.spark.soak.runner import TIMINGS

WAIT = 15.0
"""Seconds to wait for a phase the connector must reach (generous: the machine is shared)."""


@pytest.fixture
def connector(simulator: Simulator, tmp_path: pathlib.Path) -> Iterator[SparkConnector]:
    """A connector on the simulator's pty with the soak's short timings, synchronized."""
    config = dataclasses.replace(
        TIMINGS, device_url=simulator.pty_path, datastore=tmp_path / "spark.db"
    )
    started = SparkConnector.start(config)
    try:
        started.wait_for(Phase.SYNCHRONIZED, WAIT)
        yield started
    finally:
        started.stop()


@pytest.fixture
def phases(connector: SparkConnector) -> Iterator[PhaseLog]:
    """The phases the connector enters from now on, as a subscriber sees them."""
    log = PhaseLog()
    recorder = PhaseRecorder.start(log)
    connector.subscribe(recorder)
    yield log
    connector.unsubscribe(recorder)
    recorder.stop()


def park(simulator: Simulator, phases: PhaseLog) -> None:
    """Drop the link to the (incompatible) controller and wait until it is parked again."""
    mark = phases.mark()
    simulator.inject(Fault(FaultKind.DROP))
    assert phases.wait(Phase.ACKNOWLEDGED, mark, WAIT)


@pytest.mark.timeout(60)
def test_proto_version_logs_one_error_streak_however_often_the_link_drops(
    simulator: Simulator, connector: SparkConnector, phases: PhaseLog
) -> None:
    """Each link back to the same incompatible controller logged another error line."""
    simulator.inject(Fault(FaultKind.PROTO_VERSION))
    with capture_logs() as logs:
        for _ in range(4):
            park(simulator, phases)
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert len(errors) <= 2, errors
