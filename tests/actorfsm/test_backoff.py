"""Backoff: the delay formula, validation, and the restart delays a supervisor really waits."""

from __future__ import annotations

import enum
import itertools
import math
import random
import time
from collections.abc import Callable
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, Failure, scheduler
from actorfsm.supervision import (
    RESTART_FLOOR,
    ChildRef,
    ChildSpec,
    DependencyLost,
    GetChild,
    GetChildStatus,
    OneForOne,
    RestartLimitExceeded,
    Supervisor,
    is_dependency_error,
)
from actorfsm.supervision.backoff import DEPENDENCY_BACKOFF, Backoff
from actorfsm.supervision.lifecycle import ChildStatus, Lifecycle
from actorfsm.testing import Probe, VirtualClock

pytestmark = pytest.mark.timeout(20)


def test_the_delay_grows_by_factor_from_min_and_is_capped_at_max() -> None:
    backoff = Backoff(min=0.2, max=3.0, factor=2.0, jitter=0.0)
    assert [backoff.base_delay(n) for n in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0]
    assert [backoff.delay(n) for n in range(3)] == [0.2, 0.4, 0.8]
    assert backoff.base_delay(10_000) == 3.0  # no overflow, however long the streak


def test_jitter_adds_up_to_its_fraction_and_never_shortens_the_wait() -> None:
    backoff = Backoff(min=1.0, max=10.0, factor=3.0, jitter=0.2)
    rng = random.Random(7)
    samples = [backoff.delay(1, rng.random) for _ in range(1000)]
    assert all(3.0 <= sample < 3.6 for sample in samples)
    assert max(samples) - min(samples) > 0.5  # it does spread the restarts
    assert backoff.delay(1, lambda: 0.0) == 3.0


def test_defaults_follow_the_contract() -> None:
    backoff = Backoff()
    assert (backoff.min, backoff.max, backoff.factor, backoff.jitter) == (0.2, 30.0, 2.0, 0.2)
    assert backoff.reset_after is None
    assert backoff.reset_interval == 30.0  # reset_after defaults to max
    assert Backoff(reset_after=5).reset_interval == 5.0
    assert Backoff(min=0.2, max=30.0, factor=2.0, jitter=0.2) == DEPENDENCY_BACKOFF


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min": 2.0, "max": 1.0},
        {"min": -0.1},
        {"max": math.inf},
        {"factor": 0.5},
        {"factor": True},
        {"jitter": -0.1},
        {"jitter": math.nan},
        {"reset_after": 0},
        {"min": "soon"},
    ],
)
def test_bad_values_are_a_value_error_at_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)


# ------------------------------------------------------------ under a supervisor


class Phase(enum.Enum):
    WORKING = 1


class Boom(Exception):
    pass


class Starter(FSM[Phase, None]):
    """Tells the probe when each incarnation starts; fails to start as long as the plan says.

    A plan entry is ``True`` (raise ``Boom``), an exception to raise, or
    ``False`` (start fine); an empty plan starts fine.
    """

    def __init__(self, probe: Any, plan: list[Any]) -> None:
        super().__init__()
        self.probe = probe
        self.plan = plan
        self.start_with(Phase.WORKING, None)
        self.when(Phase.WORKING, self.working)

    def on_start(self) -> None:
        self.probe.tell(("start", scheduler.current().now(), time.monotonic()))
        failure = self.plan.pop(0) if self.plan else False
        if failure is True:
            raise Boom("cannot start")
        if isinstance(failure, BaseException):
            raise failure

    def working(self, event: Event) -> Any:
        match event.event:
            case "boom":
                raise Boom("runtime")
            case ("raise", error):
                raise error
        return None


def supervise(
    probe: Probe, plan: list[Any], backoff: Backoff | None = None, **kwargs: Any
) -> pykka.ActorRef[Any]:
    strategy = OneForOne(max_restarts=kwargs.pop("max_restarts", 10), within=600.0, backoff=backoff)
    return Supervisor.start(strategy, [ChildSpec("c", Starter, (probe.ref, plan))], **kwargs)


