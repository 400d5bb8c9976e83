"""The client API of the Spark connector: start the actors, run commands, watch the phase.

``SparkConnector.start(config)`` starts the cooperating actors (PhaseTracker,
Connection, Commander, Synchronizer, Broadcaster, Watchdog) and returns a
:class:`SparkConnector`:

- ``execute(request, *, block=True, timeout=None)`` mirrors pykka's ``ask``:
  the reply (``Ack``, ``ObjectReply``...), or with ``block=False`` a pykka
  ``Future`` of it. It fails with a :class:`~actors.spark.errors.SparkError`:
  ``NotConnected`` when the controller was not synchronized within
  ``timeout`` (default ``command_timeout``), ``CommandTimeout`` when it did not
  answer within ``timeout`` after the command was sent, ``IncompatibleFirmware``,
  ``CommandFailed`` (an error code), ``ProtocolFault`` or ``ConnectionLost``.
- ``phase`` reads the current phase; ``wait_for(phase, timeout)`` blocks until
  it is reached (a transition subscription, not polling); ``subscribe(ref)``
  sends ``ref`` the phase's ``CurrentState`` and ``Transition`` messages;
  ``subscribe_broadcasts(ref)`` sends it the Broadcaster's ``Objects``.
- ``stop()`` stops every actor, closes the port and joins its reader thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, overload

import pykka
import structlog

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    NextState,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
    stay,
    stop,
)
from actors.spark.broadcaster import Broadcaster, SubscribeBroadcasts
from actors.spark.commander import Commander, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Connection, SetAutoconnecting
from actors.spark.datastore import Datastore
from actors.spark.phase import Phase, PhaseTracker, phase_of
from actors.spark.protocol import Reply, Request
from actors.spark.synchronizer import Synchronizer
from actors.spark.watchdog import Watchdog

log = structlog.get_logger("actors.spark.connector")

STOP_TIMEOUT = 5.0
"""Seconds ``stop`` waits for each actor."""

REPLY_MARGIN = 5.0
"""Seconds a blocking ``execute`` waits beyond the Commander's own deadlines (a safety net)."""


@dataclass(frozen=True, slots=True)
class _Waiting:
    """The waiter's data: the phase it waits for and the future to set when it comes."""

    phase: Phase
    future: pykka.Future[Phase]


class PhaseWaiter(FSM[str, _Waiting]):
    """A one-shot subscriber: sets its future when the tracker reaches a phase, then stops."""

    def __init__(self, tracker: Any, phase: Phase, future: pykka.Future[Phase]) -> None:
        super().__init__()
        self.tracker = tracker
        self.start_with("waiting", _Waiting(phase, future))
        self.when("waiting", self.waiting)
        tracker.tell(SubscribeTransitionCallBack(self.actor_ref))

    def waiting(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase() as now) | Transition(_, _, Phase() as now),
                _Waiting(phase, future),
            ) if now is phase:
                self.tracker.tell(UnsubscribeTransitionCallBack(self.actor_ref))
                future.set(now)
                return stop()
            case Event(CurrentState() | Transition(), _):
                return stay()
        return None


