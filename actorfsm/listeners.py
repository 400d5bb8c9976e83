"""The actors an FSM tells about itself: transition subscribers and death watchers."""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from pykka import ActorDeadError

from actorfsm.recipient import Ref
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm")


def tell_each(refs: Iterable[Ref], message: object) -> tuple[Ref, ...]:
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
    """An ordered set of refs; telling them all drops (and returns) the dead ones.

    The engine keeps an FSM's transition subscribers and death watchers here,
    and serves them on the FSM's own thread, so nothing a listener does may
    break the FSM: refs are compared by identity (an actor, or a supervised
    child, has one ref object; a user object's ``__eq__`` is never called),
    and a listener whose ``tell`` raises anything but ``ActorDeadError`` (even
    ``SystemExit``) is dropped with one ``listener_failed`` warning.
    """

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: list[Ref] = []

    def __bool__(self) -> bool:
        return bool(self._refs)

    def add(self, ref: Ref) -> None:
        """Add ``ref`` unless it is already there."""
        if self._index(ref) is None:
            self._refs.append(ref)

    def remove(self, ref: Ref) -> None:
        """Remove ``ref`` if it is there."""
        index = self._index(ref)
        if index is not None:
            del self._refs[index]

    def _index(self, ref: Ref) -> int | None:
        for index, known in enumerate(self._refs):
            if known is ref:
                return index
        return None

    def tell_all(self, message: object) -> list[Ref]:
        """Tell every listener ``message``; drop and return those that are dead."""
        dead = []
        for ref in tuple(self._refs):
            try:
                ref.tell(message)
            except ActorDeadError:
                self.remove(ref)
                dead.append(ref)
            except BaseException as exc:  # a listener must not break the FSM telling it
                self.remove(ref)
                log.warning(
                    "listener_failed",
                    listener=safe_repr(ref),
                    message=safe_repr(message),
                    error=safe_repr(exc),
                )
        return dead
