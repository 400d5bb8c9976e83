"""The Synchronizer: from a fresh link to a controller that is ready for normal operation.

On CONNECTED it prompts with a Noop every ``ping_interval`` until a handshake
arrives (the controller sends one on connect and after every Noop) or
``handshake_timeout`` passes; then it closes the link so the Connection
retries. A handshake makes the phase ACKNOWLEDGED and is checked: the
controller must speak the service's protocol version (unless
``skip_version_check``) and, if a device id is configured, be that device.
An incompatible controller is reported in one error line and the phase stays
ACKNOWLEDGED (no reconnect loop); the Commander then fails client commands
with ``IncompatibleFirmware``. The same refusal on later links (the link
dropped and came back to the same controller) is logged at debug level and
counted; when the streak ends (the controller passes, or fails differently)
``controller_refused_repeated`` summarises it with its count. A parked
Synchronizer leaves ACKNOWLEDGED only when the link drops: reflashing a
controller reboots it, which drops the link, and the next link is checked anew.

A compatible controller is synchronized: its clock is written,
the block names for its device id are loaded from the datastore and its trace
is read and logged; then the phase becomes SYNCHRONIZED. The clock write and
the trace read go out together (in that order on the wire), so synchronizing
costs one round trip, not two. A failing step closes the link (and so
reconnects).

Handshakes while synchronized are ignored (the Watchdog's Noops cause them).
``<!SETUP_MODE>`` closes the link, logged once per occurrence.
"""

from __future__ import annotations

import enum
import time
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
)
from actors.spark.commander import CommandDone, Execute, Incompatible
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Close
from actors.spark.datastore import Datastore
from actors.spark.phase import Phase, RequestPhase
from actors.spark.protocol import (
    SYSINFO_ID,
    SYSINFO_TYPE,
    SYSTEM_GROUP_MASK,
    TICKS_ID,
    TICKS_TYPE,
    CboxErrorEvent,
    FirmwareUpdater,
    Handshake,
    Noop,
    ObjectReply,
    Opcode,
    ProtocolError,
    SetupMode,
    SparkObject,
    SysInfoCommand,
    TicksData,
    UnknownEvent,
    WriteObject,
    decode_trace,
)
from actors.spark.topics import Subscribe, Topic

log = structlog.get_logger("actors.spark.synchronizer")


class SyncState(enum.Enum):
    """How far the Synchronizer has brought the current link."""

    IDLE = enum.auto()
    """No link (DISCONNECTED), or a link it gave up on and asked to close."""
    HANDSHAKING = enum.auto()
    """CONNECTED: prompting with Noops until a handshake arrives."""
    CHECKING = enum.auto()
    """A handshake arrived; waiting for the phase to become ACKNOWLEDGED."""
    SYNCING = enum.auto()
    """ACKNOWLEDGED and compatible: running the sync steps."""
    PARKED = enum.auto()
    """ACKNOWLEDGED but incompatible: stays here until the link drops."""
    SYNCED = enum.auto()
    """SYNCHRONIZED."""


class Step(enum.Enum):
    """A sync step whose command is in flight (the tag of its ``CommandDone``)."""

    PING = enum.auto()
    CLOCK = enum.auto()
    TRACE = enum.auto()


@dataclass(frozen=True, slots=True)
class Ping:
    """Timer: time to prompt for a handshake again."""


@dataclass(frozen=True, slots=True)
class HandshakeTimeout:
    """Timer: no handshake came within ``handshake_timeout`` of CONNECTED.

    A named timer, not a state timeout: every Ping would re-arm a state timeout.
    """


PING_TIMER = "ping"
HANDSHAKE_TIMER = "handshake"


@dataclass(frozen=True, slots=True)
class SyncData:
    """The Synchronizer's data.

    ``cycle`` counts links; command tags carry it so an answer about an older
    link is recognised and dropped. ``handshake`` is the current link's,
    ``block_names`` were loaded for its device id; ``unanswered`` are the sync
    steps whose commands are still in flight. ``refused`` is the current
    streak's firmware problem and ``refusals`` how many links it refused (both
    outlive a link).
    """

    cycle: int = 0
    refused: Mismatch | None = None
    refusals: int = 0
    handshake: Handshake | None = None
    block_names: tuple[tuple[int, str], ...] = ()
    unanswered: frozenset[Step] = frozenset()


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Why a controller cannot be used: the error event, its fields, and a sentence for clients."""

    event: str
    fields: dict[str, str]
    reason: str


def firmware_problem(config: ConnectorConfig, handshake: Handshake) -> Mismatch | None:
    """What is wrong with the controller of ``handshake`` for this service, or None."""
    if not config.skip_version_check and handshake.proto_version != config.proto_version:
        return Mismatch(
            "incompatible_firmware",
            {
                "controller_proto_version": handshake.proto_version,
                "service_proto_version": config.proto_version,
                "firmware_version": handshake.firmware_version,
            },
            f"controller firmware {handshake.firmware_version} speaks protocol version "
            f"{handshake.proto_version!r}, this service speaks {config.proto_version!r}",
        )
    if config.device_id and handshake.device_id.lower() != config.device_id.lower():
        return Mismatch(
            "device_id_mismatch",
            {
                "controller_device_id": handshake.device_id,
                "configured_device_id": config.device_id,
            },
            f"controller device id is {handshake.device_id!r}, this service is configured "
            f"for {config.device_id!r}",
        )
    return None


def ticks_write(seconds_since_epoch: int) -> WriteObject:
    """The request that sets the controller's clock."""
    data = TicksData(0, seconds_since_epoch & 0xFFFFFFFF).encode()
    return WriteObject(SparkObject(TICKS_ID, SYSTEM_GROUP_MASK, TICKS_TYPE, data))


