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
with a ``RestForOne`` strategy (at most :data:`MAX_RESTARTS` restarts within
:data:`RESTART_WINDOW` seconds, each after a :data:`RESTART_BACKOFF` wait),
started in dependency order (:data:`CHILD_NAMES`): each actor comes after the
actors it subscribes to. A failed actor is restarted with the actors after
it, which subscribed to it: a restarted publisher has forgotten its
subscribers, and they subscribe again as they start, each told the
publisher's current state at once (the phase's ``CurrentState``, the open
link's ``Linked``). The actors before it keep running: a Watchdog failure
restarts the Watchdog alone, never a healthy link. A Connection that stops
with its link open drops the phase to DISCONNECTED, so its successor finds
the phase rules where a fresh link starts.

The actors reach each other through the supervisor's stable ``ChildRef`` s,
given to their constructors as ``sibling(name)`` placeholders: a restarted
actor is reached through the same ref, and messages sent while it restarts
wait for it.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, overload

import pykka
import structlog

from actorfsm import (
    FSM,
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
    Ref,
    RestForOne,
    StopEvent,
    SubscribeTransitionCallBack,
    Supervisor,
    Transition,
    UnsubscribeTransitionCallBack,
    default_decider,
    sibling,
    stay,
    stop,
)
from actors.spark.broadcaster import Broadcaster
from actors.spark.commander import Commander, Execute
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Connection, SetAutoconnecting
from actors.spark.datastore import Datastore
from actors.spark.discovery import DiscoveryConfig, DiscoveryExhausted, check_device_url
from actors.spark.errors import ConnectorStopped
from actors.spark.phase import Phase, PhaseTracker, phase_of
from actors.spark.protocol import Reply, Request
from actors.spark.synchronizer import Synchronizer
from actors.spark.topics import Subscribe, Topic
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
"""The supervised actors, in start order: each after the actors it subscribes to."""


def decider(exc: BaseException) -> Directive:
    """Escalate an exhausted discovery (the connector gives up); otherwise the default."""
    if isinstance(exc, DiscoveryExhausted):
        return Directive.ESCALATE
    return default_decider(exc)


@dataclass(frozen=True, slots=True)
class _Waiting:
    """The waiter's data: the phase it waits for and the future to set when it comes."""

    phase: Phase
    future: pykka.Future[Phase]


@dataclass(frozen=True, slots=True)
class Feed:
    """What clients subscribe to: the child that publishes it, and how to (un)subscribe a ref.

    Every feed is a child name and two message constructors (the phase's
    transition subscription, or a ``Subscribe(topic, ref)``), so keeping
    subscriptions across restarts is the same code for each.
    """

    child: str
    subscribe: Callable[[Any], object]
    unsubscribe: Callable[[Any], object] | None = None


PHASE = Feed("phase", SubscribeTransitionCallBack, UnsubscribeTransitionCallBack)
"""The phase's ``CurrentState`` and ``Transition`` messages."""

BROADCASTS = Feed("broadcaster", partial(Subscribe, Topic.BROADCASTS))
"""The Broadcaster's ``Objects``."""


@dataclass(frozen=True, slots=True)
class Remember:
    """Received by the :class:`Subscriptions`: subscribe ``ref`` to ``feed`` and keep it so."""

    feed: Feed
    ref: Ref


@dataclass(frozen=True, slots=True)
class Forget:
    """Received by the :class:`Subscriptions`: end ``ref``'s subscription to ``feed``."""

    feed: Feed
    ref: Ref


Subscribers = Mapping[Feed, tuple[Any, ...]]
"""The clients' refs, by feed."""


