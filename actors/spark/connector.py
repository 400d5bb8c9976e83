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
  ``CommandFailed`` (an error code), ``ProtocolFault`` or ``ConnectionLost``;
  on a connector that was stopped or gave up, at once with ``ConnectorStopped``.
- ``phase`` reads the current phase; ``wait_for(phase, timeout)`` blocks until
  it is reached (a transition subscription, not polling); ``subscribe(ref)``
  sends ``ref`` the phase's ``CurrentState`` and ``Transition`` messages;
  ``subscribe_broadcasts(ref)`` sends it the Broadcaster's ``Objects``. These
  subscriptions survive restarts of the actors (see :class:`Subscriptions`).
- ``stop()`` stops every actor, closes the port and joins its reader thread.

Supervision. The six actors are the children of one actorfsm ``Supervisor``
with an :data:`AllForOne` strategy (at most :data:`MAX_RESTARTS` restarts
within :data:`RESTART_WINDOW` seconds, each after a :data:`RESTART_BACKOFF`
wait). Why all for one: the actors' wiring lives in the publishers (the
PhaseTracker's subscribers, the Connection's listeners, the Commander's event
subscribers and timeout watchers), and each actor wires itself up in its
constructor. A restarted publisher alone would have forgotten its subscribers
and a fresh PhaseTracker would say DISCONNECTED over an open link; restarting
all of them, in start order, rebuilds the whole pipeline from DISCONNECTED,
which the phase rules (§2) already handle: the link is reopened and
re-synchronized.

The actors reach each other through stable refs: each gets a
:class:`SiblingRef` per sibling, which is bound to the sibling's ``ChildRef``
(``GetChild``) once the supervisor has started; what a constructor sends
before that (its subscriptions) is held and delivered in order when bound.
So a restarted actor is reached through the same ref, and messages sent while
it restarts wait for it.

Giving up. A discovery that includes USB and finds nothing
``max_attempts`` times in a row raises ``DiscoveryExhausted`` in the
Connection; the decider escalates it and the supervisor stops the actors and
gives up. So does exceeding the restart limit. Either way :attr:`failure` is
set, :attr:`exit_code` says what the program should exit with
(:data:`EXIT_DISCOVERY_EXHAUSTED` or :data:`EXIT_FAILED`) and ``on_failure``
(a ``start`` argument) is called.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, overload

import pykka
import structlog

from actorfsm import (
    FSM,
    AllForOne,
    Backoff,
    ChildRef,
    ChildSpec,
    CurrentState,
    Directive,
    Event,
    Failure,
    GetChild,
    Lifecycle,
    NextState,
    StopEvent,
    SubscribeTransitionCallBack,
    Supervisor,
    Transition,
    UnsubscribeTransitionCallBack,
    default_decider,
    stay,
    stop,
)
from actors.spark.broadcaster import Broadcaster, SubscribeBroadcasts
from actors.spark.commander import Commander, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Connection, SetAutoconnecting
from actors.spark.datastore import Datastore
from actors.spark.discovery import DiscoveryConfig, DiscoveryExhausted, check_device_url
from actors.spark.errors import ConnectorStopped
from actors.spark.phase import Phase, PhaseTracker, phase_of
from actors.spark.protocol import Reply, Request
from actors.spark.synchronizer import Synchronizer
from actors.spark.watchdog import Watchdog

log = structlog.get_logger("actors.spark.connector")

STOP_TIMEOUT = 5.0
"""Seconds ``stop`` waits for each actor."""

REPLY_MARGIN = 5.0
"""Seconds a blocking ``execute`` waits beyond the Commander's own deadlines (a safety net)."""

MAX_RESTARTS = 5
"""Restarts of the actors allowed within :data:`RESTART_WINDOW`; one more gives up."""

RESTART_WINDOW = 60.0
"""Seconds over which restarts are counted."""

RESTART_BACKOFF = Backoff(min=0.5, max=10.0, factor=2.0, jitter=0.2)
"""The wait before each restart: 0.5 s, doubling, at most 10 s (reset after 10 s running)."""

EXIT_FAILED = 1
"""``exit_code`` when the supervisor gave up for another reason (the restart limit)."""

EXIT_DISCOVERY_EXHAUSTED = 3
"""``exit_code`` when discovery including USB found no controller ``max_attempts`` times."""

