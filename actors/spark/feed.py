"""The connector's news for listeners outside its actors: phase changes and broadcast values.

This is the one place the service (the HTTP API's events, MQTT) subscribes to
the connector's actors: a :class:`ConnectorFeed` starts a small actor that
follows the phase and the Broadcaster through the connector's client API and
turns their messages into plain :data:`FeedEvent` values. It keeps the latest
phase (and since when) and the latest objects read, so a client that arrives
late is told the present first. Listeners are called in the feed actor's
thread and must not block: they hand the event to their own loop or queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from actorfsm import FSM, CurrentState, Event, NextState, Transition, stay
from actors.spark.broadcaster import Objects
from actors.spark.phase import Phase
from actors.spark.protocol import SparkObject

log = structlog.get_logger("actors.spark.feed")


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    """The phase became ``new`` (from ``old``; None for the first report) at ``at`` (epoch s)."""

    old: Phase | None
    new: Phase
    at: float


@dataclass(frozen=True, slots=True)
class BlocksRead:
    """The Broadcaster read the controller's objects at ``at`` (epoch seconds)."""

    objects: tuple[SparkObject, ...]
    at: float


FeedEvent = PhaseChanged | BlocksRead
Listener = Callable[[FeedEvent], None]


class _Follower(FSM[str, None]):
    """Receives the connector's ``CurrentState``/``Transition`` and ``Objects`` messages."""

    def __init__(self, publish: Callable[[Phase | SparkObjects], None]) -> None:
        super().__init__()
        self.publish = publish
        self.start_with("following", None)
        self.when("following", self.following)

    def following(self, event: Event) -> NextState | None:
        match event:
            case Event(CurrentState(_, Phase() as now) | Transition(_, _, Phase() as now), _):
                self.publish(now)
                return stay()
            case Event(Objects(objects), _):
                self.publish(SparkObjects(objects))
                return stay()
        return None


@dataclass(frozen=True, slots=True)
class SparkObjects:
    """The objects of one broadcast, as the follower hands them on."""

    objects: tuple[SparkObject, ...]


class ConnectorFeed:
    """Follows one running connector and calls its listeners with every :data:`FeedEvent`."""

    def __init__(self, connector: Any) -> None:
        self._connector = connector
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = ()
        self.phase = Phase.DISCONNECTED
        """The latest phase reported."""
        self.since = time.time()
        """When the phase became :attr:`phase` (epoch seconds)."""
        self.blocks: BlocksRead | None = None
        """The latest broadcast, None before the first."""
        self._follower = _Follower.start(self._publish)
        connector.subscribe(self._follower)
        connector.subscribe_broadcasts(self._follower)

    def add_listener(self, listener: Listener) -> PhaseChanged:
        """Call ``listener`` with every event from now on; the present phase, as of then.

        Both happen at once: no change falls between the phase returned and
        the first event the listener gets.
        """
        with self._lock:
            self._listeners = (*self._listeners, listener)
            return PhaseChanged(None, self.phase, self.since)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        with self._lock:
            self._listeners = tuple(known for known in self._listeners if known != listener)

    def current(self) -> PhaseChanged:
        """The present phase, as the event that brought it."""
        with self._lock:
            return PhaseChanged(None, self.phase, self.since)

    def _publish(self, news: Phase | SparkObjects) -> None:
        now = time.time()
        with self._lock:
            if isinstance(news, Phase):
                if news is self.phase:
                    return  # a repeated CurrentState (a resubscription): no change
                event: FeedEvent = PhaseChanged(self.phase, news, now)
                self.phase, self.since = news, now
            else:
                event = self.blocks = BlocksRead(news.objects, now)
            listeners = self._listeners
        for listener in listeners:
            listener(event)

    def stop(self) -> None:
        """Stop following (the listeners are called no more)."""
        self._connector.unsubscribe(self._follower)
        self._follower.stop()
        with self._lock:
            self._listeners = ()