class Subscriptions(FSM[str, Subscribers]):
    """Keeps the clients' subscriptions across restarts of the actors.

    A restarted publisher (the PhaseTracker, the Broadcaster) has forgotten
    its subscribers. This actor (outside the supervised tree) follows the
    supervisor's lifecycle transitions and subscribes the clients' refs again
    whenever a feed's child is RUNNING; they get a fresh ``CurrentState``
    (DISCONNECTED after a restart), so they see the restart. Subscribing
    twice is harmless: publishers keep one entry per ref. Stopping, it
    unsubscribes, so the supervisor stopping after it has nobody dead to warn
    about.
    """

    def __init__(self, supervisor: Ref, children: Mapping[str, Ref]) -> None:
        super().__init__()
        self.supervisor = supervisor
        self.children = children
        self.feeds = {feed.child: feed for feed in (PHASE, BROADCASTS)}
        self.start_with("keeping", {})
        self.when("keeping", self.keeping)
        self.on_termination(self.unsubscribe)
        supervisor.tell(SubscribeTransitionCallBack(self.actor_ref))

    def unsubscribe(self, event: StopEvent) -> None:
        with contextlib.suppress(pykka.ActorDeadError):  # it gave up and stopped first
            self.supervisor.tell(UnsubscribeTransitionCallBack(self.actor_ref))

    def keeping(self, event: Event) -> NextState | None:
        match event:
            case Event(Remember(feed, ref), subs):
                self.children[feed.child].tell(feed.subscribe(ref))
                refs = subs.get(feed, ())
                return stay() if ref in refs else stay().using({**subs, feed: (*refs, ref)})
            case Event(Forget(feed, ref), subs):
                if feed.unsubscribe is not None:
                    self.children[feed.child].tell(feed.unsubscribe(ref))
                refs = tuple(r for r in subs.get(feed, ()) if r != ref)
                return stay().using({**subs, feed: refs})
            case Event(Transition(ChildRef(name=child), _, Lifecycle.RUNNING), subs) if (
                child in self.feeds
            ):
                feed = self.feeds[child]
                alive = tuple(r for r in subs.get(feed, ()) if _alive(r))
                for ref in alive:
                    self.children[child].tell(feed.subscribe(ref))
                return stay().using({**subs, feed: alive})
            case Event(CurrentState() | Transition(), _):
                return stay()
        return None


def _alive(ref: Ref) -> bool:
    """Whether a subscriber may still receive (a ref without ``is_alive`` is kept)."""
    is_alive = getattr(ref, "is_alive", None)
    return True if is_alive is None else bool(is_alive())


class PhaseWaiter(FSM[str, _Waiting]):
    """A one-shot subscriber: sets its future when the tracker reaches a phase, then stops.

    It subscribes through the :class:`Subscriptions` (``registry``), so a
    restart of the actors while it waits does not lose it.
    """

    def __init__(self, registry: Ref, phase: Phase, future: pykka.Future[Phase]) -> None:
        super().__init__()
        self.registry = registry
        self.start_with("waiting", _Waiting(phase, future))
        self.when("waiting", self.waiting)
        registry.tell(Remember(PHASE, self.actor_ref))

    def waiting(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase() as now) | Transition(_, _, Phase() as now),
                _Waiting(phase, future),
            ) if now is phase:
                self.registry.tell(Forget(PHASE, self.actor_ref))
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
        phase, connection, commander = sibling("phase"), sibling("connection"), sibling("commander")
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
        strategy = RestForOne(
            max_restarts=MAX_RESTARTS,
            within=RESTART_WINDOW,
            decider=decider,
            backoff=RESTART_BACKOFF,
        )
        supervisor = Supervisor.start(strategy, specs, on_give_up=connector._gave_up)
        connector.supervisor = supervisor
        for name in CHILD_NAMES:
            connector._refs[name] = supervisor.ask(GetChild(name), timeout=STOP_TIMEOUT)
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
            self._subscriptions.tell(Forget(PHASE, waiter))
            waiter.stop(block=False)
            msg = f"phase {phase.name} not reached within {timeout} s (now {self.phase.name})"
            raise TimeoutError(msg) from None

    def subscribe(self, ref: Ref) -> None:
        """Send ``ref`` the phase's ``CurrentState`` now and a ``Transition`` on every change."""
        self._subscriptions.tell(Remember(PHASE, ref))

    def subscribe_broadcasts(self, ref: Ref) -> None:
        """Send ``ref`` the controller's ``Objects`` every broadcast interval while synchronized."""
        self._subscriptions.tell(Remember(BROADCASTS, ref))

    def unsubscribe(self, ref: Ref) -> None:
        """End a :meth:`subscribe`."""
        self._subscriptions.tell(Forget(PHASE, ref))

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
