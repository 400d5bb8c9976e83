"""The Commander: sends requests to the controller and matches its answers to them.

It owns the :class:`~actors.spark.protocol.StreamParser` for the bytes the
Connection's reader thread sends it, assigns msgIds (unique among the commands
in flight), writes each request to the port the Connection hands it
(:class:`~actors.spark.connection.Linked`; a failed write is reported back as
:class:`~actors.spark.connection.WriteFailed`) and matches each response line
to its command by the echoed request text. Events (handshake, setup mode, cbox
errors) go to the subscribers of ``Topic.EVENTS``, command timeouts to those of
``Topic.TIMEOUTS``.

Trouble in the stream is reported per time window (:mod:`actors.spark.repeats`),
so a flood from the controller costs a few log lines, not one per line: the
first bad line (``bad_line``), over-long line (``stream_buffer_overflow``) or
event of an episode is logged or forwarded, the rest are counted and
summarised once per window (``bad_line_repeated``,
``stream_buffer_overflow_repeated``, ``controller_event_repeated``). An event
other than a handshake that repeats within the window is not forwarded again
(the controller's contract: log it once); handshakes always are. Each chunk
parsed is counted off the reader's backlog, which bounds what the reader queues.

States follow the phase, which the Commander learns by subscribing to the
PhaseTracker: OFFLINE (DISCONNECTED), LINKED (CONNECTED or ACKNOWLEDGED: only
the Synchronizer's *internal* commands go out) and READY (SYNCHRONIZED: all
go out). A command that may not go out yet is stashed with its own deadline
and sent when the phase allows it, or fails with ``NotConnected`` at its
timeout. A sent command fails with ``CommandTimeout`` when no answer comes
within its timeout, with ``ProtocolFault`` at once when its answer breaks the
protocol, and with ``ConnectionLost`` when the link drops.

Replies: :class:`Execute` carries ``reply_to``, either a pykka ``Future``
(what the client API waits on; the Commander sets its value, or its exception
to a :class:`~actors.spark.errors.SparkError`) or an actor ref, which is told
:class:`CommandDone` (how actors such as the Synchronizer get answers without
blocking). An ``ask`` could not carry the answer: it arrives in a later
message than the request.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, replace
from typing import Any

import pykka
import structlog

from actorfsm import (
    FSM,
    CurrentState,
    Event,
    NextState,
    Ref,
    StopEvent,
    SubscribeTransitionCallBack,
    Transition,
    goto,
    stay,
    tell_each,
)
from actors.spark.config import ConnectorConfig
from actors.spark.connection import Linked, WriteFailed
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
    SparkError,
)
from actors.spark.phase import Phase
from actors.spark.protocol import (
    BufferOverflow,
    CboxErrorEvent,
    ControllerEvent,
    DataLine,
    Errcode,
    EventAnnotation,
    Handshake,
    LogAnnotation,
    ProtocolError,
    Reply,
    Request,
    Response,
    StreamParser,
    decode_event,
    decode_response,
    encode_request,
    next_msg_id,
)
from actors.spark.reader import Received, describe
from actors.spark.repeats import WINDOW, Repeats
from actors.spark.topics import Subscribe, Topic

log = structlog.get_logger("actors.spark.commander")


class CommanderState(enum.Enum):
    """Which commands may go out now (follows the phase)."""

    OFFLINE = "disconnected"
    LINKED = "connected but not synchronized"
    READY = "synchronized"


_STATE_OF_PHASE = {
    Phase.DISCONNECTED: CommanderState.OFFLINE,
    Phase.CONNECTED: CommanderState.LINKED,
    Phase.ACKNOWLEDGED: CommanderState.LINKED,
    Phase.SYNCHRONIZED: CommanderState.READY,
}


@dataclass(frozen=True, slots=True)
class Execute:
    """Received: run ``request`` and answer ``reply_to`` (a pykka Future or an actor ref).

    ``timeout`` (default: the config's ``command_timeout``) bounds both the
    wait for the phase and the wait for the answer. ``internal`` commands (the
    Synchronizer's) may go out from CONNECTED on; others wait for
    SYNCHRONIZED. ``tag`` comes back in :class:`CommandDone`.
    """

    request: Request
    reply_to: Any
    timeout: float | None = None
    internal: bool = False
    tag: Any = None


@dataclass(frozen=True, slots=True)
class CommandDone:
    """Told to an actor ``reply_to``: the reply, or the error (exactly one is not None)."""

    tag: Any
    request: Request
    reply: Reply | None
    error: SparkError | None


@dataclass(frozen=True, slots=True)
class CommandTimedOut:
    """Told to timeout watchers (the Watchdog): a sent command got no answer in time."""

    request: str


@dataclass(frozen=True, slots=True)
class Incompatible:
    """Received from the Synchronizer: the controller failed the firmware check; why."""

    reason: str


@dataclass(frozen=True, slots=True)
class Expired:
    """Timer: the sent command ``msg_id`` got no answer in time."""

    msg_id: int


@dataclass(frozen=True, slots=True)
class WaitExpired:
    """Timer: the stashed command ``token`` was not sent in time."""

    token: int


@dataclass(frozen=True, slots=True)
class SummariesDue:
    """Timer: a window of the repeat counters closed; summarise what they counted."""


SUMMARY_TIMER = "summaries"


@dataclass(frozen=True, slots=True)
class Pending:
    """A command in flight: its msgId, the request text the answer will echo, and the command."""

    msg_id: int
    echo: str
    execute: Execute


@dataclass(frozen=True, slots=True)
class CommandData:
    """The Commander's data: the last msgId and stash token given out, the link, listeners.

    ``generation`` is the link whose bytes the parser holds and ``port`` where
    requests are written (kept while disconnected: nothing is written then, and
    a write to a closed port only reports a stale generation).
    """

    msg_id: int = 0
    next_token: int = 0
    generation: int = 0
    port: Any = None
    incompatible: str | None = None
    listeners: tuple[Any, ...] = ()
    watchers: tuple[Any, ...] = ()


def deliver(execute: Execute, reply: Reply | None, error: SparkError | None) -> None:
    """Answer the command's ``reply_to``; an answer nobody can take any more is dropped."""
    target = execute.reply_to
    try:
        if isinstance(target, pykka.Future):
            if error is None:
                target.set(reply)
            else:
                target.set_exception((type(error), error, None))
        else:
            target.tell(CommandDone(execute.tag, execute.request, reply, error))
    except (pykka.ActorDeadError, Exception) as exc:  # a Future already set, a dead actor
        log.debug("reply_dropped", request=repr(execute.request), error=repr(exc))


def _echo_msg_id(echo: str) -> int | None:
    """The msgId at the start of an echoed request text, if it has one."""
    try:
        raw = bytes.fromhex(echo[:4])
    except ValueError:
        return None
    return int.from_bytes(raw, "little") if len(raw) == 2 else None


class Commander(FSM[CommanderState, CommandData]):
    """Sends commands, matches answers, times commands out and forwards controller events."""

    def __init__(self, config: ConnectorConfig, phase: Ref, connection: Ref) -> None:
        super().__init__()
        self.config = config
        self.connection = connection
        # Mutable helpers, kept out of the immutable state data: the parser holds
        # the bytes of an unfinished line; the tables hold the commands in flight
        # (by msgId) and stashed (by token, in order). Copying a table of 1,000
        # commands for every command made pipelining quadratic.
        self.parser = StreamParser()
        self.pending: dict[int, Pending] = {}
        self.waiting: dict[int, Execute] = {}
        self.bad_lines = Repeats("bad_line_repeated", logger=log)
        self.overflows = Repeats("stream_buffer_overflow_repeated", logger=log)
        self.events: dict[tuple[type, int | None], Repeats] = {}
        """Repeats of each kind of controller event (bounded: by type, and cbox error code)."""
        self.start_with(CommanderState.OFFLINE, CommandData())
        self.when(CommanderState.OFFLINE, self.offline)
        self.when(CommanderState.LINKED, self.linked)
        self.when(CommanderState.READY, self.ready)
        self.when_unhandled(self.any_state)
        self.on_termination(self.terminated)
        phase.tell(SubscribeTransitionCallBack(self.actor_ref))
        connection.tell(Subscribe(Topic.LINK, self.actor_ref))

    # ------------------------------------------------------------- states

    def offline(self, event: Event) -> NextState | None:
        match event:
            case Event(Execute() as execute, CommandData() as data):
                return stay().using(self.stash(data, execute))
        return None

    def linked(self, event: Event) -> NextState | None:
        match event:
            case Event(Execute(internal=True) as execute, CommandData() as data):
                return stay().using(self.send(data, execute))
            case Event(Execute() as execute, CommandData(incompatible=str(reason))):
                deliver(execute, None, IncompatibleFirmware(reason))
                return stay()
            case Event(Execute() as execute, CommandData() as data):
                return stay().using(self.stash(data, execute))
        return None

    def ready(self, event: Event) -> NextState | None:
        match event:
            case Event(Execute() as execute, CommandData() as data):
                return stay().using(self.send(data, execute))
        return None

    def any_state(self, event: Event) -> NextState | None:
        match event:
            case Event(Received(generation) as received, CommandData() as data) if (
                generation >= data.generation and not received.stale
            ):
                try:
                    return stay().using(self.receive(self.link(data, generation), received))
                finally:
                    received.taken()
            case Event(Received() as received, _):  # an older link's, or dropped by the reader
                received.taken()
                return stay()
            case Event(SummariesDue(), _):
                self.close_windows()
                return stay()
            case Event(Linked(generation, port), CommandData() as data) if (
                generation >= data.generation
            ):
                return stay().using(replace(self.link(data, generation), port=port))
            case Event(Expired(msg_id), CommandData() as data) if msg_id in self.pending:
                pending = self.pending.pop(msg_id)
                deliver(
                    pending.execute,
                    None,
                    CommandTimeout(
                        f"no answer to {pending.echo} within {self.timeout_of(pending.execute)} s"
                    ),
                )
                watchers = tell_each(data.watchers, CommandTimedOut(pending.echo))
                return stay().using(replace(data, watchers=watchers))
            case Event(WaitExpired(token), CommandData()) if token in self.waiting:
                execute = self.waiting.pop(token)
                deliver(execute, None, NotConnected(self.not_ready_reason(execute)))
                return stay()
            case Event(
                CurrentState(_, Phase() as phase) | Transition(_, _, Phase() as phase), data
            ):
                return self.follow(phase, data)
            case Event(Incompatible(reason), CommandData() as data):
                self.fail_waiting(IncompatibleFirmware(reason))
                return stay().using(replace(data, incompatible=reason))
            case Event(Subscribe(Topic.EVENTS, ref), CommandData() as data) if (
                ref not in data.listeners
            ):
                return stay().using(replace(data, listeners=(*data.listeners, ref)))
            case Event(Subscribe(Topic.TIMEOUTS, ref), CommandData() as data) if (
                ref not in data.watchers
            ):
                return stay().using(replace(data, watchers=(*data.watchers, ref)))
            case Event(
                Expired() | WaitExpired() | Subscribe() | Linked(),
                _,
            ):  # stale: a finished command, a known listener, an older link
                return stay()
        return None

    # ------------------------------------------------------------- phase

    def follow(self, phase: Phase, data: CommandData) -> NextState:
        """Move to the state of ``phase`` and send the stashed commands it now allows."""
        state = _STATE_OF_PHASE[phase]
        if state is CommanderState.OFFLINE:
            self.fail_pending(ConnectionLost("the connection to the controller dropped"))
            self.end_repeats()
            data = replace(data, incompatible=None)
        for token, execute in list(self.waiting.items()):
            if state is CommanderState.READY or (
                state is CommanderState.LINKED and execute.internal
            ):
                self.cancel_timer(("wait", token))
                del self.waiting[token]
                data = self.send(data, execute)
        return goto(state).using(data)

    # ------------------------------------------------------------- sending

    def timeout_of(self, execute: Execute) -> float:
        return self.config.command_timeout if execute.timeout is None else execute.timeout

    def stash(self, data: CommandData, execute: Execute) -> CommandData:
        """Keep a command until the phase allows it; fail it with NotConnected at its timeout."""
        token = data.next_token
        self.start_single_timer(("wait", token), WaitExpired(token), self.timeout_of(execute))
        self.waiting[token] = execute
        return replace(data, next_token=token + 1)

    def send(self, data: CommandData, execute: Execute) -> CommandData:
        """Give the command a free msgId, write it and start its timeout."""
        msg_id = next_msg_id(data.msg_id)
        while msg_id in self.pending:
            msg_id = next_msg_id(msg_id)
        echo = encode_request(msg_id, execute.request)
        self.write(data, echo.encode("ascii") + b"\n")
        self.start_single_timer(("cmd", msg_id), Expired(msg_id), self.timeout_of(execute))
        self.pending[msg_id] = Pending(msg_id, echo, execute)
        return replace(data, msg_id=msg_id)

    def write(self, data: CommandData, line: bytes) -> None:
        """Write a request to the port; a failure is the Connection's to act on.

        The command stays pending: it fails with ``ConnectionLost`` when the
        link drops, or ``CommandTimeout`` if it somehow does not. Without a
        port (bytes of a new link came before its port was handed over) there
        is nothing to report: the new link is healthy, the command times out.
        """
        if data.port is None:
            log.debug("write_before_link", generation=data.generation)
            return
        try:
            data.port.write(line)
        except Exception as exc:  # OSError / SerialException: the link is gone
            self.connection.tell(WriteFailed(data.generation, describe(exc)))

    def not_ready_reason(self, execute: Execute) -> str:
        needed = "connected" if execute.internal else "synchronized"
        return (
            f"the controller was not {needed} within {self.timeout_of(execute)} s "
            f"(it is {self.state_name.value}); {execute.request!r} was not sent"
        )

    def fail_pending(self, error: SparkError) -> None:
        """Fail every command in flight."""
        for msg_id, pending in self.pending.items():
            self.cancel_timer(("cmd", msg_id))
            deliver(pending.execute, None, error)
        self.pending.clear()

    def fail_waiting(self, error: SparkError) -> None:
        """Fail the stashed client commands (internal ones keep waiting)."""
        for token, execute in list(self.waiting.items()):
            if not execute.internal:
                self.cancel_timer(("wait", token))
                deliver(execute, None, error)
                del self.waiting[token]

    # ------------------------------------------------------------- receiving

    def link(self, data: CommandData, generation: int) -> CommandData:
        """Bytes or the port of link ``generation``: a newer link starts with an empty parser."""
        if generation == data.generation:
            return data
        self.parser = StreamParser()  # drop the old link's partial line
        return replace(data, generation=generation, port=None)

    def receive(self, data: CommandData, received: Received) -> CommandData:
        """Parse a chunk; after bytes the reader dropped, the line they cut goes too."""
        if received.gap:
            self.parser.resync()
        for item in self.parser.feed(received.chunk):
            match item:
                case DataLine(text):
                    data = self.answer(data, text)
                case EventAnnotation(text):
                    data = self.forward(data, decode_event(text))
                case LogAnnotation(text):
                    log.debug("controller_log", text=text)
                case BufferOverflow(limit):
                    if self.repeated(self.overflows):
                        log.warning("stream_buffer_overflow", limit=limit)
        return data

    def forward(self, data: CommandData, event: ControllerEvent) -> CommandData:
        """Tell the subscribers an event: a handshake always, others once per window."""
        if not isinstance(event, Handshake):
            key = (type(event), event.code if isinstance(event, CboxErrorEvent) else None)
            repeats = self.events.get(key)
            if repeats is None:
                repeats = Repeats("controller_event_repeated", logger=log, kind=repr(event))
                self.events[key] = repeats
            if not self.repeated(repeats):
                return data
        return replace(data, listeners=tell_each(data.listeners, event))

    def repeated(self, repeats: Repeats) -> bool:
        """Count one occurrence; ``True`` if it opens an episode (report it in full)."""
        first = repeats.occurred(time.monotonic())
        if first and not self.is_timer_active(SUMMARY_TIMER):
            self.start_single_timer(SUMMARY_TIMER, SummariesDue(), WINDOW)
        return first

    def counters(self) -> list[Repeats]:
        return [self.bad_lines, self.overflows, *self.events.values()]

    def close_windows(self) -> None:
        """The window is over: summarise each counter; keep the timer while any still counts."""
        now = time.monotonic()
        still = [repeats.close_window(now) for repeats in self.counters()]
        self.events = {key: r for key, r in self.events.items() if r.open}
        if any(still):
            self.start_single_timer(SUMMARY_TIMER, SummariesDue(), WINDOW)

    def end_repeats(self) -> None:
        """The link is gone (or the Commander stops): summarise what was counted."""
        for repeats in self.counters():
            repeats.end()
        self.events = {}
        self.cancel_timer(SUMMARY_TIMER)

    def answer(self, data: CommandData, text: str) -> CommandData:
        """Complete the command a response line answers; count a line that answers none."""
        response = decode_response(text)
        match response:
            case Response(echo, msg_id, _, errcode, reply):
                pending = self.pending.get(msg_id)
                if pending is None or pending.echo != echo:
                    return self.bad_line(data, "unmatched response", text)
                error = None if errcode is Errcode.OK else CommandFailed(errcode, echo)
                deliver(pending.execute, reply, error)
            case ProtocolError(reason, _, str(echo)) if (
                (echo_id := _echo_msg_id(echo)) is not None
                and (pending := self.pending.get(echo_id)) is not None
                and pending.echo == echo
            ):
                fault = ProtocolFault(f"the answer to {echo} breaks the protocol: {reason}: {text}")
                deliver(pending.execute, None, fault)
                data = self.bad_line(data, reason, text)
            case ProtocolError(reason):
                return self.bad_line(data, reason, text)
        self.cancel_timer(("cmd", pending.msg_id))
        del self.pending[pending.msg_id]
        return data

    def bad_line(self, data: CommandData, reason: str, text: str) -> CommandData:
        """Log the first bad line of an episode; count the rest (summarised per window)."""
        if self.repeated(self.bad_lines):
            log.warning("bad_line", reason=reason, line=text[:200])
        return data

    # ------------------------------------------------------------- stopping

    def terminated(self, event: StopEvent) -> None:
        """Nobody waits forever: every command still here fails with NotConnected."""
        match event:
            case StopEvent():
                self.end_repeats()
                stopped = NotConnected("the connector stopped")
                for pending in self.pending.values():
                    deliver(pending.execute, None, stopped)
                for execute in self.waiting.values():
                    deliver(execute, None, stopped)
