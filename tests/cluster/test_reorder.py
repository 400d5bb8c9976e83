"""A host's per-sender stream: messages are handed on in number order, whatever the arrival."""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from actorfsm.ray.reorder import Stream


def _runs(total: int, cuts: list[int]) -> list[tuple[int, list[int]]]:
    """Split 0..total-1 into consecutive runs at ``cuts``: (first number, items)."""
    edges = sorted({0, total, *(cut for cut in cuts if 0 < cut < total)})
    return [(a, list(range(a, b))) for a, b in itertools.pairwise(edges)]


@given(
    total=st.integers(min_value=1, max_value=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=40),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_arrival_order_is_handed_on_in_order(total: int, cuts: list[int], seed: int) -> None:
    handed: list[int] = []
    stream = Stream(handed.append)
    runs = _runs(total, cuts)
    random.Random(seed).shuffle(runs)
    for first, items in runs:
        stream.arrive(first, items)
    assert handed == list(range(total))
    assert stream.waiting == 0


def test_early_runs_wait_and_duplicates_are_dropped() -> None:
    handed: list[str] = []
    stream = Stream(handed.append)
    stream.arrive(2, ["c", "d"])
    assert handed == []
    assert stream.waiting == 1
    stream.arrive(0, ["a", "b"])
    assert handed == ["a", "b", "c", "d"]
    stream.arrive(1, ["b again"])  # already handed on: a duplicate
    stream.arrive(4, ["e"])
    assert handed == ["a", "b", "c", "d", "e"]
