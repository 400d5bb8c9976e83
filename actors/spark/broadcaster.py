"""The Broadcaster: while synchronized, reads the controller's objects and publishes them.

Every ``broadcast_interval`` (and at once on SYNCHRONIZED) it sends one
LIST_OBJECTS through the Commander, never more than one at a time, and tells
each subscriber of ``Topic.BROADCASTS`` :class:`Objects`; a new
subscriber is told the objects last read (while synchronized) at once, as a
phase subscriber is told the ``CurrentState``. It only
reports: a failed read is logged once per streak (``broadcast_failed``, then
``broadcast_failed_repeated`` with the count when a read succeeds again). Its
steady traffic is what makes a silent controller visible: those commands time
out and the Watchdog acts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

import structlog

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    NextState,
    Ref,
    SubscribeTransitionCallBack,
    Transition,
    goto,
    stay,
    tell_each,
)
from actors.spark.commander import CommandDone, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.phase import Phase
from actors.spark.protocol import ListObjects, ObjectListReply, SparkObject
from actors.spark.topics import Subscribe, Topic

log = structlog.get_logger("actors.spark.broadcaster")


class CastState(enum.Enum):
    """Whether the controller is synchronized (ACTIVE) or not (IDLE)."""

    IDLE = enum.auto()
    ACTIVE = enum.auto()


@dataclass(frozen=True, slots=True)
class Objects:
    """Told to subscribers: the controller's objects as last read."""

    objects: tuple[SparkObject, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """Timer: time to read the objects again."""


TICK_TIMER = "broadcast"


@dataclass(frozen=True, slots=True)
class CastData:
    """Subscribers, the objects last read while synchronized, whether a read is in flight
    (its tag), and the current failure streak."""

    subscribers: tuple[Any, ...] = ()
    last: Objects | None = None
    in_flight: int | None = None
    reads: int = 0
    failures: int = 0


class Broadcaster(FSM[CastState, CastData]):
    """Publishes the controller's objects every interval while synchronized."""

    def __init__(self, config: ConnectorConfig, phase: Ref, commander: Ref) -> None:
        super().__init__()
        self.config = config
        self.commander = commander
        self.start_with(CastState.IDLE, CastData())
        self.when(CastState.IDLE, self.idle)
        self.when(CastState.ACTIVE, self.active)
        self.when_unhandled(self.any_state)
        phase.tell(SubscribeTransitionCallBack(self.actor_ref))

    def idle(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase.SYNCHRONIZED) | Transition(_, _, Phase.SYNCHRONIZED),
                CastData() as data,
            ):
                interval = self.config.broadcast_interval
                self.start_timer_with_fixed_delay(TICK_TIMER, Tick(), interval)
                return goto(CastState.ACTIVE).using(self.read(data))
        return None

    def active(self, event: Event) -> NextState | None:
        match event:
            case Event(Tick(), CastData(in_flight=None) as data):
                return stay().using(self.read(data))
            case Event(Transition(_, _, phase), CastData() as data) if (
                phase is not Phase.SYNCHRONIZED
            ):
                self.cancel_timer(TICK_TIMER)
                return goto(CastState.IDLE).using(replace(data, in_flight=None, last=None))
        return None

    def any_state(self, event: Event) -> NextState | None:
        match event:
            case Event(Subscribe(Topic.BROADCASTS, ref), CastData() as data) if (
                ref not in data.subscribers
            ):
                subscribers = (*data.subscribers, ref)
                if data.last is not None:
                    subscribers = (*data.subscribers, *tell_each([ref], data.last))
                return stay().using(replace(data, subscribers=subscribers))
            case Event(CommandDone(tag, _, reply, error), CastData() as data) if (
                tag == data.in_flight
            ):
                return stay().using(self.done(replace(data, in_flight=None), reply, error))
            case Event(Tick() | CommandDone() | Subscribe() | CurrentState() | Transition(), _):
                return stay()  # a read still in flight, a stale answer, no change
        return None

    def read(self, data: CastData) -> CastData:
        """Send one LIST_OBJECTS; its answer comes back as ``CommandDone`` with the read's tag."""
        tag = data.reads + 1
        self.commander.tell(Execute(ListObjects(), self.actor_ref, tag=tag))
        return replace(data, in_flight=tag, reads=tag)

    def done(self, data: CastData, reply: Any, error: Exception | None) -> CastData:
        if isinstance(reply, ObjectListReply):
            if data.failures > 1:
                log.warning("broadcast_failed_repeated", count=data.failures)
            objects = Objects(reply.objects)
            alive = tell_each(data.subscribers, objects)
            return replace(data, failures=0, subscribers=alive, last=objects)
        if data.failures == 0:
            log.warning("broadcast_failed", error=str(error))
        return replace(data, failures=data.failures + 1)
