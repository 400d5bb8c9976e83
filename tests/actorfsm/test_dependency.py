"""The dead-dependency family: classified, extendable, and never restarted in a spin."""

from __future__ import annotations

import errno
import threading
import time
from typing import Any

import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    ChildSpec,
    DependencyLost,
    Event,
    GetChild,
    GetChildStatus,
    OneForOne,
    Supervisor,
    is_dependency_error,
    stay,
)

pytestmark = pytest.mark.timeout(20)


@pytest.mark.parametrize(
    "cause",
    [
        DependencyLost("manager gone"),
        BrokenPipeError(),
        ConnectionResetError(),
        ConnectionRefusedError(),
        ConnectionAbortedError(),
        TimeoutError(),
        EOFError(),
        *(
            OSError(code, "lost peer")
            for code in (
                errno.EPIPE,
                errno.ECONNRESET,
                errno.ECONNREFUSED,
                errno.ECONNABORTED,
                errno.EHOSTUNREACH,
                errno.ENETUNREACH,
                errno.ETIMEDOUT,
            )
        ),
    ],
    ids=repr,
)
def test_the_whole_family_of_a_lost_peer_is_a_dependency_error(cause: BaseException) -> None:
    assert is_dependency_error(cause)


@pytest.mark.parametrize(
    "cause", [ValueError("bad"), OSError(errno.ENOENT, "missing"), KeyError("k"), "text"]
)
def test_other_failures_are_not(cause: object) -> None:
    assert not is_dependency_error(cause)


class DatabaseDown(Exception):
    pass


def test_a_strategy_extends_the_family() -> None:
    assert not is_dependency_error(DatabaseDown())
    assert is_dependency_error(DatabaseDown(), (DatabaseDown,))
    strategy = OneForOne(dependency_errors=(DatabaseDown,))
    assert strategy.backoff_for(DatabaseDown()) is not None
    assert OneForOne().backoff_for(DatabaseDown()) is None
    with pytest.raises(TypeError, match="dependency_errors"):
        OneForOne(dependency_errors=("DatabaseDown",))  # type: ignore[arg-type]


class FailsToStart(FSM[str, None]):
    """Counts its starts, then raises what it was given in on_start."""

    def __init__(self, starts: list[float], error: BaseException) -> None:
        super().__init__()
        self.starts = starts
        self.error = error
        self.start_with("up", None)
        self.when("up", lambda event: stay())

    def on_start(self) -> None:
        self.starts.append(time.monotonic())
        raise self.error


@pytest.mark.parametrize(
    "error",
    [ConnectionRefusedError(111, "Connection refused"), ValueError("not a dependency")],
    ids=["refused", "plain"],
)
def test_a_child_failing_in_on_start_never_restarts_in_a_spin(error: BaseException) -> None:
    """Without any backoff configured: dependency errors back off, others wait the floor."""
    starts: list[float] = []
    strategy = OneForOne(max_restarts=10**6, within=60.0)
    with capture_logs():
        sup = Supervisor.start(strategy, [ChildSpec("c", FailsToStart, args=(starts, error))])
        try:
            time.sleep(1.0)
            status = sup.ask(GetChildStatus("c"), timeout=5)
        finally:
            sup.stop(timeout=10)
    assert len(starts) <= 11  # at most one start per 100 ms
    assert status.errors >= 2


class Sleeper(FSM[str, None]):
    def __init__(self) -> None:
        super().__init__()
        self.start_with("up", None)
        self.when("up", self.up)

    def up(self, event: Event) -> Any:
        match event:
            case Event(("raise", error), _):
                raise error
        return stay()


def test_an_extended_dependency_error_waits_its_backoff() -> None:
    strategy = OneForOne(dependency_errors=(DatabaseDown,))
    with capture_logs():
        sup = Supervisor.start(strategy, [ChildSpec("c", Sleeper)])
        try:
            ref = sup.ask(GetChild("c"), timeout=5)
            time.sleep(0.15)
            ref.tell(("raise", DatabaseDown("db")))
            deadline = time.monotonic() + 3
            status = sup.ask(GetChildStatus("c"), timeout=5)
            while status.restart_at is None and time.monotonic() < deadline:
                threading.Event().wait(0.01)
                status = sup.ask(GetChildStatus("c"), timeout=5)
            assert status.restart_at is not None  # waiting out DEPENDENCY_BACKOFF
        finally:
            sup.stop(timeout=10)
