"""The actors an FSM tells about itself: transition subscribers and death watchers."""

from __future__ import annotations

from typing import Any

from pykka import ActorDeadError


class Listeners:
    """An ordered set of refs; telling them all drops (and returns) the dead ones."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self._refs)

    def add(self, ref: Any) -> None:
        """Add ``ref`` unless it is already there."""
        if ref not in self._refs:
            self._refs.append(ref)

    def remove(self, ref: Any) -> None:
        """Remove ``ref`` if it is there."""
        if ref in self._refs:
            self._refs.remove(ref)

    def tell_all(self, message: Any) -> list[Any]:
        """Tell every listener ``message``; drop and return those that are dead."""
        dead = []
        for ref in tuple(self._refs):
            try:
                ref.tell(message)
            except ActorDeadError:
                self._refs.remove(ref)
                dead.append(ref)
        return dead

    def clear(self) -> None:
        """Forget every listener."""
        self._refs.clear()
