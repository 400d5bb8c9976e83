"""RestForOne and sibling refs: a failure restarts the failed child and those after it, in order."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    ChildRef,
    ChildSpec,
    Event,
    GetChild,
    OneForOne,
    RestForOne,
    StopEvent,
    Supervisor,
    sibling,
    stay,
)
from actorfsm.testing import Probe

pytestmark = pytest.mark.timeout(20)


class Link(FSM[str, None]):
    """Tells the probe its starts and stops; raises on demand; relays to an optional peer."""

    def __init__(self, probe: Any, tag: str, peer: ChildRef | None = None) -> None:
        super().__init__()
        self.probe, self.tag, self.peer = probe, tag, peer
        self.start_with("up", None)
        self.when("up", self.up)
        self.on_termination(self.stopped)

    def on_start(self) -> None:
        self.probe.tell(("started", self.tag))

    def stopped(self, stop_event: StopEvent) -> None:
        self.probe.tell(("stopped", self.tag))

    def up(self, event: Event) -> Any:
        match event:
            case Event("raise", _):
                raise RuntimeError(f"{self.tag} broke")
            case Event(("relay", message), _) if self.peer is not None:
                self.peer.tell(message)
            case Event(message, _):
                self.probe.tell((self.tag, message))
        return stay()


def link(probe: Probe, tag: str, **kwargs: Any) -> ChildSpec:
    return ChildSpec(tag, Link, args=(probe.ref, tag), kwargs=kwargs)


def start(probe: Probe, specs: list[ChildSpec]) -> Any:
    sup = Supervisor.start(RestForOne(max_restarts=5), specs)
    for spec in specs:
        probe.expect_msg(("started", spec.name))
    return sup


def test_a_failure_restarts_the_failed_child_and_those_after_it_in_order(probe: Probe) -> None:
    sup = start(probe, [link(probe, t) for t in "abcd"])
    with capture_logs():
        sup.ask(GetChild("b")).tell("raise")
        received = [probe.receive() for _ in range(6)]
    assert received == [
        ("stopped", "b"),  # failed
        ("stopped", "d"),  # the later ones stop newest first
        ("stopped", "c"),
        ("started", "b"),  # then all start again in order
        ("started", "c"),
        ("started", "d"),
    ]
    probe.expect_no_msg(0.2)  # "a" was neither stopped nor restarted
    sup.stop()


def test_the_last_child_failing_restarts_only_itself(probe: Probe) -> None:
    sup = start(probe, [link(probe, t) for t in "abc"])
    with capture_logs():
        sup.ask(GetChild("c")).tell("raise")
        assert probe.receive() == ("stopped", "c")
        assert probe.receive() == ("started", "c")
    probe.expect_no_msg(0.2)
    sup.stop()


def test_a_sibling_placeholder_is_the_siblings_stable_ref(probe: Probe) -> None:
    sup = start(probe, [link(probe, "a"), link(probe, "b", peer=sibling("a"))])
    a_ref, b_ref = sup.ask(GetChild("a")), sup.ask(GetChild("b"))
    assert b_ref.proxy().peer.get() is a_ref
    with capture_logs():
        a_ref.tell("raise")  # "a" and, after it, "b" restart
        for message in [("stopped", "a"), ("stopped", "b"), ("started", "a"), ("started", "b")]:
            probe.expect_msg(message)
    b_ref.tell(("relay", "hello"))
    probe.expect_msg(("a", "hello"))  # through the same ref, to a's new incarnation
    assert b_ref.proxy().peer.get() is a_ref
    sup.stop()


def test_an_unknown_sibling_is_refused_where_the_tree_is_written(probe: Probe) -> None:
    with pytest.raises(ValueError, match="unknown siblings"):
        Supervisor.start(OneForOne(), [link(probe, "b", peer=sibling("nobody"))])
    with pytest.raises(ValueError, match="sibling name"):
        sibling("")


class SlowToStop(Link):
    """A Link whose stop waits for a gate: it holds the supervisor in its stop sequence."""

    def __init__(self, probe: Any, tag: str, gate: threading.Event) -> None:
        super().__init__(probe, tag)
        self.gate = gate

    def stopped(self, stop_event: StopEvent) -> None:
        self.gate.wait(5)
        super().stopped(stop_event)


def test_an_earlier_child_failing_during_the_stop_sequence_widens_the_restart(
    probe: Probe,
) -> None:
    gate = threading.Event()
    slow = ChildSpec("d", SlowToStop, args=(probe.ref, "d", gate))
    sup = start(probe, [*(link(probe, t) for t in "abc"), slow])
    with capture_logs():
        sup.ask(GetChild("c")).tell("raise")
        assert probe.receive() == ("stopped", "c")  # d is now being stopped, held by the gate
        sup.ask(GetChild("b")).tell("raise")
        assert probe.receive() == ("stopped", "b")
        gate.set()
        received = [probe.receive() for _ in range(4)]
    assert received == [("stopped", "d"), ("started", "b"), ("started", "c"), ("started", "d")]
    probe.expect_no_msg(0.2)  # "a" kept running
    sup.stop()
