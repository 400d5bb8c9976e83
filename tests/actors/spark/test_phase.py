"""Phase rules: one step forward, back to DISCONNECTED at any time, nothing else."""

from __future__ import annotations

import itertools

import pytest
from structlog.testing import capture_logs

from actorfsm import CurrentState, SubscribeTransitionCallBack, Transition
from actorfsm.testing import Probe
from actors.spark.phase import Phase, PhaseStats, PhaseTracker, RequestPhase

D, C, A, S = Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED


def test_the_normal_path_and_drop_back(probe: Probe) -> None:
    tracker = PhaseTracker.start()
    tracker.tell(SubscribeTransitionCallBack(probe.ref))
    probe.expect_msg(CurrentState(tracker, D))
    with capture_logs() as logs:
        for phase in (C, A, S, D):
            assert tracker.ask(RequestPhase(phase)) is True
        for old, new in ((D, C), (C, A), (A, S), (S, D)):
            probe.expect_msg(Transition(tracker, old, new))
    changes = [(e["old"], e["new"]) for e in logs if e["event"] == "phase_changed"]
    assert changes == [
        ("DISCONNECTED", "CONNECTED"),
        ("CONNECTED", "ACKNOWLEDGED"),
        ("ACKNOWLEDGED", "SYNCHRONIZED"),
        ("SYNCHRONIZED", "DISCONNECTED"),
    ]


@pytest.mark.parametrize(("start", "target"), list(itertools.product(Phase, Phase)))
def test_every_request_follows_the_rules(start: Phase, target: Phase) -> None:
    tracker = PhaseTracker.start()
    path = list(Phase)[1 : start.value + 1]
    for phase in path:
        assert tracker.ask(RequestPhase(phase)) is True
    legal = target is D or target.value == start.value + 1
    with capture_logs() as logs:
        answer = tracker.ask(RequestPhase(target, reason="test"))
    now = tracker.proxy().state_name.get()
    if legal:
        assert answer is True and now is target
    elif target is start:
        assert answer is False and now is start  # not a change; nothing logged
        assert logs == []
    else:
        assert answer is False and now is start  # refused, never applied
        assert [e["event"] for e in logs] == ["phase_change_refused"]
        assert logs[0]["log_level"] == "warning"
        stats = tracker.proxy().state_data.get()
        assert stats == PhaseStats(changes=len(path), refused=1)
