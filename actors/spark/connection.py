"""The Connection: opens the transport, writes, notices when the link is gone, and reconnects.

States: PAUSED (``autoconnecting`` is false: never connects), WAITING (the
backoff timer runs until the next attempt), DISCOVERING (a
:class:`~actors.spark.discovery.Discoverer` thread lists the candidate ports),
OPENING (a reader thread is opening the port) and OPEN. All blocking I/O
happens on those threads.

With ``device_url`` configured the Connection opens that URL; without one it
discovers the controller (:mod:`actors.spark.discovery`): each attempt is a
round that lists the candidates (USB ports by VID:PID, then the configured TCP
hosts) and tries them in order. A round in which none opens is one failure of
the backoff; ``max_attempts`` consecutive failed rounds, when the discovery
mode includes USB, raise :class:`~actors.spark.discovery.DiscoveryExhausted`
from the handler, which the connector's supervisor escalates (the program
exits so a restart can see new USB devices). TCP-only discovery never gives up.

EOF, an OS error or a write error drops the link: the port is closed and
the PhaseTracker is told DISCONNECTED. Reconnecting backs off the way gRPC
and Kafka clients do: the interval is the least time between the *starts*
of two attempts (``reconnect_min``, times ``reconnect_factor`` per failed
attempt, at most ``reconnect_max``; back to ``reconnect_min`` when a port
opens). So a link that was up longer than the interval is reopened at once
when it drops (a blip or a controller restart costs only the reconnection),
while a controller that accepts and hangs up is tried at most once per
interval: nothing spins. An attempt that itself outlasted the interval (a
slow connect) is followed at once by the next. The interval is persisted in
the datastore so a restarted program keeps backing off. A streak of failed
opens is logged once (``connect_failed``) and summarised when it ends
(``connect_failed_repeated`` with its count). ``Close(reason)`` drops the link
on purpose (Watchdog, setup mode, a failed sync) and reconnects the same way.

The Connection is the port's owner, not its conduit: every listener
subscribed to ``Topic.LINK`` (the Commander) is told :class:`Linked` with
the open port and writes to it itself (a write on a pty or socket is quick,
bounded by the reader's write timeout), and the reader thread sends it the
bytes it reads as :class:`~actors.spark.reader.Received`. So a command and its
answer cross no actor but the Commander. A writer that fails tells the
Connection :class:`WriteFailed`, which drops the link.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, replace
from typing import Any

import structlog

from actorfsm import FSM, Event, Failure, NextState, Ref, StopEvent, goto, stay, tell_each
from actors.spark.config import ConnectorConfig
from actors.spark.datastore import Datastore
from actors.spark.discovery import Discovered, Discoverer, DiscoveryConfig, DiscoveryExhausted
from actors.spark.phase import Phase, RequestPhase
from actors.spark.reader import Opened, OpenFailed, PortReader, ReadFailed
from actors.spark.topics import Subscribe, Topic

log = structlog.get_logger("actors.spark.connection")

READER_JOIN = 2.0
"""Seconds ``stop`` waits for the reader thread to close its port."""


class LinkState(enum.Enum):
    """Where the Connection is with its port."""

    PAUSED = enum.auto()
    WAITING = enum.auto()
    DISCOVERING = enum.auto()
    OPENING = enum.auto()
    OPEN = enum.auto()


@dataclass(frozen=True, slots=True)
class Linked:
    """Told to listeners: the port of link ``generation`` is open; write requests to it."""

    generation: int
    port: Any


@dataclass(frozen=True, slots=True)
class WriteFailed:
    """Received from a listener: writing to the port of link ``generation`` failed."""

    generation: int
    error: str


@dataclass(frozen=True, slots=True)
class Close:
    """Received: drop the link on purpose and reconnect after the backoff interval."""

    reason: str


@dataclass(frozen=True, slots=True)
class SetAutoconnecting:
    """Received: persist ``autoconnecting``; false closes the link and pauses, true resumes."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class Attempt:
    """The backoff timer's message: time to try opening the port again."""


ATTEMPT_TIMER = "attempt"


@dataclass(frozen=True, slots=True)
class LinkData:
    """The Connection's data.

    ``interval`` is the wait before the next attempt after a failure;
    ``generation`` tags the current reader's (or discoverer's) messages;
    ``failures`` and ``last_error`` describe the current streak of failed opens
    (with discovery: of failed rounds). ``url`` is the port being opened or
    open; ``candidates`` the discovered URLs still to try in this round.
    """

    interval: float
    generation: int = 0
    reader: PortReader | None = None
    port: Any = None
    failures: int = 0
    last_error: str = ""
    listeners: tuple[Any, ...] = ()
    url: str | None = None
    candidates: tuple[str, ...] = ()


