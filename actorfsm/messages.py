"""The messages an FSM's handlers receive and the reasons it stops for.

All are small frozen dataclasses with ``__match_args__`` in field order, so
handlers match them with class patterns (``case Event(StateTimeout(), data):``).
Marker values (``StateTimeout``, ``Normal``, ``Shutdown``) are classes without
fields; the FSM always delivers and reports *instances* of them.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # a bare ``Event`` means ``Event[Any]`` (PEP 696; typing has it from 3.13)
    from typing_extensions import TypeVar as DefaultTypeVar

    D = DefaultTypeVar("D", default=Any)
else:
    D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class Event(Generic[D]):
    """What a ``when`` handler receives: the message and the FSM's current data.

    Match both at once: ``case Event(Queue(obj), Todo() as todo):``. It is
    generic in the data, so a handler of an ``FSM[S, Todo]`` is typed
    ``def idle(self, event: Event[Todo]) -> NextState | None``.
    """

    event: object
    data: D


@dataclass(frozen=True, slots=True)
class Marker:
    """A message without fields; instances of one marker class are all equal.

    Match them with class patterns: ``case StateTimeout():``. A bare name in a
    ``case`` would be a capture pattern that matches anything.
    """


class StateTimeout(Marker):
    """Delivered when a state timeout expires with no other event in between.

    Any other event cancels the pending timeout before its handler runs.
    """

    __slots__ = ()


class Normal(Marker):
    """Stop reason: the FSM stopped itself with ``stop()``."""

    __slots__ = ()


class Shutdown(Marker):
    """Stop reason: the FSM was stopped from outside.

    ``ref.stop()`` and pykka's ``ActorRegistry.stop_all()`` both stop with it;
    a supervisor treats it as a normal stop.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """Stop reason: a handler or hook raised ``cause``, or asked to stop with it."""

    cause: object


Reason = Normal | Shutdown | Failure


@dataclass(frozen=True, slots=True)
class StopEvent:
    """What ``on_termination`` handlers receive."""

    reason: Reason
    state_name: Hashable
    state_data: object


def normalise_reason(reason: object) -> Reason:
    """Accept ``Normal``/``Shutdown`` given as classes as well as instances."""
    if reason is Normal or reason is Shutdown:
        return reason()
    if isinstance(reason, Normal | Shutdown | Failure):
        return reason
    msg = f"stop reason must be Normal, Shutdown or Failure(cause), got {reason!r}"
    raise TypeError(msg)
