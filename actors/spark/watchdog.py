"""The Watchdog: a command timed out while synchronized; is the controller still there?

When the Commander reports a timed-out command (``CommandTimedOut``) while the
phase is SYNCHRONIZED, the Watchdog sends one Noop (one check at a time:
further timeouts during the check are ignored). If the Noop is answered, all
is well; if it fails too, the Watchdog closes the connection so the
Connection reconnects. This catches an unplugged USB cable, where writes
succeed and nothing is ever read (rather than restarting the whole service
after 60 s of failed broadcasts).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

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
)
from actors.spark.commander import CommandDone, CommandTimedOut, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Close
from actors.spark.phase import Phase
from actors.spark.protocol import Noop
from actors.spark.topics import Subscribe, Topic

log = structlog.get_logger("actors.spark.watchdog")


class WatchState(enum.Enum):
    """Not synchronized (IDLE), watching for timeouts (WATCHING), or checking with a Noop."""

    IDLE = enum.auto()
    WATCHING = enum.auto()
    CHECKING = enum.auto()


@dataclass(frozen=True, slots=True)
class Check:
    """The Watchdog's data: how many checks it has made (the tag of the current one)."""

    checks: int = 0


class Watchdog(FSM[WatchState, Check]):
    """Checks the controller with a Noop after a command timeout; closes the link if it is gone."""

    def __init__(
        self, config: ConnectorConfig, phase: Ref, commander: Ref, connection: Ref
    ) -> None:
        super().__init__()
        self.config = config
        self.commander = commander
        self.connection = connection
        self.start_with(WatchState.IDLE, Check())
        self.when(WatchState.IDLE, self.idle)
        self.when(WatchState.WATCHING, self.watching)
        self.when(WatchState.CHECKING, self.checking)
        self.when_unhandled(self.any_state)
        phase.tell(SubscribeTransitionCallBack(self.actor_ref))
        commander.tell(Subscribe(Topic.TIMEOUTS, self.actor_ref))

    def idle(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase.SYNCHRONIZED) | Transition(_, _, Phase.SYNCHRONIZED), _
            ):
                return goto(WatchState.WATCHING)
        return None

    def watching(self, event: Event) -> NextState | None:
        match event:
            case Event(CommandTimedOut(request), Check(checks)):
                log.info("watchdog_check", timed_out=request)
                tag = checks + 1
                self.commander.tell(Execute(Noop(), self.actor_ref, internal=True, tag=tag))
                return goto(WatchState.CHECKING).using(Check(tag))
        return None

    def checking(self, event: Event) -> NextState | None:
        match event:
            case Event(CommandDone(tag, _, _, None), Check(checks)) if tag == checks:
                log.info("watchdog_check_passed")
                return goto(WatchState.WATCHING)
            case Event(CommandDone(tag, _, _, error), Check(checks)) if tag == checks:
                log.warning("watchdog_closing", error=str(error))
                self.connection.tell(Close("the controller does not answer a Noop"))
                return goto(WatchState.IDLE)
        return None

    def any_state(self, event: Event) -> NextState | None:
        match event:
            case Event(Transition(_, _, phase), _) if phase is not Phase.SYNCHRONIZED:
                return goto(WatchState.IDLE)
            case Event(CommandTimedOut() | CommandDone() | CurrentState() | Transition(), _):
                return stay()  # not synchronized, a check already running, or stale
        return None
