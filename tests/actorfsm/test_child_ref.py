"""ChildRef: stable references that reach the current incarnation and lose nothing."""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, Failure, Terminated, stay, unwatch
from actorfsm.supervision import Backoff, ChildSpec, GetChild, OneForOne, Supervisor
from actorfsm.supervision.child_ref import ChildRef, ChildRestarting
from actorfsm.testing import Probe, VirtualClock

pytestmark = pytest.mark.timeout(30)


class S(enum.Enum):
    RECORDING = 1


class Boom(Exception):
    """The failure the plan asks for."""


class Plan:
    """What the incarnations of one child share: what they saw, and whether to fail starting."""

    def __init__(self, fail_at: frozenset[Any] = frozenset()) -> None:
        self.seen: list[Any] = []
        self.fail_at = fail_at
        self.fail_next_start = False
        self.starts = 0


class Recorder(FSM[S, None]):
    """Records every message it handles; fails on the ones the plan says; can be held on a gate."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.mine: list[Any] = []
        self.start_with(S.RECORDING, None)
        self.when(S.RECORDING, self.up)

    def on_start(self) -> None:
        self.plan.starts += 1
        if self.plan.fail_next_start:
            self.plan.fail_next_start = False
            raise Boom("cannot start")

    def up(self, event: Event) -> Any:
        match event.event:
            case ("hold", gate):
                gate.wait(5)
            case ("raise", text):
                raise Boom(text)
            case "log":
                return stay().replying(tuple(self.mine))
            case message if message in self.plan.fail_at:
                self.plan.fail_next_start = message[-1] // 100 % 2 == 0
                raise Boom("planned failure")
            case message:
                self.mine.append(message)
                self.plan.seen.append(message)
        return stay()

    def total(self) -> int:
        return len(self.mine)


def supervise(plan: Plan, **strategy: Any) -> tuple[pykka.ActorRef[Any], ChildRef]:
    sup = Supervisor.start(OneForOne(**strategy), [ChildSpec("r", Recorder, (plan,))])
    ref = sup.ask(GetChild("r"))
    assert isinstance(ref, ChildRef)
    return sup, ref


def test_tell_ask_and_proxy_reach_the_current_incarnation_across_restarts() -> None:
    plan = Plan()
    _, ref = supervise(plan)
    proxy = ref.proxy()
    ref.tell("a")
    assert ref.ask("log") == ("a",)
    first = ref.current()
    ref.tell(("raise", "broke"))
    ref.tell("b")
    assert ref.ask("log") == ("b",)  # a new incarnation, reached through the same ref
    assert ref.current() is not first
    assert proxy.total().get(timeout=3) == 1
    assert plan.seen == ["a", "b"]


def test_messages_queued_behind_a_failure_reach_the_new_incarnation_in_order() -> None:
    plan = Plan()
    _, ref = supervise(plan)
    gate = threading.Event()
    ref.tell(("hold", gate))
    ref.tell(("raise", "broke"))
    for i in range(5):
        ref.tell(i)
    answer = ref.ask("log", block=False)
    gate.set()
    assert answer.get(timeout=3) == (0, 1, 2, 3, 4)  # answered by the new incarnation
    assert plan.starts == 2
    assert ("raise", "broke") not in plan.seen  # the failing message is not redelivered


def test_tells_during_the_backoff_wait_and_asks_fail_at_once_naming_the_restart(
    virtual_clock: VirtualClock,
) -> None:
    plan = Plan()
    _, ref = supervise(plan, backoff=Backoff(min=5.0, max=5.0, jitter=0.0))
    ref.tell(("raise", "broke"))
    ref.tell("during")
    queued = ref.ask("log", block=False)  # queued behind the failure: failed when the wait begins
    with pytest.raises(ChildRestarting, match=r"child 'r' .* restart is due in 5 s") as caught:
        queued.get(timeout=3)
    assert caught.value.child == "r"
    started = time.monotonic()
    with pytest.raises(ChildRestarting) as caught:
        ref.ask("log", timeout=30)  # sent during the wait: fails now, not after 30 s
    assert time.monotonic() - started < 1.0
    assert 0 < caught.value.restart_in <= 5.0
    virtual_clock.advance(5.0)
    assert ref.ask("log", timeout=3) == ("during",)  # the tell waited for the new incarnation
    assert plan.starts == 2


def test_nothing_is_lost_while_the_child_fails_and_restarts_repeatedly() -> None:
    """1,000 tells through a ChildRef, with 10 failures and 5 failed starts among them."""
    fail_at = frozenset(("m", i) for i in range(37, 1000, 100))
    plan = Plan(fail_at)
    _, ref = supervise(plan, max_restarts=100)
    for i in range(1000):
        ref.tell(("m", i))
    ref.ask("log", timeout=10)
    assert plan.seen == [("m", i) for i in range(1000) if ("m", i) not in fail_at]
    assert plan.starts == 1 + 10 + 5
    assert ref.dead_letters == 0


def test_each_senders_messages_arrive_once_and_in_order_across_restarts() -> None:
    fail_at = frozenset(("a", i) for i in range(50, 500, 75))
    plan = Plan(fail_at)
    _, ref = supervise(plan, max_restarts=100)

    def send(tag: str) -> None:
        for i in range(500):
            ref.tell((tag, i))

    senders = [threading.Thread(target=send, args=(tag,)) for tag in "ab"]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(10)
    ref.ask("log", timeout=10)
    for tag in "ab":
        got = [message for message in plan.seen if message[0] == tag]
        assert got == [(tag, i) for i in range(500) if (tag, i) not in fail_at]


def test_once_stopped_for_good_asks_fail_and_tells_are_logged_once_as_dead_letters() -> None:
    plan = Plan()
    sup, ref = supervise(plan, max_restarts=0)
    gate = threading.Event()
    ref.tell(("hold", gate))
    ref.tell(("raise", "broke"))
    for i in range(3):
        ref.tell(i)
    pending = ref.ask("log", block=False)
    with capture_logs() as logs:
        gate.set()
        with pytest.raises(pykka.ActorDeadError):
            pending.get(timeout=3)
        ref.tell("late")
        with pytest.raises(pykka.ActorDeadError):
            ref.ask("log", timeout=3)
    assert not ref.is_alive()
    assert ref.dead_letters == 4
    lines = [e for e in logs if e["event"] == "dead_letters"]
    assert [(e["child"], e["count"], e["log_level"]) for e in lines] == [("r", 3, "warning")]
    assert sup.actor_stopped.wait(5)


def test_tells_after_an_orderly_stop_are_dead_letters_at_debug_level() -> None:
    plan = Plan()
    sup, ref = supervise(plan)
    sup.stop()
    with capture_logs() as logs:
        ref.tell("late")
        ref.tell("later")
    assert ref.dead_letters == 2
    lines = [e for e in logs if e["event"] == "dead_letters"]
    assert [(e["count"], e["log_level"]) for e in lines] == [(1, "debug")]


def test_watching_a_child_ref_tells_when_it_is_stopped_for_good_not_at_restarts(
    probe: Probe,
) -> None:
    plan = Plan()
    _, ref = supervise(plan, max_restarts=1)
    probe.watch(ref)
    ref.tell(("raise", "first"))
    assert ref.ask("log") == ()
    probe.expect_no_msg(0.1)  # restarted: not terminated
    ref.tell(("raise", "second"))
    terminated = probe.expect_terminated(ref)
    assert isinstance(terminated.reason, Failure)
    assert str(terminated.reason.cause) == "second"
    late = Probe()
    late.watch(ref)  # already stopped for good: at once
    assert late.expect_msg_type(Terminated).ref is ref


def test_unwatching_a_child_ref_ends_the_watch(probe: Probe) -> None:
    sup, ref = supervise(Plan())
    probe.watch(ref)
    unwatch(probe.ref, ref)
    sup.stop()
    probe.expect_no_msg(0.2)
    assert not ref.is_alive()