CHILD_NAMES = ("phase", "connection", "commander", "synchronizer", "broadcaster", "watchdog")
"""The supervised actors, in start order."""


def decider(exc: BaseException) -> Directive:
    """Escalate an exhausted discovery (the connector gives up); otherwise the default."""
    if isinstance(exc, DiscoveryExhausted):
        return Directive.ESCALATE
    return default_decider(exc)


class SiblingRef:
    """A ref to a sibling actor whose ``ChildRef`` is known only after the supervisor started.

    The supervisor starts its children (runs their constructors) before it
    answers ``GetChild``, and the constructors already send to their
    siblings (subscriptions). Tells made before :meth:`bind` are held and
    delivered in order when it is called; afterwards ``tell``, ``ask`` and
    ``proxy`` go straight to the ``ChildRef``, which reaches the current
    incarnation.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._target: Any = None
        self._held: list[Any] = []

    def __repr__(self) -> str:
        return f"<SiblingRef {self.name!r} -> {self._target!r}>"

    def bind(self, target: Any) -> None:
        """Point at ``target`` (a ChildRef) and deliver what was held, in order."""
        with self._lock:
            for message in self._held:
                target.tell(message)
            self._held.clear()
            self._target = target

    def tell(self, message: Any) -> None:
        """Send ``message`` to the sibling (held until bound)."""
        with self._lock:
            if self._target is None:
                self._held.append(message)
                return
            target = self._target
        target.tell(message)

    def ask(self, message: Any, *, block: bool = True, timeout: float | None = None) -> Any:
        """Ask the sibling (only once bound)."""
        return self._bound().ask(message, block=block, timeout=timeout)

    def proxy(self) -> Any:
        """A proxy of the sibling's current incarnation (only once bound)."""
        return self._bound().proxy()

    def _bound(self) -> Any:
        with self._lock:
            target = self._target
        if target is None:
            msg = f"sibling {self.name!r} is not bound yet"
            raise RuntimeError(msg)
        return target


@dataclass(frozen=True, slots=True)
class _Waiting:
    """The waiter's data: the phase it waits for and the future to set when it comes."""

    phase: Phase
    future: pykka.Future[Phase]


@dataclass(frozen=True, slots=True)
class Remember:
    """Received by the :class:`Subscriptions`: subscribe ``ref`` to ``child`` and keep it so."""

    child: Literal["phase", "broadcaster"]
    ref: Any


@dataclass(frozen=True, slots=True)
class Forget:
    """Received by the :class:`Subscriptions`: end ``ref``'s subscription to ``child``."""

    child: Literal["phase", "broadcaster"]
    ref: Any


@dataclass(frozen=True, slots=True)
class _Subscribers:
    """The clients' subscriptions: refs subscribed to the phase and to the broadcasts."""

    phase: tuple[Any, ...] = ()
    broadcaster: tuple[Any, ...] = ()


class Subscriptions(FSM[str, _Subscribers]):
    """Keeps the clients' subscriptions across restarts of the actors.

    A restarted PhaseTracker or Broadcaster has forgotten its subscribers.
    This actor (outside the supervised tree) follows the supervisor's
    lifecycle transitions and subscribes the clients' refs again whenever that
    child is RUNNING; they get a fresh ``CurrentState`` (DISCONNECTED after a
    restart), so they see the restart. Subscribing twice is harmless: both
    keep their subscribers in sets. Stopping, it unsubscribes, so the
    supervisor stopping after it has nobody dead to warn about.
    """

    def __init__(self, supervisor: Any, children: dict[str, Any]) -> None:
        super().__init__()
        self.supervisor = supervisor
        self.children = children
        self.start_with("keeping", _Subscribers())
        self.when("keeping", self.keeping)
        self.on_termination(self.unsubscribe)
        supervisor.tell(SubscribeTransitionCallBack(self.actor_ref))

    def unsubscribe(self, event: StopEvent) -> None:
        with contextlib.suppress(pykka.ActorDeadError):  # it gave up and stopped first
            self.supervisor.tell(UnsubscribeTransitionCallBack(self.actor_ref))

    def keeping(self, event: Event) -> NextState | None:
        match event:
            case Event(Remember(child, ref), _Subscribers() as subs):
                self.children[child].tell(self.subscribe_message(child, ref))
                refs = getattr(subs, child)
                if ref in refs:
                    return stay()
                return stay().using(replace(subs, **{child: (*refs, ref)}))
            case Event(Forget(child, ref), _Subscribers() as subs):
                if child == "phase":
                    self.children[child].tell(UnsubscribeTransitionCallBack(ref))
                refs = tuple(r for r in getattr(subs, child) if r != ref)
                return stay().using(replace(subs, **{child: refs}))
            case Event(
                Transition(ChildRef(name="phase" | "broadcaster" as child), _, Lifecycle.RUNNING),
                _Subscribers() as subs,
            ):
                alive = tuple(r for r in getattr(subs, child) if getattr(r, "is_alive", _yes)())
                for ref in alive:
                    self.children[child].tell(self.subscribe_message(child, ref))
                return stay().using(replace(subs, **{child: alive}))
            case Event(CurrentState() | Transition(), _):
                return stay()
        return None

    @staticmethod
    def subscribe_message(child: str, ref: Any) -> Any:
        if child == "phase":
            return SubscribeTransitionCallBack(ref)
        return SubscribeBroadcasts(ref)


