"""One subscription mechanism for the connector's actors: ``Subscribe(topic, ref)``.

Every publisher owns some :class:`Topic` s and keeps its subscribers' refs in
its state data; each subscription is the same message. A subscriber is told
the publisher's current value at once when there is one (the open link's
``Linked``, the objects last read), as a phase subscriber is told
``CurrentState``, so an actor that (re)starts after its publisher misses
nothing. The phase itself is published with actorfsm's transition
subscription (``SubscribeTransitionCallBack``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from actorfsm import Ref


class Topic(enum.Enum):
    """What can be subscribed to, and who publishes it."""

    LINK = enum.auto()
    """The Connection: ``Linked(generation, port)`` for each open port, and the bytes read."""
    EVENTS = enum.auto()
    """The Commander: every controller event (``Handshake``, ``SetupMode`` ...)."""
    TIMEOUTS = enum.auto()
    """The Commander: ``CommandTimedOut`` whenever a sent command got no answer in time."""
    BROADCASTS = enum.auto()
    """The Broadcaster: the controller's ``Objects`` every broadcast interval."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Received by a publisher: tell ``ref`` what it publishes on ``topic``, from now on."""

    topic: Topic
    ref: Ref
