"""Transition subscribers: ``CurrentState`` at once, ``Transition`` on every state change."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from actorfsm.recipient import Ref


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    """A request about ``subscriber``'s transition subscription."""

    subscriber: Ref


class SubscribeTransitionCallBack(SubscriptionRequest):
    """Ask an FSM to send ``CurrentState`` now and ``Transition`` on every change.

    A subscriber that is dead, or dies later, is dropped with one warning.
    """

    __slots__ = ()


class UnsubscribeTransitionCallBack(SubscriptionRequest):
    """End a ``SubscribeTransitionCallBack`` subscription."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class CurrentState:
    """Sent to a new transition subscriber: the state the FSM is in."""

    fsm_ref: Ref
    state: Hashable


@dataclass(frozen=True, slots=True)
class Transition:
    """Sent to transition subscribers on every real state change."""

    fsm_ref: Ref
    from_state: Hashable
    to_state: Hashable