def wait_status(
    sup: pykka.ActorRef[Any], until: Callable[[ChildStatus], bool], timeout: float = 3.0
) -> ChildStatus:
    """Poll the child's status until ``until`` holds (the supervisor works asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        status = sup.ask(GetChildStatus("c"))
        if until(status):
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"status never matched: {status}"
        time.sleep(0.005)


def restart_pending(status: ChildStatus) -> bool:
    return status.restart_at is not None


def running(status: ChildStatus) -> bool:
    return status.state is Lifecycle.RUNNING


def next_start(probe: Probe, sup: pykka.ActorRef[Any], clock: VirtualClock) -> float:
    """Advance to just before the pending restart (nothing starts), then past it: its delay."""
    status = wait_status(sup, restart_pending)
    assert status.state is Lifecycle.ERROR
    assert status.restart_at is not None
    clock.advance(status.restart_at - clock.now() - 0.01)
    probe.expect_no_msg(0.05)
    clock.advance(0.02)
    started = probe.receive()
    assert status.restart_at <= started[1] <= status.restart_at + 0.01 + 1e-9
    return status.restart_at - status.since


@pytest.mark.parametrize("jitter", [0.0, 0.5])
def test_restart_delays_follow_min_times_factor_to_the_n_capped_at_max(
    probe: Probe, virtual_clock: VirtualClock, jitter: float
) -> None:
    sup = supervise(probe, [True] * 5, Backoff(min=1.0, max=4.0, factor=2.0, jitter=jitter))
    probe.receive()
    delays = [next_start(probe, sup, virtual_clock) for _ in range(5)]
    for delay, base in zip(delays, (1.0, 2.0, 4.0, 4.0, 4.0), strict=True):
        assert base <= delay <= base * (1 + jitter)  # within the jitter, never shorter
    if jitter == 0.0:
        assert delays == pytest.approx([1.0, 2.0, 4.0, 4.0, 4.0])
    assert wait_status(sup, running).restarts == 5


def test_the_count_resets_after_the_child_ran_reset_after_without_failing(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    backoff = Backoff(min=1.0, max=8.0, factor=2.0, jitter=0.0, reset_after=5.0)
    sup = supervise(probe, [], backoff)
    probe.receive()
    ref = sup.ask(GetChild("c"))
    assert isinstance(ref, ChildRef)

    def fail_then_restart(run_for: float) -> float:
        wait_status(sup, running)
        virtual_clock.advance(run_for)
        ref.tell("boom")
        return next_start(probe, sup, virtual_clock)

    assert fail_then_restart(0.0) == pytest.approx(1.0)
    assert fail_then_restart(0.0) == pytest.approx(2.0)
    assert fail_then_restart(4.9) == pytest.approx(4.0)  # not long enough: the count stays
    assert fail_then_restart(5.0) == pytest.approx(1.0)  # ran reset_after: back to min


def test_measured_restart_delays_on_the_real_clock() -> None:
    """No virtual clock: the waits really happen, on the scheduler thread, with slack."""
    probe = Probe()
    backoff = Backoff(min=0.05, max=0.2, factor=2.0, jitter=0.1)
    supervise(probe, [True] * 5, backoff)
    starts = [probe.receive()[2] for _ in range(6)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    for gap, base in zip(gaps, (0.05, 0.1, 0.2, 0.2, 0.2), strict=True):
        assert base <= gap <= base * 1.1 + 0.25, gaps


# --------------------------------------------------------- a dead dependency


def test_a_dead_dependency_is_logged_once_summarised_backed_off_and_bounded(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    """A dead dependency: instead of 70,000 "Broken pipe" lines, two, a backoff and a limit."""
    gave_up = Probe()
    broken_pipe = [BrokenPipeError(32, "Broken pipe") for _ in range(10)]  # power_state()
    with capture_logs() as logs:
        sup = supervise(probe, broken_pipe, max_restarts=3, on_give_up=gave_up.ref.tell)
        starts = [probe.receive()[1]]
        probe.expect_no_msg(0.3)  # no tight loop: without time passing nothing restarts
        for n in range(3):
            status = wait_status(sup, restart_pending)
            assert status.restart_at is not None
            delay = status.restart_at - status.since
            assert 0.2 * 2**n <= delay < 0.2 * 2**n * 1.2  # the default dependency backoff
            virtual_clock.advance(delay)
            starts.append(probe.receive()[1])
        reason = gave_up.expect_msg_type(Failure)
    assert isinstance(reason.cause, RestartLimitExceeded)
    assert isinstance(reason.cause.cause, BrokenPipeError)
    probe.expect_no_msg(0.1)  # restarts stopped at the limit: 1 start + 3 restarts
    assert len(starts) == 4
    assert (len(starts) - 1) / (starts[-1] - starts[0]) <= 1 / 0.2  # restarts per second

    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["fsm_failed", "failure_repeated"]
    first, summary = errors
    assert first["exc_info"][0] is BrokenPipeError
    assert (summary["child"], summary["count"]) == ("c", 4)
    assert summary["failure"] == "BrokenPipeError: [Errno 32] Broken pipe"
    assert summary["first"] <= summary["last"]


def test_dependency_errors_wait_while_ordinary_errors_restart_at_once(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    sup = supervise(probe, [])
    probe.receive()
    ref = sup.ask(GetChild("c"))
    virtual_clock.advance(RESTART_FLOOR)  # it ran past the floor: no wait before its restart
    ref.tell(("raise", ValueError("bad frame")))
    probe.receive()  # restarted without any time passing
    ref.tell(("raise", ConnectionResetError("manager gone")))
    probe.expect_no_msg(0.3)
    assert wait_status(sup, restart_pending).state is Lifecycle.ERROR
    virtual_clock.advance(0.25)
    probe.receive()


@pytest.mark.parametrize(
    "error",
    [DependencyLost("manager"), BrokenPipeError(), ConnectionResetError(), EOFError()],
)
def test_dependency_errors_are_recognised(error: BaseException) -> None:
    assert is_dependency_error(error)


def test_other_errors_are_not_dependency_errors() -> None:
    assert not is_dependency_error(ValueError())
    assert not is_dependency_error(OSError())
    assert not is_dependency_error("Broken pipe")
