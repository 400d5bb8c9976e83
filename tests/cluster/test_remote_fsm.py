"""Remote FSMs on a real Ray cluster: tell/ask, order under load, refs in messages, look-ups."""

from __future__ import annotations

import time
from typing import Any

import pykka
import pytest
from cluster_fsms import Boom, Close, Collector, Count, Forward, Gate, Open, Record, Recorder, Seen

import actorfsm.ray
from actorfsm import CurrentState, Failure, SubscribeTransitionCallBack, Terminated, Transition
from actorfsm.ray import RayRef
from actorfsm.testing import Probe

pytestmark = pytest.mark.usefixtures("cluster")


def _eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_tell_ask_future_timeout_and_stop() -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n1": 1})
    try:
        assert isinstance(ref, RayRef)
        for n in range(3):
            ref.tell(Record(n))
        assert ref.ask(Seen(), timeout=10) == [0, 1, 2]
        future = ref.ask(Count(), block=False)
        assert isinstance(future, pykka.Future)
        assert future.get(timeout=10) == 3
        ref.tell(Close())
        with pytest.raises(pykka.Timeout):
            ref.ask(Count(), timeout=0.3)  # postponed while closed: no answer yet
        ref.tell(Open())
        assert ref.ask(Count(), timeout=10) == 3
        ref.tell(Close())
        later = ref.ask(Count(), block=False)  # answered long after the first call returned
        time.sleep(0.3)
        ref.tell(Record(3))  # postponed behind the ask: it is counted after the answer
        ref.tell(Open())
        assert later.get(timeout=10) == 3
        assert ref.ask(Count(), timeout=10) == 4
    finally:
        assert ref.stop(timeout=10) is True
    with pytest.raises(pykka.ActorDeadError):
        ref.ask(Count(), timeout=10)
    assert not ref.is_alive()


def test_order_per_sender_under_load_with_asks_and_postponing() -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n2": 1})
    total = 20_000
    answers: list[Any] = []
    try:
        for n in range(total):
            ref.tell(Record(n))
            if n % 1000 == 500:
                ref.tell(Close())  # records and asks are postponed until Open
                answers.append(ref.ask(Count(), block=False))
                ref.tell(Open())
        seen = ref.ask(Seen(), timeout=30)
        counts = [future.get(timeout=30) for future in answers]
    finally:
        ref.stop(timeout=10)
    reordered = sum(1 for i, n in enumerate(seen) if n != i)
    assert len(seen) == total
    assert reordered == 0
    # Each postponed Count was answered after every record sent before it.
    assert counts == [n + 1 for n in range(total) if n % 1000 == 500]


def test_a_ref_in_a_message_works_where_it_arrives_and_subscribers_cross_nodes() -> None:
    recorder = actorfsm.ray.start(Recorder, resources={"n1": 1})
    collector = actorfsm.ray.start(Collector, resources={"n2": 1})
    try:
        assert recorder.node_id != collector.node_id
        recorder.tell(SubscribeTransitionCallBack(collector))
        recorder.tell(Close())
        recorder.tell(Open())
        recorder.tell(Forward(collector, "hello"))
        expected = [
            CurrentState(recorder, Gate.OPEN),
            Transition(recorder, Gate.OPEN, Gate.CLOSED),
            Transition(recorder, Gate.CLOSED, Gate.OPEN),
            "hello",
        ]
        kept = _eventually(lambda: collector.ask(Seen(), timeout=10) == expected or None)
        assert kept, collector.ask(Seen(), timeout=10)
        # The recorder's own ActorRef left its host as this very RayRef.
        first = collector.ask(Seen(), timeout=10)[0]
        assert isinstance(first.fsm_ref, RayRef)
        assert first.fsm_ref == recorder
    finally:
        recorder.stop(timeout=10)
        collector.stop(timeout=10)


def test_a_local_ref_cannot_travel_and_nothing_is_sent() -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n1": 1})
    probe = Probe()
    try:
        with pytest.raises(TypeError, match="actor of this process only"):
            ref.tell(Forward(probe.ref, "x"))
        assert ref.ask(Seen(), timeout=10) == []
    finally:
        probe.stop()
        ref.stop(timeout=10)


def test_lookup_by_name_inspect_diagram_and_rolling_log() -> None:
    ref = actorfsm.ray.start(Recorder, name="recorder-7", resources={"n2": 1})
    try:
        found = actorfsm.ray.get("recorder-7")
        assert found == ref
        found.tell(Record(41))
        found.tell(Close())
        found.tell(Open())
        assert found.ask(Count(), timeout=10) == 1
        snapshot = actorfsm.ray.inspect(ref)
        assert snapshot.state_name is Gate.OPEN
        assert snapshot.state_data == [41]
        events = [entry.event for entry in snapshot.log]
        assert events[-4:] == [Record(41), Close(), Open(), Count()]
        text = actorfsm.ray.diagram(ref)
        assert "OPEN --> CLOSED: 1" in text or "open --> closed: 1" in text, text
        with pytest.raises(ValueError, match="taken"):
            actorfsm.ray.start(Recorder, name="recorder-7")
    finally:
        ref.stop(timeout=10)
    assert _eventually(lambda: _missing("recorder-7"))
    with pytest.raises(LookupError):
        actorfsm.ray.get("nobody")


def _missing(name: str) -> bool:
    try:
        actorfsm.ray.get(name)
    except LookupError:
        return True
    return False


def test_a_handler_failure_stops_the_fsm_and_watchers_learn_why() -> None:
    ref = actorfsm.ray.start(Recorder, resources={"n1": 1})
    probe = Probe()
    try:
        probe.watch(ref)
        with pytest.raises(RuntimeError, match="boom"):
            ref.ask(Boom(), timeout=10)
        terminated = probe.expect_msg_type(Terminated, timeout=10)
        assert terminated.ref == ref
        assert isinstance(terminated.reason, Failure)
        assert isinstance(terminated.reason.cause, RuntimeError)
        with pytest.raises(pykka.ActorDeadError):
            ref.ask(Count(), timeout=10)
        # Watching an FSM that already stopped answers at once, with its reason.
        late = Probe()
        late.watch(ref)
        assert isinstance(late.expect_msg_type(Terminated, timeout=10).reason, Failure)
        late.stop()
    finally:
        probe.stop()
    ref2 = actorfsm.ray.start(Recorder)
    watcher = Probe()
    watcher.watch(ref2)
    ref2.tell("finish")
    assert watcher.expect_msg_type(Terminated, timeout=10).reason == actorfsm.Normal()
    watcher.stop()


def test_bad_resources_and_classes_are_refused_at_once() -> None:
    with pytest.raises(actorfsm.ray.ResourcesUnavailable):
        actorfsm.ray.start(Recorder, resources={"nowhere": 1})
    with pytest.raises(TypeError, match="FSM subclass"):
        actorfsm.ray.start(dict)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        actorfsm.ray.start(Recorder, resources={"n1": 0})
