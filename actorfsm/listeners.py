"""The actors an FSM tells about itself: transition subscribers and death watchers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from pykka import ActorDeadError

from actorfsm.recipient import Ref
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm")


def tell_each(refs: Iterable[Ref], message: Any) -> tuple[Ref, ...]:
    """Tell every ref ``message``; log each dead one (``listener_dead``) and return the living.

    For actors that keep their listeners in immutable state data:
    ``replace(data, listeners=tell_each(data.listeners, news))``.
    """
    alive = []
    for ref in refs:
        try:
            ref.tell(message)
        except ActorDeadError:
            log.warning("listener_dead", listener=safe_repr(ref), message=safe_repr(message))
            continue
        alive.append(ref)
    return tuple(alive)


class Listeners:
    """An ordered set of refs; telling them all drops (and returns) the dead ones."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: list[Ref] = []

    def __bool__(self) -> bool:
        return bool(self._refs)

    def add(self, ref: Ref) -> None:
        """Add ``ref`` unless it is already there."""
        if ref not in self._refs:
            self._refs.append(ref)

    def remove(self, ref: Ref) -> None:
        """Remove ``ref`` if it is there."""
        if ref in self._refs:
            self._refs.remove(ref)

    def tell_all(self, message: Any) -> list[Ref]:
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