def trace_read() -> WriteObject:
    """The request that reads the controller's trace and resumes tracing."""
    data = bytes((SysInfoCommand.READ_AND_RESUME_TRACE,))
    return WriteObject(SparkObject(SYSINFO_ID, SYSTEM_GROUP_MASK, SYSINFO_TYPE, data))


def _opcode_name(action: int) -> str:
    try:
        return Opcode(action).name
    except ValueError:
        return str(action)


class Synchronizer(FSM[SyncState, SyncData]):
    """Handshakes with, checks and synchronizes each new link to the controller."""

    def __init__(
        self,
        config: ConnectorConfig,
        datastore: Datastore,
        phase: Ref,
        commander: Ref,
        connection: Ref,
    ) -> None:
        super().__init__()
        self.config = config
        self.datastore = datastore
        self.phase = phase
        self.commander = commander
        self.connection = connection
        self.start_with(SyncState.IDLE, SyncData())
        self.when(SyncState.IDLE, self.idle)
        self.when(SyncState.HANDSHAKING, self.handshaking)
        self.when(SyncState.CHECKING, self.checking)
        self.when(SyncState.SYNCING, self.syncing)
        self.when(SyncState.PARKED, self.parked)
        self.when(SyncState.SYNCED, self.synced)
        self.when_unhandled(self.any_state)
        phase.tell(SubscribeTransitionCallBack(self.actor_ref))
        commander.tell(Subscribe(Topic.EVENTS, self.actor_ref))

    # ------------------------------------------------------------- states

    def idle(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase.CONNECTED) | Transition(_, _, Phase.CONNECTED),
                SyncData() as data,
            ):
                data = SyncData(data.cycle + 1, refused=data.refused, refusals=data.refusals)
                self.ping(data)
                self.start_timer_with_fixed_delay(PING_TIMER, Ping(), self.config.ping_interval)
                self.start_single_timer(
                    HANDSHAKE_TIMER, HandshakeTimeout(), self.config.handshake_timeout
                )
                return goto(SyncState.HANDSHAKING).using(data)
        return None

    def handshaking(self, event: Event) -> NextState | None:
        match event:
            case Event(Ping(), SyncData() as data):
                self.ping(data)
                return stay()
            case Event(Handshake() as handshake, SyncData() as data):
                self.stop_prompting()
                log.info(
                    "handshake",
                    firmware_version=handshake.firmware_version,
                    proto_version=handshake.proto_version,
                    device_id=handshake.device_id,
                    platform=handshake.platform,
                    reset_reason=handshake.reset_reason,
                )
                self.phase.tell(RequestPhase(Phase.ACKNOWLEDGED, reason="handshake"))
                return goto(SyncState.CHECKING).using(replace(data, handshake=handshake))
            case Event(HandshakeTimeout(), _):
                log.warning("handshake_timeout", timeout=self.config.handshake_timeout)
                return self.give_up(f"no handshake within {self.config.handshake_timeout} s")
        return None

    def checking(self, event: Event) -> NextState | None:
        match event:
            case Event(Transition(_, _, Phase.ACKNOWLEDGED), SyncData(handshake=Handshake() as hs)):
                problem = firmware_problem(self.config, hs)
                data = self.refusal_streak(self.state_data, problem)
                if problem is not None:
                    self.commander.tell(Incompatible(problem.reason))
                    return goto(SyncState.PARKED).using(data)
                self.execute(ticks_write(int(time.time())), (data.cycle, Step.CLOCK))
                self.execute(trace_read(), (data.cycle, Step.TRACE))
                names = self.datastore.block_names(hs.device_id)
                log.info("block_names_loaded", device_id=hs.device_id, count=len(names))
                return goto(SyncState.SYNCING).using(
                    replace(
                        data,
                        block_names=tuple(sorted(names.items())),
                        unanswered=frozenset({Step.CLOCK, Step.TRACE}),
                    )
                )
        return None

    def syncing(self, event: Event) -> NextState | None:
        match event:
            case Event(CommandDone((cycle, step), _, _, error), SyncData() as data) if (
                cycle == data.cycle and error is not None
            ):
                log.warning("sync_step_failed", step=step.name, error=str(error))
                return self.give_up(f"sync step {step.name} failed: {error}")
            case Event(
                CommandDone((cycle, Step.CLOCK), WriteObject(obj), ObjectReply(), None),
                SyncData() as data,
            ) if cycle == data.cycle:
                seconds = TicksData.decode(obj.data)
                log.info(
                    "clock_written",
                    seconds_since_epoch=getattr(seconds, "seconds_since_epoch", None),
                )
                return self.answered(data, Step.CLOCK)
            case Event(
                CommandDone((cycle, Step.TRACE), _, ObjectReply(obj), None), SyncData() as data
            ) if cycle == data.cycle:
                trace = decode_trace(obj.data)
                if isinstance(trace, ProtocolError):
                    log.warning("sync_step_failed", step=Step.TRACE.name, error=trace.reason)
                    return self.give_up(f"unreadable trace: {trace.reason}")
                log.info(
                    "controller_trace",
                    entries=[
                        f"{_opcode_name(e.action)} {e.object_id} {e.object_type}" for e in trace
                    ],
                )
                return self.answered(data, Step.TRACE)
        return None

    def refusal_streak(self, data: SyncData, problem: Mismatch | None) -> SyncData:
        """Log a firmware problem once per streak of links refused for it; count the rest."""
        if problem is not None and problem == data.refused:
            log.debug("controller_still_refused", problem=problem.event, links=data.refusals + 1)
            return replace(data, refusals=data.refusals + 1)
        if data.refused is not None and data.refusals > 1:
            log.warning(
                "controller_refused_repeated",
                problem=data.refused.event,
                count=data.refusals,
                **data.refused.fields,
            )
        if problem is None:
            return replace(data, refused=None, refusals=0)
        log.error(problem.event, **problem.fields)  # one clear line, both sides named
        return replace(data, refused=problem, refusals=1)

    def answered(self, data: SyncData, step: Step) -> NextState:
        """A sync step is done; when it was the last, the controller is synchronized."""
        unanswered = data.unanswered - {step}
        if unanswered:
            return stay().using(replace(data, unanswered=unanswered))
        self.phase.tell(RequestPhase(Phase.SYNCHRONIZED, reason="synchronized"))
        return goto(SyncState.SYNCED).using(replace(data, unanswered=unanswered))

    def parked(self, event: Event) -> NextState | None:
        return None

    def synced(self, event: Event) -> NextState | None:
        return None

    def any_state(self, event: Event) -> NextState | None:
        match event:
            case Event(
                CurrentState(_, Phase.DISCONNECTED) | Transition(_, _, Phase.DISCONNECTED), _
            ):
                self.stop_prompting()
                return goto(SyncState.IDLE)
            case Event(SetupMode(), _):
                log.warning("controller_setup_mode", action="closing the connection")
                if self.state_name is SyncState.IDLE:
                    return stay()
                return self.give_up("the controller entered setup mode")
            case Event(CboxErrorEvent() as error, _):
                log.warning("controller_error", code=error.code, name=error.name)
                return stay()
            case Event(FirmwareUpdater(text), _):
                log.warning("controller_updating", text=text)
                return stay()
            case Event(UnknownEvent(text), _):
                log.debug("controller_event_unknown", text=text)
                return stay()
            case Event(
                Handshake()
                | CommandDone()
                | Ping()
                | HandshakeTimeout()
                | CurrentState()
                | Transition(),
                _,
            ):
                return stay()  # a handshake after the first, a stale answer or timer
        return None

    # ------------------------------------------------------------- actions

    def execute(self, request: Any, tag: Any) -> None:
        self.commander.tell(Execute(request, self.actor_ref, internal=True, tag=tag))

    def ping(self, data: SyncData) -> None:
        """Prompt the controller for a handshake."""
        self.execute(Noop(), (data.cycle, Step.PING))

    def stop_prompting(self) -> None:
        self.cancel_timer(PING_TIMER)
        self.cancel_timer(HANDSHAKE_TIMER)

    def give_up(self, reason: str) -> NextState:
        """Close the link (the Connection reconnects) and wait for the next one."""
        self.stop_prompting()
        self.connection.tell(Close(reason))
        return goto(SyncState.IDLE)
