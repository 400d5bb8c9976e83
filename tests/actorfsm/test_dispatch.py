"""Dispatchers: many FSMs on a few worker threads, named pools, dedicated threads, blocking."""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    PINNED,
    Event,
    NextState,
    Shutdown,
    Terminated,
    configure_dispatcher,
    dispatch,
    runners,
    settle_all,
    stay,
)
from actorfsm.testing import Probe, VirtualClock


class S(enum.Enum):
    ON = 1


pools_only = pytest.mark.skipif(
    dispatch.forced_pinned(),
    reason="pool behaviour: ACTORFSM_DISPATCHER=pinned gives each FSM a thread",
)


class Counter(FSM[S, int]):
    """Counts ``"inc"``, answers ``"count?"``, reports its thread, blocks on a gate when told."""

    def __init__(self, probe: Any = None) -> None:
        super().__init__()
        self.probe = probe
        self.start_with(S.ON, 0)
        self.when(S.ON, self.on)

    def on(self, event: Event) -> NextState | None:
        match event:
            case Event("inc", n):
                return stay().using(n + 1)
            case Event("count?", n):
                return stay().replying(n)
            case Event("thread?", _):
                return stay().replying(threading.current_thread().name)
            case Event(("block", gate), _):
                gate.wait()
                return stay()
            case Event(("tick in", seconds), _):
                self.start_single_timer("tick", "tick", seconds)
                return stay()
            case Event("tick", _):
                self.probe.tell(("ticked", self.actor_ref))
                return stay()
            case Event(("forward", ref, message), _):
                ref.tell(message)
                return stay()
        return None


class Isolated(Counter):
    dispatcher = "isolated"


class Dedicated(Counter):
    dispatcher = PINNED


@pools_only
def test_many_fsms_share_a_few_threads_and_each_is_a_pykka_actor() -> None:
    before = threading.active_count()
    refs = [Counter.start() for _ in range(300)]
    for ref in refs:
        ref.tell("inc")
    assert [ref.ask("count?", timeout=5) for ref in refs] == [1] * 300
    assert isinstance(refs[0], pykka.ActorRef)
    assert pykka.ActorRegistry.get_by_urn(refs[7].actor_urn) is refs[7]
    assert threading.active_count() - before <= dispatch.default_workers() + 2
    for ref in refs:
        ref.stop()
    assert not refs[0].is_alive()
    with pytest.raises(pykka.ActorDeadError):
        refs[0].ask("count?", timeout=1)


