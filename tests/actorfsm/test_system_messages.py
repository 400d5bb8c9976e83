"""Internal messages are guarded: a bad one, or a raising user object in one, never kills an FSM.

A watch (or a subscription, see test_subscribers.py) that cannot be served
is refused with one warning (its asker gets the error) and the FSM goes on;
anything else raised while serving an internal message fails the FSM the
defined way: one failure report, askers answered, watchers told, the thread
still serving others.
"""

from __future__ import annotations

import enum
from concurrent.futures import InvalidStateError
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, stay
from actorfsm.death_watch import Watch
from actorfsm.pykka_seam import Envelope
from actorfsm.scheduler import Settle
from actorfsm.system_messages import SYSTEM_MESSAGES
from actorfsm.testing import Probe

ROUNDS = 10
"""More FSMs than a pool has workers: one dead worker per round would starve the pool."""


class S(enum.Enum):
    A = 1


class Exploding(FSM[S, None]):
    """Answers every ask with ``"answer"``; ``explode`` (a proxy call) raises what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.A, None)
        self.when(S.A, lambda event: stay().replying("answer"))

    def explode(self, error: type[BaseException]) -> None:
        raise error("from a proxy call")


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_watching_with_something_that_is_no_ref_is_refused_and_the_fsm_still_stops() -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Exploding.start()
            with pytest.raises(TypeError, match="needs an actor ref"):
                ref.ask(Watch("nobody", True), timeout=3)  # type: ignore[arg-type]
            assert ref.stop(timeout=3) is True
    assert len(events(logs, "system_message_refused")) == ROUNDS
    assert not events(logs, "system_message_failed")


@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt])
def test_a_proxy_call_raising_a_base_exception_fails_the_fsm_the_defined_way(
    probe: Probe, error: type[BaseException]
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Exploding.start()
            probe.watch(ref)
            with pytest.raises(error, match="from a proxy call"):
                ref.proxy().explode(error).get(timeout=3)
            probe.expect_terminated(ref)
            with pytest.raises(pykka.ActorDeadError):
                ref.ask("query", timeout=3)
        assert Exploding.start().ask("query", timeout=3) == "answer"
    reports = events(logs, "fsm_failed")
    assert len(reports) == ROUNDS
    assert isinstance(reports[0]["exc_info"][1], error)


def test_an_internal_message_failing_after_the_fsm_stopped_is_logged_once() -> None:
    ref = Exploding.start()
    fsm = ref._actor_weakref()  # type: ignore[attr-defined]
    ref.stop(timeout=3)
    marker = Settle()
    marker.future.set_result(None)  # answered already: serving it again raises
    asker: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    with capture_logs() as logs:
        SYSTEM_MESSAGES[Settle](fsm, Envelope(marker, reply_to=asker))
    failed = events(logs, "system_message_failed")
    assert len(failed) == 1
    assert "Exploding" in failed[0]["actor"]
    with pytest.raises(InvalidStateError):
        asker.get(timeout=1)
