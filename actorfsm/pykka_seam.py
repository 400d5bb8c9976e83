"""The one module that touches pykka's private names.

The engine runs FSMs on its own dispatchers, so it needs a few of pykka's
internals: the mailbox envelope, the proxy messages and their attribute
lookup, the stop request, and the registry's list of refs. Everything else in
``actorfsm`` imports them from here, so a pykka upgrade is checked in one file
(``pyproject.toml`` pins pykka's major version for the same reason).

The registry: pykka keeps registered refs in a list, so unregistering is a
linear search and stopping a million actors would be quadratic. ``install``
replaces that list with :class:`RefTable`, an insertion-ordered dict with the
list operations pykka uses, so register and unregister are O(1) while
``get_all()`` still returns refs in start order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, overload

from pykka import Actor, ActorRef, ActorRegistry
from pykka._envelope import Envelope
from pykka._introspection import get_attr_directly
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

__all__ = [
    "ActorStop",
    "Envelope",
    "ProxyCall",
    "ProxyGetAttr",
    "ProxySetAttr",
    "RefTable",
    "actor_of",
    "get_attr_directly",
    "register",
    "unregister",
]

ActorStop = _ActorStop
"""pykka's stop request (what ``ref.stop()`` sends)."""


class RefTable:
    """The registry's refs: the list operations pykka uses, each O(1) but iteration."""

    __slots__ = ("_refs",)

    def __init__(self, refs: list[Any]) -> None:
        self._refs: dict[Any, None] = dict.fromkeys(refs)

    def append(self, ref: Any) -> None:
        """Register ``ref`` (pykka's ``register``)."""
        self._refs[ref] = None

    def remove(self, ref: Any) -> None:
        """Forget ``ref``; ``ValueError`` if absent, as ``list.remove``."""
        try:
            del self._refs[ref]
        except KeyError:
            raise ValueError(ref) from None

    def discard(self, ref: Any) -> bool:
        """Forget ``ref`` if present; return whether it was."""
        return self._refs.pop(ref, _ABSENT) is not _ABSENT

    def __contains__(self, ref: object) -> bool:
        return ref in self._refs

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._refs))

    def __len__(self) -> int:
        return len(self._refs)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        return list(self._refs)[index]


_ABSENT = object()


def _table() -> RefTable:
    registry: Any = ActorRegistry
    with registry._actor_refs_lock:
        table = registry._actor_refs
        if not isinstance(table, RefTable):
            table = RefTable(list(table))
            registry._actor_refs = table
    return table


_refs = _table()


def actor_of(ref: ActorRef[Any]) -> Actor | None:
    """The actor behind a pykka ref, or ``None`` once it is garbage (pykka keeps a weakref)."""
    return ref._actor_weakref()


def register(ref: Any) -> None:
    """Add ``ref`` to pykka's registry (without pykka's per-call debug formatting)."""
    with ActorRegistry._actor_refs_lock:
        _refs.append(ref)


def unregister(ref: Any) -> None:
    """Remove ``ref`` from pykka's registry if it is there, in O(1)."""
    with ActorRegistry._actor_refs_lock:
        _refs.discard(ref)
