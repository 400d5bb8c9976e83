"""Internal messages are guarded: a bad one, or a raising user object in one, never kills an FSM.

A subscription or watch request that cannot be served is refused with one
warning (its asker gets the error) and the FSM goes on; anything else raised
while serving an internal message fails the FSM the defined way: one failure
report, askers answered, watchers told, the thread still serving others.
"""

from __future__ import annotations

import enum
from concurrent.futures import InvalidStateError
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
    goto,
    stay,
)
from actorfsm.death_watch import Watch
from actorfsm.pykka_seam import Envelope
from actorfsm.scheduler import Settle
from actorfsm.system_messages import SYSTEM_MESSAGES
from actorfsm.testing import Probe

ROUNDS = 10
"""More FSMs than a pool has workers: one dead worker per round would starve the pool."""


class S(enum.Enum):
    A = 1
    B = 2


class Toggle(FSM[S, None]):
    """``flip`` moves between A and B; ``explode`` (a proxy call) raises what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.A, None)
        self.when(S.A, self.flip(S.B))
        self.when(S.B, self.flip(S.A))

    @staticmethod
    def flip(to: S) -> Any:
        def handler(event: Event) -> Any:
            match event.event:
                case "flip":
                    return goto(to).replying(to)
                case "query":
                    return stay().replying("answer")
            return None

        return handler

    def explode(self, error: type[BaseException]) -> None:
        raise error("from a proxy call")


class Touchy:
    """A ref (it forwards to a probe) whose ``__eq__`` raises, and whose ``tell`` may."""

    def __init__(self, probe: Probe, *, tell_fails_after: int | None = None) -> None:
        self.probe = probe
        self.tells_left = tell_fails_after

    def tell(self, message: Any) -> None:
        if self.tells_left is not None:
            if self.tells_left == 0:
                raise RuntimeError("tell failed")
            self.tells_left -= 1
        self.probe.ref.tell(message)

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__ raised")

    __hash__ = object.__hash__


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_a_subscriber_whose_eq_raises_is_served_like_any_other(probe: Probe) -> None:
    other = Probe()
    for _ in range(ROUNDS):
        ref = Toggle.start()
        ref.ask(SubscribeTransitionCallBack(other.ref), timeout=3)
        touchy = Touchy(probe)
        ref.ask(SubscribeTransitionCallBack(touchy), timeout=3)
        ref.ask(SubscribeTransitionCallBack(touchy), timeout=3)  # subscribed once all the same
        probe.expect_msg(CurrentState(ref, S.A))
        probe.expect_msg(CurrentState(ref, S.A))
        assert ref.ask("flip", timeout=3) is S.B
        probe.expect_msg(Transition(ref, S.A, S.B))
        ref.ask(UnsubscribeTransitionCallBack(touchy), timeout=3)
        assert ref.ask("flip", timeout=3) is S.A
        probe.expect_no_msg(0.05)
        other.expect_msg(CurrentState(ref, S.A))
        other.expect_msg(Transition(ref, S.A, S.B))
        other.expect_msg(Transition(ref, S.B, S.A))
        ref.stop(timeout=3)
    other.stop()


@pytest.mark.parametrize("subscriber", [None, "nobody", 42])
def test_subscribing_something_that_is_no_ref_is_refused_with_one_warning(
    subscriber: Any,
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Toggle.start()
            with pytest.raises(TypeError, match="needs an actor ref"):
                ref.ask(SubscribeTransitionCallBack(subscriber), timeout=3)
            ref.tell(SubscribeTransitionCallBack(subscriber))  # refused too, nobody to tell
            assert ref.ask("flip", timeout=3) is S.B
            ref.stop(timeout=3)
    refused = events(logs, "system_message_refused")
    assert len(refused) == 2 * ROUNDS
    assert "Toggle" in refused[0]["actor"]
    assert "needs an actor ref" in refused[0]["error"]
    assert not events(logs, "fsm_failed")


def test_a_subscriber_whose_tell_raises_is_refused_then_dropped_once(probe: Probe) -> None:
    with capture_logs() as logs:
        ref = Toggle.start()
        with pytest.raises(RuntimeError, match="tell failed"):
            ref.ask(SubscribeTransitionCallBack(Touchy(probe, tell_fails_after=0)), timeout=3)
        ref.ask(SubscribeTransitionCallBack(Touchy(probe, tell_fails_after=1)), timeout=3)
        probe.expect_msg(CurrentState(ref, S.A))
        assert ref.ask("flip", timeout=3) is S.B  # its tell raises now: dropped
        assert ref.ask("flip", timeout=3) is S.A  # not told again
    assert len(events(logs, "system_message_refused")) == 1
    dropped = events(logs, "listener_failed")
    assert len(dropped) == 1
    assert "tell failed" in dropped[0]["error"]
    probe.expect_no_msg(0.05)


def test_watching_with_something_that_is_no_ref_is_refused_and_the_fsm_still_stops() -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            ref = Toggle.start()
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
            ref = Toggle.start()
            probe.watch(ref)
            with pytest.raises(error, match="from a proxy call"):
                ref.proxy().explode(error).get(timeout=3)
            probe.expect_terminated(ref)
            with pytest.raises(pykka.ActorDeadError):
                ref.ask("query", timeout=3)
        assert Toggle.start().ask("query", timeout=3) == "answer"
    reports = events(logs, "fsm_failed")
    assert len(reports) == ROUNDS
    assert isinstance(reports[0]["exc_info"][1], error)


def test_an_internal_message_failing_after_the_fsm_stopped_is_logged_once() -> None:
    ref = Toggle.start()
    fsm = ref._actor_weakref()  # type: ignore[attr-defined]
    ref.stop(timeout=3)
    marker = Settle()
    marker.future.set_result(None)  # answered already: serving it again raises
    asker: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
    with capture_logs() as logs:
        SYSTEM_MESSAGES[Settle](fsm, Envelope(marker, reply_to=asker))
    failed = events(logs, "system_message_failed")
    assert len(failed) == 1
    assert "Toggle" in failed[0]["actor"]
    with pytest.raises(InvalidStateError):
        asker.get(timeout=1)
