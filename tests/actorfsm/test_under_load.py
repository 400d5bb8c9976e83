"""Under load: a dependency dying under 100 children at once, and a handler stuck for 3 s.

These are the seeds' failure stories at scale: restarts that cannot fix a dead
dependency must not spin or flood the log, and one blocked actor must not
starve the others (only itself).
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from typing import Any, ClassVar

import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    Backoff,
    ChildSpec,
    Event,
    OneForOne,
    Supervisor,
    inspect,
    stay,
)

SUPERVISORS = 10
CHILDREN_PER_SUPERVISOR = 10
MAX_RESTARTS = 3
BACKOFF = Backoff(min=0.05, max=0.2, factor=2.0, jitter=0.2)


class S(enum.Enum):
    ON = 1


class NeedsTheDependency(FSM[S, None]):
    """Every start fails the same way: the shared dependency is gone."""

    def __init__(self, name: str, starts: dict[str, list[float]], lock: threading.Lock) -> None:
        super().__init__()
        self.name = name
        self.starts = starts
        self.lock = lock
        self.start_with(S.ON, None)
        self.when(S.ON, lambda e: stay())

    def on_start(self) -> None:
        with self.lock:
            self.starts.setdefault(self.name, []).append(time.monotonic())
        raise ConnectionResetError(104, "Connection reset by peer")


class Echo(FSM[S, None]):
    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.ON, None)
        self.when(S.ON, lambda e: stay().replying(e.event))


@pytest.mark.timeout(60)
def test_a_dependency_dying_under_100_children_neither_spins_nor_floods() -> None:
    starts: dict[str, list[float]] = {}
    lock = threading.Lock()
    gave_up = threading.Semaphore(0)
    echo = Echo.start()
    with capture_logs() as logs:
        for s in range(SUPERVISORS):
            children = [
                ChildSpec(f"s{s}c{c}", NeedsTheDependency, args=(f"s{s}c{c}", starts, lock))
                for c in range(CHILDREN_PER_SUPERVISOR)
            ]
            Supervisor.start(
                OneForOne(max_restarts=MAX_RESTARTS, within=60.0, backoff=BACKOFF),
                children,
                on_give_up=lambda reason: gave_up.release(),
            )
        deadline = time.monotonic() + 30
        given_up = 0
        while given_up < SUPERVISORS:
            asked = time.monotonic()
            assert echo.ask("ping", timeout=1.0) == "ping"  # responsive throughout
            assert time.monotonic() - asked < 1.0
            if gave_up.acquire(timeout=0.05):
                given_up += 1
            assert time.monotonic() < deadline, f"only {given_up} supervisors gave up"
    children = SUPERVISORS * CHILDREN_PER_SUPERVISOR
    errors = [entry for entry in logs if entry["log_level"] == "error"]
    assert len(starts) == children  # every child met the dead dependency
    for name in starts:
        lines = [e["event"] for e in errors if e.get("child") == name]
        assert 1 <= len(lines) <= 2, (name, lines)  # first failure + one summary per streak
    assert len(errors) <= 2 * children + SUPERVISORS  # + one give-up line per supervisor
    for name, times in starts.items():
        assert len(times) <= MAX_RESTARTS + 1, name  # restarts stop at the limit
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= BACKOFF.min * 0.9 for gap in gaps), (name, gaps)  # no tight loop


class Worker(FSM[S, int]):
    """Counts; one message blocks its handler (a bug) for ``seconds``."""

    handler_warn_after: ClassVar[float | None] = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.ON, 0)
        self.when(S.ON, self.handle)

    def handle(self, event: Event) -> Any:
        match event.event:
            case ("block", seconds):
                time.sleep(seconds)  # the bug under test: a handler that blocks
            case "count?":
                return stay().replying(event.data)
        return stay().using(event.data + 1)


def drain_rate(workers: list[Any], messages: int) -> float:
    """Messages per second the workers handle together."""
    started = time.perf_counter()
    for _ in range(messages):
        for worker in workers:
            worker.tell("tick")
    for worker in workers:
        worker.ask("count?", timeout=10)
    return messages * len(workers) / (time.perf_counter() - started)


@pytest.mark.timeout(60)
def test_a_stuck_handler_is_reported_and_starves_only_its_own_actor() -> None:
    others = [Worker.start() for _ in range(4)]
    baseline = drain_rate(others, 2_000)
    stuck = Worker.start()
    with capture_logs() as logs:
        stuck.tell(("block", 3.0))
        stopping = stuck.stop(block=False)  # waits behind the blocked handler
        while_stuck = drain_rate(others, 2_000)
        snapshot = inspect(stuck)  # the others are done, and it is still stuck
        assert snapshot.current_event == ("block", 3.0) and snapshot.busy_for is not None
        assert stopping.get(timeout=10) is True  # handled once the handler returned
    names = [entry["event"] for entry in logs]
    assert names.count("handler_stuck") == 1
    assert names.count("handler_returned") == 1
    # Only the GIL is shared; a very generous bound (the machine is shared and noisy).
    assert while_stuck >= 0.2 * baseline, (while_stuck, baseline)
