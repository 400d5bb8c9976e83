"""The shared scheduler: one thread for every timer, due order, lazy state-timer re-arming."""

from __future__ import annotations

import threading
import time
from typing import Any

from actorfsm import FSM, Event, scheduler, stay
from actorfsm.scheduler import (
    BURST,
    COMPACT_MIN,
    Scheduler,
    Settle,
    VirtualScheduler,
)
from actorfsm.testing import VirtualClock, settle
from actorfsm.timers import StateTimeoutFired, StateTimer


class Recorder:
    """A stand-in mailbox target recording what fired."""

    def __init__(self) -> None:
        self.fired: list[tuple[float, int]] = []
        self.event = threading.Event()

    def fire(self, sched: Scheduler, token: int, now: float) -> None:
        self.fired.append((now, token))
        self.event.set()


class Box:
    """A stand-in mailbox: records messages, answers the virtual clock's settle markers."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def put(self, envelope: Any) -> None:
        if isinstance(envelope.message, Settle):
            envelope.message.future.set_result(None)
        else:
            self.items.append(envelope.message)

    def put_many(self, envelopes: list[Any]) -> None:
        for envelope in envelopes:
            self.put(envelope)


def test_entries_fire_in_due_order_on_a_virtual_scheduler() -> None:
    sched = VirtualScheduler()
    rec = Recorder()
    tokens = {sched.schedule(due, rec): due for due in (3.0, 1.0, 2.0)}
    sched.advance(2.5)
    assert [tokens[token] for _, token in rec.fired] == [1.0, 2.0]
    sched.advance(1.0)
    assert len(rec.fired) == 3


def test_real_scheduler_uses_one_thread_for_many_timers() -> None:
    sched = Scheduler()
    rec = Recorder()
    before = {t.ident for t in threading.enumerate()}
    now = time.monotonic()
    for i in range(2000):
        sched.schedule(now + 0.05 + i * 1e-5, rec)
    added = [t for t in threading.enumerate() if t.ident not in before]
    assert [t.name for t in added] == ["actorfsm-scheduler"]
    deadline = time.monotonic() + 5
    while len(rec.fired) < 2000 and time.monotonic() < deadline:
        rec.event.wait(0.05)
        rec.event.clear()
    assert len(rec.fired) == 2000


def test_state_timer_moving_later_does_not_push_heap_entries() -> None:
    sched = VirtualScheduler()
    previous = scheduler.install(sched)
    try:
        box = Box()
        timer = StateTimer(box)
        for _ in range(1000):
            timer.cancel()
            timer.arm(1.0)
        assert sched.pending() == 1
        sched.advance(1.5)
        assert [type(m) for m in box.items] == [StateTimeoutFired]
        assert box.items[0].gen == timer.gen
    finally:
        scheduler.install(previous)


def test_state_timer_re_queues_an_early_entry_at_the_later_deadline() -> None:
    sched = VirtualScheduler()
    previous = scheduler.install(sched)
    try:
        box = Box()
        timer = StateTimer(box)
        timer.arm(1.0)
        sched.advance(0.5)
        timer.arm(1.0)  # deadline now 1.5, live entry still at 1.0
        sched.advance(0.6)  # the 1.0 entry pops, sees 1.5, re-queues
        assert box.items == []
        sched.advance(0.5)
        assert len(box.items) == 1
    finally:
        scheduler.install(previous)


def test_state_timer_moving_earlier_pushes_a_new_entry() -> None:
    sched = VirtualScheduler()
    previous = scheduler.install(sched)
    try:
        box = Box()
        timer = StateTimer(box)
        timer.arm(10.0)
        timer.arm(1.0)
        sched.advance(1.0)
        assert len(box.items) == 1
        sched.advance(20)
        assert len(box.items) == 1  # the superseded 10 s entry is dropped
    finally:
        scheduler.install(previous)


def test_cancelled_state_timer_delivers_nothing() -> None:
    sched = VirtualScheduler()
    previous = scheduler.install(sched)
    try:
        box = Box()
        timer = StateTimer(box)
        timer.arm(1.0)
        timer.cancel()
        sched.advance(2)
        assert box.items == []
    finally:
        scheduler.install(previous)


def test_a_burst_past_the_partition_threshold_still_fires_in_due_order() -> None:
    sched = VirtualScheduler()
    rec = Recorder()
    count = 3 * BURST
    dues = {
        sched.schedule(((i * 7919) % count) / count, rec): ((i * 7919) % count) / count
        for i in range(count)
    }
    later = sched.schedule(5.0, rec)
    sched.advance(1.0)
    fired = [dues[token] for _, token in rec.fired]
    assert len(fired) == count
    assert fired == sorted(fired)
    assert sched.pending() == 1
    sched.advance(5.0)
    assert rec.fired[-1][1] == later


def test_cancelled_timers_do_not_pile_up_in_the_heap(virtual_clock: VirtualClock) -> None:
    """A command timeout per request, each cancelled by its answer: the heap stays small."""

    class Commands(FSM[str, int]):
        def __init__(self) -> None:
            super().__init__()
            self.start_with("on", 0)
            self.when("on", self.on)

        def on(self, event: Event) -> Any:
            match event:
                case Event(int(count), _):
                    for i in range(count):
                        self.start_single_timer(("cmd", i), "expired", 30.0)
                        self.cancel_timer(("cmd", i))
                    self.start_single_timer("kept", "kept", 60.0)
                    return stay()
            return None

    ref = Commands.start()
    try:
        ref.tell(10 * COMPACT_MIN)
        settle(ref)
        assert virtual_clock.pending() <= 2 * COMPACT_MIN + 2
        assert virtual_clock.advance(60.0) == 1  # the kept timer still fires, nothing cancelled
    finally:
        ref.stop()