def test_an_fsm_never_runs_on_two_threads_and_keeps_each_senders_order() -> None:
    class Recorder(FSM[S, tuple[int, ...]]):
        def __init__(self) -> None:
            super().__init__()
            self.inside = 0
            self.overlaps = 0
            self.start_with(S.ON, ())
            self.when(S.ON, self.on)

        def on(self, event: Event) -> NextState | None:
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
            try:
                match event:
                    case Event(int(n), seen):
                        return stay().using((*seen, n))
                    case Event("seen?", seen):
                        return stay().replying((seen, self.overlaps))
                return None
            finally:
                self.inside -= 1

    ref = Recorder.start()
    senders = [
        threading.Thread(target=lambda k=k: [ref.tell(k * 10_000 + i) for i in range(2_000)])
        for k in range(4)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    seen, overlaps = ref.ask("seen?", timeout=10)
    ref.stop()
    assert overlaps == 0
    assert len(seen) == 8_000
    for k in range(4):
        mine = [n for n in seen if n // 10_000 == k]
        assert mine == sorted(mine)  # each sender's messages in the order sent


@pools_only
def test_a_named_pool_and_a_dedicated_thread_are_chosen_by_a_class_attribute() -> None:
    configure_dispatcher("isolated", workers=1, throughput=3)
    isolated, dedicated, shared = Isolated.start(), Dedicated.start(), Counter.start()
    try:
        assert isolated.ask("thread?", timeout=5).startswith("actorfsm-isolated")
        assert dedicated.ask("thread?", timeout=5).startswith("actorfsm-Dedicated")
        shared_thread = shared.ask("thread?", timeout=5)
        assert shared_thread.startswith(("actorfsm-default", "actorfsm-Counter"))
        pool = dispatch.get_dispatcher("isolated")
        assert (pool.config.workers, pool.config.throughput) == (1, 3)
    finally:
        for ref in (isolated, dedicated, shared):
            ref.stop()


def test_a_dedicated_thread_ends_with_its_fsm() -> None:
    ref = Dedicated.start()
    name = ref.ask("thread?", timeout=5)
    assert any(thread.name == name for thread in threading.enumerate())
    ref.stop()
    deadline = time.monotonic() + 5
    while any(thread.name == name for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "the dedicated thread outlived its FSM"
        time.sleep(0.01)


def test_configuring_a_pool_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="workers"):
        configure_dispatcher("bad", workers=0)
    with pytest.raises(ValueError, match="throughput"):
        configure_dispatcher("bad", throughput=-1)
    with pytest.raises(ValueError, match="pinned"):
        configure_dispatcher(PINNED, workers=2)


@pools_only
@pytest.mark.timeout(60)
def test_one_fsm_blocked_forever_does_not_starve_a_thousand_others(probe: Probe) -> None:
    gate = threading.Event()
    configure_dispatcher("blocking", workers=2)

    class Blocking(Counter):
        dispatcher = "blocking"

    blocked = Blocking.start()
    others = [Blocking.start(probe.ref) for _ in range(1_000)]
    try:
        with capture_logs() as logs:
            blocked.tell(("block", gate))
            time.sleep(0.05)
            for ref in others:
                ref.tell("inc")
            assert [ref.ask("count?", timeout=10) for ref in others] == [1] * 1_000
            for ref in others[:50]:
                ref.tell(("tick in", 0.01))
            ticked = {probe.expect_msg_type(tuple, timeout=10)[1] for _ in range(50)}
            assert ticked == set(others[:50])  # their timers fire while one worker is stuck
            deadline = time.monotonic() + 5
            while not any(e["event"] == "handler_stuck" for e in logs):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        stuck = [e for e in logs if e["event"] == "handler_stuck"]
        assert len(stuck) == 1 and stuck[0]["fsm_event"] == repr(("block", gate))
        assert dispatch.get_dispatcher("blocking").workers() > 2  # a replacement was added
    finally:
        gate.set()
        for ref in [blocked, *others]:
            ref.stop(block=False)


@pools_only
@pytest.mark.timeout(60)
def test_a_replacement_worker_retires_once_the_blocked_one_returns() -> None:
    configure_dispatcher("retiring", workers=1)

    class Retiring(Counter):
        dispatcher = "retiring"

    gate = threading.Event()
    blocked, other = Retiring.start(), Retiring.start()
    pool = dispatch.get_dispatcher("retiring")
    blocked.tell(("block", gate))
    assert other.ask("count?", timeout=10) == 0  # served by the replacement
    assert pool.workers() == 2
    gate.set()
    assert blocked.ask("count?", timeout=5) == 0
    deadline = time.monotonic() + dispatch.RETIRE_AFTER + 5
    while pool.workers() > 1:
        assert time.monotonic() < deadline, "the replacement worker never retired"
        time.sleep(0.05)
    blocked.stop()
    other.stop()


def test_an_ask_inside_a_handler_does_not_deadlock_a_one_worker_pool() -> None:
    configure_dispatcher("tiny", workers=1)

    class Asker(FSM[S, Any]):
        dispatcher = "tiny"

        def __init__(self, target: Any) -> None:
            super().__init__()
            self.target = target
            self.start_with(S.ON, None)
            self.when(S.ON, self.on)

        def on(self, event: Event) -> NextState | None:
            # A blocking ask in a handler: discouraged, but it must not deadlock.
            return stay().replying(self.target.ask("count?", timeout=10))

    class Target(Counter):
        dispatcher = "tiny"

    target = Target.start()
    asker = Asker.start(target)
    target.tell("inc")
    assert asker.ask("go", timeout=10) == 1
    asker.stop()
    target.stop()


def test_ten_thousand_asks_at_once_finish_in_seconds_without_a_stuck_warning() -> None:
    refs = [Counter.start() for _ in range(10_000)]
    with capture_logs() as logs:
        started = time.monotonic()
        futures = [ref.ask("count?", block=False) for ref in refs]
        assert [future.get(timeout=30) for future in futures] == [0] * 10_000
        elapsed = time.monotonic() - started
        stops = [ref.stop(block=False) for ref in refs]
        assert all(stop.get(timeout=30) for stop in stops)
    assert elapsed < 10, elapsed
    assert not [e for e in logs if e["event"].startswith("handler_stuck")]


def test_a_tell_from_an_fsm_to_a_stopped_fsm_is_a_dead_letter_not_a_failure() -> None:
    sender, receiver = Counter.start(), Counter.start()
    receiver.stop()
    with capture_logs() as logs:
        sender.tell(("forward", receiver, "inc"))
        sender.tell(("forward", receiver, "inc"))
        assert sender.ask("count?", timeout=5) == 0  # still alive
    assert receiver.dead_letters == 2  # type: ignore[attr-defined]
    assert [e["event"] for e in logs].count("dead_letter") == 1
    assert not [e for e in logs if e["event"] == "fsm_failed"]
    with pytest.raises(pykka.ActorDeadError):
        receiver.tell("inc")  # from outside any FSM: pykka's behaviour
    sender.stop()


def test_settle_all_waits_for_fsms_messaging_each_other(virtual_clock: VirtualClock) -> None:
    class Relay(FSM[S, int]):
        def __init__(self, next_ref: Any) -> None:
            super().__init__()
            self.next_ref = next_ref
            self.start_with(S.ON, 0)
            self.when(S.ON, self.on)

        def on(self, event: Event) -> NextState | None:
            match event:
                case Event(("hop", n), seen):
                    if n and self.next_ref is not None:
                        self.next_ref.tell(("hop", n - 1))
                    return stay().using(seen + 1)
                case Event("start", _):
                    self.start_single_timer("go", ("hop", 200), 1.0)
                    return stay()
                case Event("seen?", seen):
                    return stay().replying(seen)
            return None

    last = Relay.start(None)
    chain = [last]
    for _ in range(9):
        chain.append(Relay.start(chain[-1]))
    first = chain[-1]
    last.proxy().next_ref = first  # a ring of ten
    first.tell("start")
    assert settle_all(5)
    virtual_clock.advance(1.0)
    # advance returned only once the 200 hops had run through the chain
    seen = [fsm._actor_weakref()._data for fsm in chain]  # read without a message
    assert sum(seen) == 201
    for ref in chain:
        ref.stop()


def test_settle_all_does_not_wait_for_a_handler_blocked_before_it_began() -> None:
    gate = threading.Event()
    ref = Counter.start()
    ref.tell(("block", gate))
    time.sleep(runners.BLOCKED_FOR * 2)
    started = time.monotonic()
    assert settle_all(5)
    assert time.monotonic() - started < 2
    gate.set()
    ref.stop()


def test_a_flooded_fsm_does_not_delay_another_fsms_timer(probe: Probe) -> None:
    flooded, ticker = Counter.start(), Counter.start(probe.ref)
    for _ in range(200_000):
        flooded.tell("inc")
    started = time.monotonic()
    ticker.tell(("tick in", 0.02))
    probe.expect_msg(("ticked", ticker), timeout=5)
    assert time.monotonic() - started < 1.0  # not behind the 200,000
    assert flooded.ask("count?", timeout=60) == 200_000
    flooded.stop()
    ticker.stop()


def test_an_idle_fsm_allocates_no_tables_it_never_used() -> None:
    ref = Counter.start()
    ref.tell("inc")
    assert ref.ask("count?", timeout=5) == 1
    fsm = ref._actor_weakref()
    assert fsm is not None
    assert fsm._timers is None and fsm._postponed is None and fsm._subscribers is None
    assert fsm._state_timer is None and fsm._watchers is None and fsm._state_entries is None
    assert not hasattr(fsm, "__dict__") or "_state" not in fsm.__dict__  # engine fields are slots
    ref.stop()


class Hooked(Counter):
    """A Counter whose ``on_stop`` and ``on_termination`` record the thread they run on."""

    def __init__(self, probe: Any) -> None:
        super().__init__(probe)
        self.on_termination(lambda _: probe.tell(("terminated on", threading.current_thread())))

    def on_stop(self) -> None:
        self.probe.tell(("stopped on", threading.current_thread()))


def test_stop_all_stops_every_fsm_as_pykka_documents(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    refs = [Counter.start(probe.ref) for _ in range(1_000)]
    for ref in refs[:10]:
        ref.tell(("tick in", 1.0))  # armed, then cancelled by the stop
        probe.watch(ref)
    refs[9].ask("count?", timeout=5)
    # Newest first: the FSMs, then the probe's own actor (its inbox stays readable).
    assert pykka.ActorRegistry.stop_all() == [True] * 1_001
    assert all(ref.actor_stopped.is_set() for ref in refs)
    assert not pykka.ActorRegistry.get_all()
    told = [probe.expect_msg_type(Terminated) for _ in range(10)]
    assert [(t.ref, t.reason) for t in told] == [(ref, Shutdown()) for ref in reversed(refs[:10])]
    with pytest.raises(pykka.ActorDeadError):
        refs[0].ask("count?", timeout=5)
    virtual_clock.advance(2.0)
    probe.expect_no_msg(0.1)  # no timer fired after the stop


def test_a_blocking_stop_comes_after_what_was_queued(probe: Probe) -> None:
    ref = Counter.start()
    for n in range(200):
        ref.tell(("forward", probe.ref, n))
    assert ref.stop() is True
    assert [probe.receive() for _ in range(200)] == list(range(200))
    assert ref.stop() is False  # stopped already


def test_stop_hooks_run_on_the_fsms_thread_not_the_callers(probe: Probe) -> None:
    ref = Hooked.start(probe.ref)
    ref.ask("count?", timeout=5)  # idle: started and nothing queued
    assert ref.stop() is True
    hooks = dict([probe.receive(), probe.receive()])  # (hook, thread) each
    assert set(hooks) == {"terminated on", "stopped on"}
    assert threading.current_thread() not in hooks.values()
