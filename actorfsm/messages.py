"""The messages an FSM receives, reports and publishes.

All are small frozen dataclasses with ``__match_args__`` in field order, so
handlers match them with class patterns (``case Event(StateTimeout(), data):``).
Marker values (``StateTimeout``, ``Normal``, ``Shutdown``) are classes without
fields; the FSM always delivers and reports *instances* of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """What a ``when`` handler receives: the message and the FSM's current data."""

    event: Any
    data: Any


@dataclass(frozen=True, slots=True)
class StateTimeout:
    """Delivered when a state timeout expires with no other event in between."""


@dataclass(frozen=True, slots=True)
class Normal:
    """Stop reason: the FSM stopped itself with ``stop()``."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Stop reason: the FSM was stopped from outside (``ref.stop()``)."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Stop reason: a handler or hook raised ``cause``, or asked to stop with it."""

    cause: Any


Reason = Normal | Shutdown | Failure


@dataclass(frozen=True, slots=True)
class StopEvent:
    """What ``on_termination`` handlers receive."""

    reason: Reason
    state_name: Any
    state_data: Any


@dataclass(frozen=True, slots=True)
class SubscribeTransitionCallBack:
    """Ask an FSM to send ``CurrentState`` now and ``Transition`` on every change."""

    subscriber: Any


@dataclass(frozen=True, slots=True)
class UnsubscribeTransitionCallBack:
    """End a ``SubscribeTransitionCallBack`` subscription."""

    subscriber: Any


@dataclass(frozen=True, slots=True)
class CurrentState:
    """Sent to a new transition subscriber: the state the FSM is in."""

    fsm_ref: Any
    state: Any


@dataclass(frozen=True, slots=True)
class Transition:
    """Sent to transition subscribers on every real state change."""

    fsm_ref: Any
    from_state: Any
    to_state: Any


@dataclass(frozen=True, slots=True)
class Terminated:
    """Sent to watchers when the watched FSM stops, for whatever reason."""

    ref: Any
    reason: Any


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a ``LoggingFSM``'s rolling log: what an event found on arrival."""

    state_name: Any
    state_data: Any
    event: Any
    at: float


def normalise_reason(reason: Any) -> Reason:
    """Accept ``Normal``/``Shutdown`` given as classes as well as instances."""
    if reason is Normal or reason is Shutdown:
        return reason()
    if isinstance(reason, Normal | Shutdown | Failure):
        return reason
    msg = f"stop reason must be Normal, Shutdown or Failure(cause), got {reason!r}"
    raise TypeError(msg)