class Connection(FSM[LinkState, LinkData]):
    """Owns the port to the controller and keeps it open, backing off between attempts."""

    def __init__(
        self,
        config: ConnectorConfig,
        datastore: Datastore,
        phase: Ref,
        discovery: DiscoveryConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.discovery = discovery or DiscoveryConfig()
        """How to find the controller; used only when ``config.device_url`` is None."""
        self.exhausted = False
        """Set when discovery is exhausted (then the actor fails with DiscoveryExhausted)."""
        self.datastore = datastore
        self.phase = phase
        self.first_opened: dict[str, int] = {}
        """When each URL was first opened (wall clock, ns): a pty allocated later is not ours."""
        saved = datastore.reconnect_interval(default=config.reconnect_min)
        interval = min(config.reconnect_max, max(config.reconnect_min, saved))
        self.start_with(LinkState.PAUSED, LinkData(interval))
        self.when(LinkState.PAUSED, self.paused)
        self.when(LinkState.WAITING, self.waiting)
        self.when(LinkState.DISCOVERING, self.discovering)
        self.when(LinkState.OPENING, self.opening)
        self.when(LinkState.OPEN, self.open)
        self.when_unhandled(self.any_state)
        self.on_termination(self.terminated)
        if datastore.autoconnecting:
            self.actor_ref.tell(Attempt())
        else:
            log.info("autoconnecting_off", url=self.target)

    # ------------------------------------------------------------- states

    def paused(self, event: Event) -> NextState | None:
        match event:
            case Event(Attempt(), LinkData() as data):
                return self.attempt(data)
        return None

    def waiting(self, event: Event) -> NextState | None:
        match event:
            case Event(Attempt(), LinkData() as data):
                return self.attempt(data)
        return None

    def discovering(self, event: Event) -> NextState | None:
        match event:
            case Event(Discovered(generation, urls, error), LinkData() as data) if (
                generation == data.generation
            ):
                log.debug("discovered", urls=list(urls), error=error)
                if urls:
                    return self.open_url(replace(data, candidates=urls[1:]), urls[0])
                return self.round_failed(data, error or "no controller found")
        return None

    def opening(self, event: Event) -> NextState | None:
        match event:
            case Event(Opened(generation, port), LinkData() as data) if (
                generation == data.generation
            ):
                return self.opened(data, port)
            case Event(OpenFailed(generation, error), LinkData() as data) if (
                generation == data.generation
            ):
                data = replace(data, reader=None)
                if self.config.device_url is None:
                    log.debug("candidate_failed", url=data.url, error=error)
                    if data.candidates:
                        return self.open_url(
                            replace(data, candidates=data.candidates[1:]), data.candidates[0]
                        )
                    return self.round_failed(data, f"{data.url}: {error}")
                return self.failed(data, error)
            case Event(Close(reason), LinkData() as data):
                log.info("connection_closed", url=data.url, reason=reason)
                return self.wait_or_attempt(self.release(data))
        return None

    def open(self, event: Event) -> NextState | None:
        match event:
            case Event(WriteFailed(generation, error), LinkData() as data) if (
                generation == data.generation
            ):
                return self.lost(data, f"write failed: {error}")
            case Event(ReadFailed(generation, error), LinkData() as data) if (
                generation == data.generation
            ):
                return self.lost(data, error)
            case Event(Close(reason), LinkData() as data):
                log.info("connection_closed", url=data.url, reason=reason)
                return self.lost(data, f"closed: {reason}", logged=True)
        return None

    def any_state(self, event: Event) -> NextState | None:
        match event:
            case Event(Subscribe(Topic.LINK, ref), LinkData() as data) if ref not in data.listeners:
                listeners = (*data.listeners, ref)
                if data.reader is not None:
                    data.reader.set_sinks(listeners)
                if data.port is not None:
                    ref.tell(Linked(data.generation, data.port))
                return stay().using(replace(data, listeners=listeners))
            case Event(SetAutoconnecting(enabled), LinkData() as data):
                self.datastore.autoconnecting = enabled
                log.info("autoconnecting_set", enabled=enabled)
                if not enabled:
                    return self.pause(data)
                if self.state_name is LinkState.PAUSED:
                    self.actor_ref.tell(Attempt())
                return stay()
            case Event(
                Opened()
                | Discovered()
                | WriteFailed()
                | ReadFailed()
                | OpenFailed()
                | Close()
                | Attempt()
                | Subscribe(),
                _,
            ):
                # Stale (an older generation: its reader was told to stop and
                # closes its port itself) or not meaningful in this state.
                return stay()
        return None

    # ------------------------------------------------------------- actions

    @property
    def target(self) -> str:
        """What the Connection connects to, for logs: the URL or the discovery mode."""
        return self.config.device_url or f"discovery:{self.discovery.mode}"

    def attempt(self, data: LinkData) -> NextState:
        """Open the configured URL, or start a discovery round; outcomes come as messages.

        The attempt timer starts with it: the next attempt comes no sooner.
        """
        self.start_single_timer(ATTEMPT_TIMER, Attempt(), data.interval)
        if self.config.device_url is not None:
            return self.open_url(data, self.config.device_url)
        generation = data.generation + 1
        Discoverer(self.discovery, generation, self.actor_ref).start()
        log.debug("discovery_attempt", mode=self.discovery.mode, generation=generation)
        return goto(LinkState.DISCOVERING).using(
            replace(data, generation=generation, url=None, candidates=())
        )

    def open_url(self, data: LinkData, url: str) -> NextState:
        """Start a reader thread that opens ``url``; its outcome comes as a message."""
        generation = data.generation + 1
        reader = PortReader(
            url, generation, self.actor_ref, data.listeners, self.first_opened.get(url)
        ).start()
        log.debug("connect_attempt", url=url, generation=generation)
        return goto(LinkState.OPENING).using(
            replace(data, generation=generation, reader=reader, url=url)
        )

    def failed(self, data: LinkData, error: str) -> NextState:
        """An attempt failed: log the first of a streak, count it, back off."""
        if data.failures == 0:
            log.warning(
                "connect_failed", url=self.target, error=error, retry_in=round(data.interval, 3)
            )
        following = self.config.next_interval(data.interval)
        self.persist_interval(data.interval, following)
        data = replace(data, failures=data.failures + 1, last_error=error, interval=following)
        return self.wait_or_attempt(data)

    def round_failed(self, data: LinkData, error: str) -> NextState:
        """A discovery round opened nothing; raise ``DiscoveryExhausted`` after the last allowed.

        Raising (rather than stopping) lets the supervisor decide: the
        connector's escalates it, so the program can exit and be restarted.
        """
        rounds = data.failures + 1
        if self.discovery.exhaustible and rounds >= self.discovery.max_attempts:
            self.exhausted = True  # the exception reports the streak; terminated() does not
            raise DiscoveryExhausted(self.discovery.mode, rounds)
        return self.failed(data, error)

    def opened(self, data: LinkData, port: Any) -> NextState:
        """The port is open: end the failure streak, reset the backoff, report CONNECTED."""
        self.end_failure_streak(data)
        if data.url is not None:
            self.first_opened.setdefault(data.url, time.time_ns())
        log.info("connected", url=data.url)
        listeners = tell_each(data.listeners, Linked(data.generation, port))
        self.phase.tell(RequestPhase(Phase.CONNECTED, reason="port open"))
        if data.interval != self.config.reconnect_min:  # success resets the backoff
            self.start_single_timer(ATTEMPT_TIMER, Attempt(), self.config.reconnect_min)
            # After the news: a disk write (the SQLite commit) need not delay CONNECTED.
            self.persist_interval(data.interval, self.config.reconnect_min)
        return goto(LinkState.OPEN).using(
            replace(
                data,
                port=port,
                listeners=listeners,
                failures=0,
                last_error="",
                interval=self.config.reconnect_min,
                candidates=(),
            )
        )

    def lost(self, data: LinkData, reason: str, *, logged: bool = False) -> NextState:
        """The link is gone (or closed on purpose): close, report DISCONNECTED, reconnect."""
        waiting = self.is_timer_active(ATTEMPT_TIMER)
        if not logged:
            log.warning(
                "connection_lost",
                url=data.url,
                reason=reason,
                reconnect="after the interval" if waiting else "now",
            )
        self.phase.tell(RequestPhase(Phase.DISCONNECTED, reason=reason))
        return self.wait_or_attempt(self.release(data))

    def wait_or_attempt(self, data: LinkData) -> NextState:
        """Attempt again once the interval since the last attempt's start has passed."""
        if self.is_timer_active(ATTEMPT_TIMER):
            return goto(LinkState.WAITING).using(data)
        return self.attempt(data)

    def pause(self, data: LinkData) -> NextState:
        """Stop connecting until ``autoconnecting`` is set again."""
        self.cancel_timer(ATTEMPT_TIMER)
        if data.port is not None:
            self.phase.tell(RequestPhase(Phase.DISCONNECTED, reason="autoconnecting off"))
        return goto(LinkState.PAUSED).using(self.release(data))

    def release(self, data: LinkData) -> LinkData:
        """Stop the current reader (it closes the port) and forget its generation's messages."""
        if data.reader is not None:
            data.reader.stop()
        return replace(data, reader=None, port=None, generation=data.generation + 1)

    def end_failure_streak(self, data: LinkData) -> None:
        """Summarise a streak of failed opens that has ended (its first was logged already)."""
        if data.failures > 1:
            log.warning(
                "connect_failed_repeated",
                url=self.target,
                count=data.failures,
                last_error=data.last_error,
            )

    def persist_interval(self, old: float, new: float) -> None:
        if new != old:
            self.datastore.set_reconnect_interval(new)

    def terminated(self, event: StopEvent) -> None:
        """Close the port and wait (bounded) for the reader thread, so no thread outlives us.

        After a failure, a link that was open is gone with us: the phase drops
        to DISCONNECTED, where the next Connection (after the restart) starts.
        (An orderly stop leaves the phase alone: its subscribers stopped first.)
        """
        match event:
            case StopEvent(_, _, LinkData() as data):
                if not self.exhausted:
                    self.end_failure_streak(data)
                if data.port is not None and isinstance(event.reason, Failure):
                    self.phase.tell(RequestPhase(Phase.DISCONNECTED, reason="connection stopped"))
                if data.reader is not None:
                    data.reader.stop()
                    if not data.reader.join(READER_JOIN):
                        log.warning("reader_not_stopped", url=data.url)
