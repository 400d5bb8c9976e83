"""FSM actor vs a ``transitions`` state machine driven inside a plain pykka actor.

Both actors flip between two states on every message (a real transition each
time, with an on-enter callback counting entries), and drain N queued messages.
"""

from __future__ import annotations

import enum
import threading
import time
from typing import Any

import pykka
from transitions import Machine

from actorfsm import FSM, Event, NextState, goto
from benchmarks.harness import print_machine, print_ratio, side_by_side

N = 20_000
RUNS = 15  # short interleaved runs: the shared machine is noisy


class S(enum.Enum):
    A = 1
    B = 2


class Flipper(FSM[S, None]):
    def __init__(self) -> None:
        super().__init__()
        self.entries = 0
        self.start_with(S.A, None)
        self.when(S.A, self.flip_to(S.B))
        self.when(S.B, self.flip_to(S.A))
        self.on_transition(self.entered)

    def flip_to(self, target: S) -> Any:
        def handler(event: Event) -> NextState | None:
            match event.event:
                case "flip":
                    return goto(target)
                case ("hold", threading.Event() as gate):
                    gate.wait()
                    return goto(target)
                case "count":
                    return goto(target).replying(self.entries)
            return None

        return handler

    def entered(self, from_state: S, to_state: S) -> None:
        self.entries += 1


class Model:
    def __init__(self) -> None:
        self.entries = 0

    def entered(self) -> None:
        self.entries += 1


class TransitionsActor(pykka.ThreadingActor):
    """A ``transitions`` Machine in a pykka actor: the usual way to combine the two."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        Machine(
            self.model,
            states=["A", "B"],
            transitions=[
                {"trigger": "flip", "source": "A", "dest": "B", "after": "entered"},
                {"trigger": "flip", "source": "B", "dest": "A", "after": "entered"},
            ],
            initial="A",
        )

    def on_receive(self, message: Any) -> Any:
        match message:
            case "flip":
                self.model.flip()  # type: ignore[attr-defined]
            case ("hold", gate):
                gate.wait()
                self.model.flip()  # type: ignore[attr-defined]
            case "count":
                entries = self.model.entries
                self.model.flip()  # type: ignore[attr-defined]
                return entries
        return None


def drain(actor_class: type[pykka.Actor]) -> float:
    ref = actor_class.start()
    gate = threading.Event()
    ref.tell(("hold", gate))
    for _ in range(N):
        ref.tell("flip")
    start = time.perf_counter()
    gate.set()
    entries = ref.ask("count")
    elapsed = time.perf_counter() - start
    ref.stop()
    assert entries == N + 1, entries
    return elapsed / N


def main() -> None:
    print_machine("FSM actor vs a `transitions` machine inside a pykka actor")
    print(f"   {N} state changes per run, median of {RUNS} runs, interleaved")
    fsm_median, other_median, ratio = side_by_side(
        RUNS, lambda: drain(Flipper), lambda: drain(TransitionsActor)
    )
    print(
        f"   transitions in pykka {1e6 * other_median:.2f} us/change, "
        f"FSM {1e6 * fsm_median:.2f} us/change"
    )
    print_ratio("throughput FSM / transitions (median of pair ratios)", ratio, ">= 3")


if __name__ == "__main__":
    main()
