"""FSMs on a Ray cluster vs plain Ray actors: ask round trip, tells per second, node loss.

A local cluster (head + 2 nodes, each a raylet of its own) runs, on node
``n1``, one FSM in an actorfsm host and one plain Ray actor a user would
otherwise write (a class with methods), side by side:

- ask: ``ref.ask(Get())`` to the remote FSM vs ``ray.get(actor.get.remote())``,
  one at a time; the ratio is FSM time / plain time (target <= 1.5).
- tells: N ``ref.tell(Inc())`` then one ask (the FSM handled them all) vs N
  ``actor.inc.remote()`` then ``ray.get`` of the last (a sequential actor has
  then run them all); the ratio is FSM rate / plain rate (target >= 1.0;
  actorfsm batches the tells of one sender to one host).
- node loss: a supervised child needing ``{"dev": 1}`` (both nodes have one);
  the node it runs on is removed, and the figure is the time until an ask
  through its ChildRef is answered by the child restarted on the other node
  (target <= 10 s). Failure detection is tuned (FAST_FAILURE_DETECTION).
"""

from __future__ import annotations

import statistics
import time
from typing import Any, cast

import pykka
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import actorfsm.ray
from actorfsm import FSM, ChildRef, Event, GetChild, NextState, OneForOne, Supervisor, stay
from actorfsm.ray.local_cluster import add_node
from benchmarks.bench_engine import Get, Inc
from benchmarks.harness import print_machine, print_ratio, side_by_side

ASKS = 300
TELLS = 5_000
RUNS = 7
NODE_LOSSES = 3


class Counter(FSM[str, int]):
    """Counts ``Inc``; answers ``Get`` with the count."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with("counting", 0)
        self.when("counting", self._counting)

    def _counting(self, event: Event) -> NextState | None:
        match event:
            case Event(Inc(), n):
                return stay().using(n + 1)
            case Event(Get(), n):
                return stay().replying(n)
        return None


class PlainCounter:
    """What a user writes without actorfsm: a Ray actor with methods."""

    def __init__(self) -> None:
        self.n = 0

    def inc(self) -> None:
        self.n += 1

    def get(self) -> int:
        return self.n


def _asks(ref: Any, plain: Any) -> None:
    def fsm() -> float:
        start = time.perf_counter()
        for _ in range(ASKS):
            ref.ask(Get(), timeout=30)
        return (time.perf_counter() - start) / ASKS

    def reference() -> float:
        start = time.perf_counter()
        for _ in range(ASKS):
            ray.get(plain.get.remote(), timeout=30)
        return (time.perf_counter() - start) / ASKS

    ours, theirs, ratio = side_by_side(RUNS, fsm, reference)
    print(f"   ask round trip: FSM {ours * 1e3:.3f} ms, plain Ray actor {theirs * 1e3:.3f} ms")
    print_ratio("ask time FSM / plain Ray call", 1 / ratio, "<= 1.5")


def _tells(ref: Any, plain: Any) -> None:
    def fsm() -> float:
        before = ref.ask(Get(), timeout=30)
        start = time.perf_counter()
        for _ in range(TELLS):
            ref.tell(Inc())
        assert ref.ask(Get(), timeout=60) == before + TELLS
        return (time.perf_counter() - start) / TELLS

    def reference() -> float:
        start = time.perf_counter()
        last: Any = None
        for _ in range(TELLS):
            last = plain.inc.remote()
        ray.get(last, timeout=60)
        return (time.perf_counter() - start) / TELLS

    ours, theirs, ratio = side_by_side(RUNS, fsm, reference)
    print(f"   tells/s to one remote FSM: {1 / ours:,.0f}; plain Ray calls/s: {1 / theirs:,.0f}")
    print_ratio("tells/s FSM / plain Ray calls/s", ratio, ">= 1.0")


def _node_losses(cluster: Any) -> None:
    samples: list[float] = []
    for _ in range(NODE_LOSSES):
        supervisor = Supervisor.start(
            OneForOne(max_restarts=10, within=60),
            [actorfsm.ray.remote_child("dev", Counter, resources={"dev": 1})],
        )
        try:
            child = cast("ChildRef", supervisor.ask(GetChild("dev")))
            child.ask(Get(), timeout=30)
            lost = _node_of(child)
            node = next(n for n in cluster.list_all_nodes() if n.node_id == lost)
            start = time.perf_counter()
            cluster.remove_node(node, allow_graceful=False)
            while True:  # asks in flight to the lost node fail (HostLost is an ActorDeadError)
                try:
                    child.ask(Get(), timeout=1)
                    if _node_of(child) != lost:
                        break
                except (pykka.ActorDeadError, pykka.Timeout):
                    pass
                time.sleep(0.02)
            samples.append(time.perf_counter() - start)
        finally:
            supervisor.stop()
        add_node(cluster, {"dev": 1})
    rounded = [round(sample, 2) for sample in samples]
    print(f"   node loss to the child answering on another node: {rounded} s")
    print_ratio("median seconds", statistics.median(samples), "<= 10 s")


def _node_of(child: ChildRef) -> str | None:
    """The node of the remote FSM behind ``child``'s current stand-in."""
    current = child.current()
    remote = None if current is None else current.proxy().remote.get(timeout=5)
    return None if remote is None else str(remote.node_id)


def main() -> None:
    print_machine("actorfsm.ray: FSMs on a Ray cluster vs plain Ray actors")
    print(f"   local cluster: head + 2 nodes; {ASKS} asks, {TELLS:,} tells, medians of {RUNS} runs")
    with actorfsm.ray.local_cluster(({"n1": 1, "dev": 1}, {"n2": 1, "dev": 1})) as cluster:
        ref = actorfsm.ray.start(Counter, resources={"n1": 1})
        plain: Any = (
            ray.remote(PlainCounter)
            .options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(ref.node_id, soft=False),
            )
            .remote()
        )
        ray.get(plain.get.remote())
        _asks(ref, plain)
        _tells(ref, plain)
        ref.stop()
        _node_losses(cluster)


if __name__ == "__main__":
    main()