class SparkConnector:
    """A running connector; make one with :meth:`start`."""

    def __init__(
        self,
        config: ConnectorConfig,
        datastore: Datastore,
        owns_datastore: bool,
        refs: dict[str, Any],
    ) -> None:
        self.config = config
        self.datastore = datastore
        self._owns_datastore = owns_datastore
        self._refs = refs

    @classmethod
    def start(cls, config: ConnectorConfig, datastore: Datastore | None = None) -> SparkConnector:
        """Start the actors for ``config``; the datastore is opened from ``config`` if not given.

        Start order follows who needs whom (each constructor gets the refs it
        talks to and subscribes itself): PhaseTracker, Connection, Commander,
        Synchronizer, Broadcaster, Watchdog. A greeting that arrives before the Commander listens is
        lost; the Synchronizer's Noop prompting makes the controller send another.
        """
        owns = datastore is None
        store = Datastore(config.datastore) if datastore is None else datastore
        # --- SUPERVISION GOES HERE -----------------------------------------------
        # Plain starts for now. With actorfsm's Supervisor these become ChildSpecs
        # (OneForOne, Backoff) in this order, and the refs passed to constructors
        # become ChildRefs (stable across restarts); each actor re-subscribes in
        # its constructor, so a restarted incarnation wires itself up again.
        phase = PhaseTracker.start()
        connection = Connection.start(config, store, phase)
        commander = Commander.start(config, phase, connection)
        synchronizer = Synchronizer.start(config, store, phase, commander, connection)
        broadcaster = Broadcaster.start(config, phase, commander)
        watchdog = Watchdog.start(config, phase, commander, connection)
        # ---------------------------------------------------------------------------
        refs = {
            "phase": phase,
            "connection": connection,
            "commander": commander,
            "synchronizer": synchronizer,
            "broadcaster": broadcaster,
            "watchdog": watchdog,
        }
        log.info("connector_started", url=config.device_url)
        return cls(config, store, owns, refs)

    @property
    def refs(self) -> dict[str, Any]:
        """The actors by name: ``phase``, ``connection``, ``commander``, ``synchronizer``,
        ``broadcaster``, ``watchdog``."""
        return dict(self._refs)

    @overload
    def execute(
        self, request: Request, *, block: Literal[True] = True, timeout: float | None = None
    ) -> Reply | None: ...

    @overload
    def execute(
        self, request: Request, *, block: Literal[False], timeout: float | None = None
    ) -> pykka.Future[Reply | None]: ...

    def execute(
        self, request: Request, *, block: bool = True, timeout: float | None = None
    ) -> Reply | pykka.Future[Reply | None] | None:
        """Run ``request`` on the controller; see the module docstring for the errors."""
        future: pykka.Future[Reply | None] = pykka.ThreadingFuture()
        self._refs["commander"].tell(Execute(request, future, timeout))
        if not block:
            return future
        seconds = self.config.command_timeout if timeout is None else timeout
        return future.get(timeout=2 * seconds + REPLY_MARGIN)

    @property
    def phase(self) -> Phase:
        """The current phase."""
        return phase_of(self._refs["phase"])

    def wait_for(self, phase: Phase, timeout: float) -> None:
        """Block until the phase is ``phase``; ``TimeoutError`` if it is not within ``timeout``."""
        future: pykka.Future[Phase] = pykka.ThreadingFuture()
        waiter = PhaseWaiter.start(self._refs["phase"], phase, future)
        try:
            future.get(timeout=timeout)
        except pykka.Timeout:
            waiter.stop(block=False)
            msg = f"phase {phase.name} not reached within {timeout} s (now {self.phase.name})"
            raise TimeoutError(msg) from None

    def subscribe(self, ref: Any) -> None:
        """Send ``ref`` the phase's ``CurrentState`` now and a ``Transition`` on every change."""
        self._refs["phase"].tell(SubscribeTransitionCallBack(ref))

    def subscribe_broadcasts(self, ref: Any) -> None:
        """Send ``ref`` the controller's ``Objects`` every broadcast interval while synchronized."""
        self._refs["broadcaster"].tell(SubscribeBroadcasts(ref))

    def unsubscribe(self, ref: Any) -> None:
        """End a :meth:`subscribe`."""
        self._refs["phase"].tell(UnsubscribeTransitionCallBack(ref))

    def set_autoconnecting(self, enabled: bool) -> None:
        """Persist ``autoconnecting``; false drops the link and stops connecting."""
        self._refs["connection"].tell(SetAutoconnecting(enabled))

    def stop(self) -> None:
        """Stop every actor (newest first); the Connection closes its port and joins its reader."""
        for name in reversed(self._refs):
            ref = self._refs[name]
            try:
                ref.stop(block=True, timeout=STOP_TIMEOUT)
            except pykka.Timeout:
                log.warning("actor_not_stopped", actor=name)
        if self._owns_datastore:
            self.datastore.close()
        log.info("connector_stopped", url=self.config.device_url)
