"""Supervision at work: a child that fails and recovers, and one whose dependency is dead.

Part 1: a frame decoder chokes on a corrupt frame. Its supervisor restarts it
at once; the frames sent behind the bad one reach the new incarnation through
the same ``ChildRef``, in order.

Part 2: a solver whose shared-state manager process has died: every
start fails with ``BrokenPipeError``. Instead of 70,000 identical log lines,
the supervisor logs the first failure once, backs off (0.2 s, 0.4 s, 0.8 s,
with jitter), gives up at the restart limit with one summary line, and calls
``on_give_up``, where a program decides its exit status.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

import pykka

from actorfsm import (
    FSM,
    ChildRef,
    ChildSpec,
    ChildStatus,
    Event,
    Failure,
    GetChild,
    GetChildStatus,
    Lifecycle,
    OneForOne,
    SubscribeTransitionCallBack,
    Supervisor,
    Transition,
    stay,
)
from actorfsm.logging import configure


class S(enum.Enum):
    DECODING = 1


class CorruptFrame(Exception):
    pass


class Decoder(FSM[S, int]):
    """Counts the frames it decoded; a corrupt frame is a failure."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self.out = out
        self.start_with(S.DECODING, 0)
        self.when(S.DECODING, self.decoding)

    def decoding(self, event: Event) -> Any:
        match event:
            case Event(("frame", b"\x00"), _):
                raise CorruptFrame("checksum mismatch")
            case Event(("frame", payload), decoded):
                self.out(f"decoded {payload!r} (frame {decoded + 1} of this incarnation)")
                return stay().using(decoded + 1)
        return None


class Solver(FSM[S, None]):
    """A solver: its first call to the dead manager process fails."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with(S.DECODING, None)
        self.when(S.DECODING, lambda event: None)

    def on_start(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")  # shared_state.power_state()


class LifecyclePrinter(pykka.ThreadingActor):
    """Prints each child's lifecycle transitions (and how long a backoff kept it in ERROR)."""

    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.monotonic()
        self.error_since = self.t0

    def on_receive(self, message: Any) -> None:
        match message:
            case Transition(ChildRef() as child, Lifecycle() as old, Lifecycle() as new):
                now = time.monotonic()
                waited = ""
                if old is Lifecycle.ERROR and new is Lifecycle.STARTING:
                    waited = f"   (backoff: {now - self.error_since:.2f} s in ERROR)"
                if new is Lifecycle.ERROR:
                    self.error_since = now
                print(f"   {now - self.t0:5.2f} s  {child.name}: {old.name} -> {new.name}{waited}")


def recovering_child() -> None:
    print("1. A decoder fails on a corrupt frame and recovers:")
    sup = Supervisor.start(OneForOne(), [ChildSpec("decoder", Decoder, (print,))])
    try:
        decoder: ChildRef = sup.ask(GetChild("decoder"), block=True)
        for payload in (b"\x01", b"\x00", b"\x02", b"\x03"):
            decoder.tell(("frame", payload))
        decoder.ask(("frame", b"\x04"))
        status: ChildStatus = sup.ask(GetChildStatus("decoder"), block=True)
        print(f"   decoder is {status.state.name}, restarted {status.restarts} time(s)")
    finally:
        sup.stop()


def dead_dependency() -> int:
    print("2. A solver whose dependency is dead: one error, backoff, a summary, a give-up:")
    gave_up = threading.Event()
    reasons: list[Failure] = []

    def on_give_up(reason: Failure) -> None:
        reasons.append(reason)  # runs in the supervisor's thread: hand over, decide later
        gave_up.set()

    printer = LifecyclePrinter.start()
    strategy = OneForOne(max_restarts=3, within=60.0)  # dependency errors back off by default
    sup = Supervisor.start(strategy, [ChildSpec("solver", Solver)], on_give_up=on_give_up)
    sup.tell(SubscribeTransitionCallBack(printer))  # from after its first (failed) start
    try:
        gave_up.wait(timeout=10.0)
    finally:
        sup.stop()
        printer.stop()  # prints what it still has queued first
    if not reasons:
        print("   the supervisor did not give up in time")
        return 2
    cause = reasons[0].cause
    print(f"   on_give_up: {type(cause).__name__}: {cause}")
    return 1  # what a program would exit with


def main() -> None:
    configure(format="console")
    print("Supervision demo.")
    recovering_child()
    exit_status = dead_dependency()
    print(f"Supervision demo done (a real program would now exit with status {exit_status}).")


if __name__ == "__main__":
    main()