def _yes() -> bool:
    return True


class PhaseWaiter(FSM[str, _Waiting]):
    """A one-shot subscriber: sets its future when the tracker reaches a phase, then stops.

    It subscribes through the :class:`Subscriptions` (``registry``), so a
    restart of the actors while it waits does not lose it.
    """

    def __init__(self, registry: Any, phase: Phase, future: pykka.Future[Phase]) -> None:
        super().__init__()
        self.registry = registry
        self.start_with("waiting", _Waiting(phase, future))
        self.when("waiting", self.waiting)
        registry.tell(Remember("phase", self.actor_ref))

    def waiting(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase() as now) | Transition(_, _, Phase() as now),
                _Waiting(phase, future),
            ) if now is phase:
                self.registry.tell(Forget("phase", self.actor_ref))
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
        on_failure: Callable[[BaseException], None] | None,
        discovery: DiscoveryConfig | None = None,
    ) -> None:
        self.config = config
        self.datastore = datastore
        self._owns_datastore = owns_datastore
        self._on_failure = on_failure
        self._refs: dict[str, Any] = {}
        self.supervisor: Any = None
        self._subscriptions: Any = None
        """The supervisor's ``ActorRef`` (ask it ``GetChildStatus(name)``)."""
        self.failure: BaseException | None = None
        """Why the supervisor gave up (None while it has not)."""
        self.failed = threading.Event()
        """Set when the supervisor has given up; the actors are stopped by then."""
        self._stopped = threading.Event()
        """Set when :meth:`stop` was called: commands fail at once from then on."""
        self.target = config.device_url or f"discovery:{(discovery or DiscoveryConfig()).mode}"
        """What the connector connects to, for logs: the URL or the discovery mode."""

    @classmethod
    def start(
        cls,
        config: ConnectorConfig,
        datastore: Datastore | None = None,
        *,
        discovery: DiscoveryConfig | None = None,
        allow_any_url: bool = False,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> SparkConnector:
        """Start the actors for ``config``; the datastore is opened from ``config`` if not given.

        ``config.device_url`` must be a device path or ``socket://host:port``
        (``ValueError`` otherwise, unless ``allow_any_url``); without one the
        controller is found by ``discovery`` (default: USB, then no TCP hosts).
        ``on_failure(cause)`` is called, in the supervisor's thread, if the
        supervisor gives up (see the module docstring).

        Start order follows who needs whom (each constructor gets the refs it
        talks to and subscribes itself): PhaseTracker, Connection, Commander,
        Synchronizer, Broadcaster, Watchdog. A greeting that arrives before the
        Commander listens is lost; the Synchronizer's Noop prompting makes the
        controller send another.
        """
        if config.device_url is not None:
            check_device_url(config.device_url, allow_any=allow_any_url)
        owns = datastore is None
        store = Datastore(config.datastore) if datastore is None else datastore
        connector = cls(config, store, owns, on_failure, discovery)
        sib = {name: SiblingRef(name) for name in CHILD_NAMES}
        phase, connection, commander = sib["phase"], sib["connection"], sib["commander"]
        specs = [
            ChildSpec("phase", PhaseTracker),
            ChildSpec("connection", Connection, args=(config, store, phase, discovery)),
            ChildSpec("commander", Commander, args=(config, phase, connection)),
            ChildSpec(
                "synchronizer",
                Synchronizer,
                args=(config, store, phase, commander, connection),
            ),
            ChildSpec("broadcaster", Broadcaster, args=(config, phase, commander)),
            ChildSpec("watchdog", Watchdog, args=(config, phase, commander, connection)),
        ]
        strategy = AllForOne(
            max_restarts=MAX_RESTARTS,
            within=RESTART_WINDOW,
            decider=decider,
            backoff=RESTART_BACKOFF,
        )
        supervisor = Supervisor.start(strategy, specs, on_give_up=connector._gave_up)
        connector.supervisor = supervisor
        for name in CHILD_NAMES:
            child = supervisor.ask(GetChild(name), timeout=STOP_TIMEOUT)
            sib[name].bind(child)
            connector._refs[name] = child
        connector._subscriptions = Subscriptions.start(supervisor, connector.refs)
        log.info("connector_started", url=connector.target)
        return connector

    def _gave_up(self, reason: Failure) -> None:
        """The supervisor's ``on_give_up``: remember why, log it once, tell the owner."""
        cause = reason.cause if isinstance(reason.cause, BaseException) else RuntimeError(reason)
        self.failure = cause
        if isinstance(cause, DiscoveryExhausted):
            log.error(
                "discovery_exhausted",
                mode=cause.mode,
                attempts=cause.attempts,
                exit_code=EXIT_DISCOVERY_EXHAUSTED,
            )
        else:
            log.error("connector_failed", error=repr(cause), exit_code=EXIT_FAILED)
        self.failed.set()
        if self._on_failure is not None:
            self._on_failure(cause)

    @property
    def exit_code(self) -> int:
        """0 while running or after a clean stop; else ``EXIT_DISCOVERY_EXHAUSTED`` or
        ``EXIT_FAILED``."""
        if self.failure is None:
            return 0
        if isinstance(self.failure, DiscoveryExhausted):
            return EXIT_DISCOVERY_EXHAUSTED
        return EXIT_FAILED

    @property
    def refs(self) -> dict[str, Any]:
        """The actors' ``ChildRef`` s by name: ``phase``, ``connection``, ``commander``,
        ``synchronizer``, ``broadcaster``, ``watchdog`` (stable across restarts)."""
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
        if self._stopped.is_set() or self.failed.is_set():
            why = "was stopped" if self._stopped.is_set() else f"gave up ({self.failure!r})"
            msg = f"the connector to {self.target} {why}; {request!r} was not sent"
            raise ConnectorStopped(msg)
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
        waiter = PhaseWaiter.start(self._subscriptions, phase, future)
        try:
            future.get(timeout=timeout)
        except pykka.Timeout:
            self._subscriptions.tell(Forget("phase", waiter))
            waiter.stop(block=False)
            msg = f"phase {phase.name} not reached within {timeout} s (now {self.phase.name})"
            raise TimeoutError(msg) from None

    def subscribe(self, ref: Any) -> None:
        """Send ``ref`` the phase's ``CurrentState`` now and a ``Transition`` on every change."""
        self._subscriptions.tell(Remember("phase", ref))

    def subscribe_broadcasts(self, ref: Any) -> None:
        """Send ``ref`` the controller's ``Objects`` every broadcast interval while synchronized."""
        self._subscriptions.tell(Remember("broadcaster", ref))

    def unsubscribe(self, ref: Any) -> None:
        """End a :meth:`subscribe`."""
        self._subscriptions.tell(Forget("phase", ref))

    def set_autoconnecting(self, enabled: bool) -> None:
        """Persist ``autoconnecting``; false drops the link and stops connecting."""
        self._refs["connection"].tell(SetAutoconnecting(enabled))

    def stop(self) -> None:
        """Stop the supervisor, which stops every actor (newest first, each waited for);
        the Connection closes its port and joins its reader."""
        self._stopped.set()
        self._subscriptions.stop(block=True, timeout=STOP_TIMEOUT)
        try:
            self.supervisor.stop(block=True, timeout=STOP_TIMEOUT * (len(CHILD_NAMES) + 1))
        except pykka.Timeout:
            log.warning("actor_not_stopped", actor="supervisor")
        except pykka.ActorDeadError:
            pass  # it gave up and stopped already
        if self._owns_datastore:
            self.datastore.close()
        log.info("connector_stopped", url=self.target)
