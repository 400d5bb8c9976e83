"""A host's side of a sender's stream: messages are handed on in the sender's order.

Ray runs the calls of an async actor concurrently, so two calls from one
sender may start out of order. Each call carries the number of its first
message; a :class:`Stream` hands a call's messages on when every earlier
number has been, and holds early ones until then. Nothing is dropped but
duplicates (numbers already handed on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Stream(Generic[T]):
    """The messages of one sender to this host, put back in order."""

    __slots__ = ("_deliver", "_early", "_next")

    def __init__(self, deliver: Callable[[T], None]) -> None:
        self._deliver = deliver
        self._next = 0
        self._early: dict[int, Sequence[T]] = {}

    def arrive(self, first: int, items: Sequence[T]) -> None:
        """Items numbered ``first``, ``first + 1``, ... arrived: hand on all that are due."""
        if first != self._next:
            if first > self._next:
                self._early[first] = items
            return
        deliver = self._deliver
        while True:
            for item in items:
                deliver(item)
            self._next += len(items)
            next_items = self._early.pop(self._next, None)
            if next_items is None:
                return
            items = next_items

    @property
    def waiting(self) -> int:
        """How many calls arrived early and wait for an earlier one."""
        return len(self._early)
