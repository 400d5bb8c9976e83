"""The Buncher, with Akka's two tests ported (batch correctly; not if uninitialized)."""

from __future__ import annotations

from actorfsm import CurrentState, SubscribeTransitionCallBack, Transition
from actorfsm.testing import Probe, VirtualClock, settle
from actors.buncher import Batch, Buncher, Flush, Queue, SetTarget, State


def test_batch_correctly(probe: Probe) -> None:
    buncher = Buncher.start()
    buncher.tell(SetTarget(probe.ref))
    buncher.tell(Queue(42))
    buncher.tell(Queue(43))
    probe.expect_msg(Batch((42, 43)))
    buncher.tell(Queue(44))
    buncher.tell(Flush())
    buncher.tell(Queue(45))
    probe.expect_msg(Batch((44,)))
    probe.expect_msg(Batch((45,)))


def test_batch_not_if_uninitialized(probe: Probe) -> None:
    buncher = Buncher.start()
    buncher.tell(Queue(42))
    probe.expect_no_msg()


def test_burst_ends_after_one_idle_second(probe: Probe, virtual_clock: VirtualClock) -> None:
    buncher = Buncher.start()
    watcher = Probe()
    buncher.tell(SubscribeTransitionCallBack(watcher.ref))
    watcher.expect_msg(CurrentState(buncher, State.IDLE))
    buncher.tell(SetTarget(probe.ref))
    buncher.tell(Queue("a"))
    watcher.expect_msg(Transition(buncher, State.IDLE, State.ACTIVE))
    settle(buncher)
    virtual_clock.advance(0.9)
    buncher.tell(Queue("b"))  # keeps the burst going
    settle(buncher)
    virtual_clock.advance(0.9)
    probe.expect_no_msg(0.05)
    virtual_clock.advance(0.2)
    probe.expect_msg(Batch(("a", "b")))
    watcher.expect_msg(Transition(buncher, State.ACTIVE, State.IDLE))
