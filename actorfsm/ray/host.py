"""The host: one Ray actor process that runs many FSMs, each on the engine as in-process.

A host is a threaded Ray actor (a plain method call is the cheapest Ray
call). Ray may start its calls in any order, so each sender's calls go
through a :class:`~actorfsm.ray.reorder.Stream` that hands their messages to
the FSMs' mailboxes in the order they were sent. No call waits long: an ask
waits :data:`ANSWER_WAIT` for its answer and else returns :data:`PENDING`,
and the asker fetches the answer with ``reply`` calls (in their own thread
pool, as are death watches), so postponed asks never hold up delivery. FSMs
are started with their class's own ``start()``, so they run on whatever the
engine runs FSMs on, with their timers, postponing, rolling log and
stuck-handler detection.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ray
import structlog
from pykka import ActorDeadError, Future

from actorfsm.death_watch import Terminated, watch
from actorfsm.fsm import FSM
from actorfsm.introspection import diagram, inspect
from actorfsm.logging import configure
from actorfsm.mailbox import reject_envelope
from actorfsm.messages import Failure, Reason
from actorfsm.pykka_seam import ActorStop, Envelope
from actorfsm.ray import hosting
from actorfsm.ray.hosting import LocalRef
from actorfsm.ray.outbox import HEADER, PENDING, HostHandle
from actorfsm.ray.ref import ASK, LEFTOVERS, STOP, TELL, CarriedAsk, RayRef
from actorfsm.ray.registry import registry
from actorfsm.ray.reorder import Stream
from actorfsm.ray.wire import decode, encode
from actorfsm.rendering import safe_repr
from actorfsm.stopping import Stopping
from actorfsm.supervised import supervised

if TYPE_CHECKING:
    from pykka._types import OptExcInfo

log = structlog.get_logger("actorfsm.ray")

ANSWER_WAIT = 0.05
"""Seconds an ask call waits for its FSM's answer before it returns PENDING."""

POLL_WAIT = 5.0
"""Seconds a ``reply`` or ``watch`` call waits before it returns PENDING (and is made again)."""

CALLS = 32
"""Threads for messages, starts and look-ups (no call on them waits long)."""

WAITING_CALLS = 64
"""Threads for ``reply`` and ``watch`` calls; more wait in Ray's queue, delaying no message."""

FINAL_REASONS_KEPT = 10_000
"""How many stopped FSMs' reasons a host keeps; a watch of an older one gets ``None``."""

LOG_LEVEL_VARIABLE = "ACTORFSM_HOST_LOG_LEVEL"
"""The environment variable that sets the hosts' log level (default ``info``)."""


class Host:
    """A Ray actor that hosts FSMs (started by ``actorfsm.ray.start``, one per resource set).

    Only the calls other processes make are methods here: Ray wraps every
    method of an actor class for tracing, so the work is done by
    :class:`_Hosted`, whose methods are plain calls.
    """

    def __init__(self) -> None:
        configure(format="console", level=os.environ.get(LOG_LEVEL_VARIABLE, "info"))
        context = ray.get_runtime_context()
        self._h = _Hosted(str(context.get_actor_id()), context.get_node_id(), context.current_actor)
        hosting.become_host(self._h.host_id)

    def start(self, payload: bytes, name: str | None, quiet: bool) -> bytes:
        """Start an FSM from its encoded ``(class, args, kwargs)``: ``(ok, RayRef | error)``."""
        h = self._h
        fsm_class, args, kwargs = _start_request(payload)
        with h.lock:
            fsm_id = h.next_id
            h.next_id += 1
        carried = _Carried() if quiet else None
        try:
            local = _construct(fsm_class, args, kwargs, carried)
        except Exception as exc:
            return _reply(False, exc)
        remote = RayRef(
            h.handle,
            h.host_id,
            fsm_id,
            name=name,
            node_id=h.node_id,
            class_name=fsm_class.__name__,
        )
        with h.lock:
            if carried is not None:
                h.carried[fsm_id] = carried
            h.fsms[fsm_id] = (local, remote)
            h.deaths[fsm_id] = _Reply()
        hosting.add(fsm_id, local, remote)
        watch(_DeathSink(h, fsm_id), local)
        return _reply(True, remote)

    def deliver(self, sender: str, first: int, batch: list[bytes]) -> None:
        """Tells (and stop requests) numbered ``first``... from ``sender``."""
        self._h.arrive(sender, first, [(payload, None) for payload in batch])

    def ask(self, message: bytes) -> bytes:
        """An ask (sender, number, payload; see ``outbox``): ``(ok, reply | error)`` or PENDING."""
        reply = _Reply()
        sender = message[: HEADER - 8].decode("ascii")
        seq = int.from_bytes(message[HEADER - 8 : HEADER], "big")
        self._h.arrive(sender, seq, [(message[HEADER:], reply)])
        if reply.wait(ANSWER_WAIT):
            return reply.payload
        self._h.parked[message[:HEADER]] = reply
        return PENDING

    @ray.method(concurrency_group="waits")
    def reply(self, key: bytes) -> bytes:
        """The answer of the ask ``key`` (sender and number) once in, or PENDING after a while."""
        reply = self._h.parked.get(key)
        if reply is None:
            return _reply(False, RuntimeError("this ask was answered already"))
        if not reply.wait(POLL_WAIT):
            return PENDING
        self._h.parked.pop(key, None)
        return reply.payload

    @ray.method(concurrency_group="waits")
    def watch(self, fsm_id: int) -> bytes:
        """The encoded stop reason of FSM ``fsm_id`` once it stopped, or PENDING after a while."""
        h = self._h
        final = h.final.get(fsm_id)
        if final is not None:
            return final
        death = h.deaths.get(fsm_id)
        if death is None:
            return h.final.get(fsm_id) or encode(None)
        return death.payload if death.wait(POLL_WAIT) else PENDING

    def alive(self, fsm_id: int) -> bool:
        """Whether FSM ``fsm_id`` runs here."""
        entry = self._h.fsms.get(fsm_id)
        return entry is not None and bool(entry[0].is_alive())

    def inspect(self, fsm_id: int) -> bytes:
        """The encoded ``(ok, FSMSnapshot | error)`` of FSM ``fsm_id``."""
        return self._h.look(fsm_id, inspect)

    def diagram(self, fsm_id: int) -> bytes:
        """The encoded ``(ok, mermaid text | error)`` of FSM ``fsm_id``."""
        return self._h.look(fsm_id, diagram)

    def info(self) -> tuple[str, int, int]:
        """``(node id, process id, number of FSMs)``."""
        return self._h.node_id, os.getpid(), len(self._h.fsms)

    def stop_all(self, timeout: float) -> int:
        """Stop every FSM here (each waited for up to ``timeout`` s); how many were running."""
        refs = [local for local, _ in list(self._h.fsms.values())]
        _stop_each(refs, timeout)
        return len(refs)


class _Hosted:
    """What a host knows: its FSMs, the streams of its senders, why FSMs stopped."""

    def __init__(self, host_id: str, node_id: str, handle: HostHandle) -> None:
        self.host_id = host_id
        self.node_id = node_id
        self.handle = handle  # the host actor's own handle, for the RayRefs it gives out
        self.lock = threading.RLock()  # Ray runs calls on several threads
        self.streams: dict[str, Stream[tuple[bytes, _Reply | None]]] = {}
        self.fsms: dict[int, tuple[LocalRef, RayRef]] = {}
        # The encoded stop reason of the latest stopped FSMs (for late watchers).
        self.final: OrderedDict[int, bytes] = OrderedDict()
        self.deaths: dict[int, _Reply] = {}
        self.parked: dict[bytes, _Reply] = {}  # asks answered after ANSWER_WAIT, by key
        self.carried: dict[int, _Carried] = {}  # FSMs supervised from another process
        self.next_id = 0
        self.dead_letters = 0

    def arrive(self, sender: str, first: int, items: list[tuple[bytes, _Reply | None]]) -> None:
        """``sender``'s messages numbered ``first``... arrived: hand on all that are due."""
        with self.lock:
            stream = self.streams.get(sender)
            if stream is None:
                stream = self.streams[sender] = Stream(self.hand_on)
            stream.arrive(first, items)

    def hand_on(self, item: tuple[bytes, _Reply | None]) -> None:
        """Put one message into its FSM's mailbox (in stream order)."""
        payload, reply = item
        fsm_id, kind, message, tag = _call(payload)
        entry = self.fsms.get(fsm_id)
        if kind == TELL:
            try:
                if entry is None:
                    raise ActorDeadError
                entry[0].tell(message)
            except ActorDeadError:
                carried = self.carried.get(fsm_id)
                if carried is None:
                    self.dead_letter(fsm_id, message)
                else:
                    carried.tells.append(message)
            return
        assert reply is not None
        reply.tag = tag
        if kind == LEFTOVERS:  # numbered after every tell the stand-in sent: all are in
            carried = self.carried.pop(fsm_id, None) if entry is None else None
            reply.set([] if carried is None else carried.tells)
        elif entry is None:
            carried = self.carried.get(fsm_id)
            if kind == ASK and carried is not None and tag is not None:
                carried.forward(Envelope(message, reply_to=reply))
            else:
                error = ActorDeadError(f"FSM {fsm_id} is stopped")
                reply.set_exception((ActorDeadError, error, None))
        elif kind == ASK:
            entry[0].actor_inbox.put(Envelope(message, reply_to=reply))
        elif kind == STOP:
            entry[0].actor_inbox.put(Envelope(ActorStop(), reply_to=reply))

    def dead_letter(self, fsm_id: int, message: object) -> None:
        """A tell to a stopped FSM: counted, the first one logged."""
        self.dead_letters += 1
        if self.dead_letters == 1:
            log.info(
                "dead_letters",
                host=self.host_id,
                fsm=fsm_id,
                message=safe_repr(message),
                note="later dead letters in this host are only counted",
            )

    def died(self, fsm_id: int, reason: Reason | None) -> None:
        """An FSM stopped: record why, wake its watchers, free its name."""
        try:
            payload = encode(reason)
        except TypeError:  # a cause that does not pickle still says what it was
            cause = reason.cause if isinstance(reason, Failure) else reason
            payload = encode(Failure(RuntimeError(safe_repr(cause))))
        with self.lock:
            entry = self.fsms.pop(fsm_id, None)
            hosting.remove(fsm_id)
            self.final[fsm_id] = payload
            if len(self.final) > FINAL_REASONS_KEPT:
                self.final.popitem(last=False)
            death = self.deaths.pop(fsm_id, None)
        if death is not None:
            death.settle(payload)
        if entry is not None and entry[1].name is not None:
            registry().release.remote(entry[1].name, entry[1])

    def look(self, fsm_id: int, view: Callable[[LocalRef], object]) -> bytes:
        """``view(fsm)`` (inspect or diagram) of FSM ``fsm_id``, encoded as a reply."""
        entry = self.fsms.get(fsm_id)
        if entry is None:
            return _reply(False, ActorDeadError(f"FSM {fsm_id} is stopped"))
        return _reply(True, view(entry[0]))


def _start_request(
    payload: bytes,
) -> tuple[type[FSM[Any, Any]], tuple[object, ...], dict[str, object]]:
    """The ``(class, args, kwargs)`` that ``actorfsm.ray.start`` encoded."""
    match decode(payload):
        case (type() as fsm_class, tuple() as args, dict() as kwargs) if issubclass(fsm_class, FSM):
            return fsm_class, args, kwargs
    msg = "not a request to start an FSM"
    raise TypeError(msg)


def _call(payload: bytes) -> tuple[int, int, object, int | None]:
    """The ``(fsm id, kind, message, tag)`` a ``RayRef`` encoded."""
    match decode(payload):
        case (int() as fsm_id, int() as kind, message, int() | None as tag):
            return fsm_id, kind, message, tag
    msg = "not a message to an FSM"
    raise TypeError(msg)


def _construct(
    fsm_class: type[FSM[Any, Any]],
    args: tuple[object, ...],
    kwargs: dict[str, object],
    carried: _Carried | None,
) -> LocalRef:
    if carried is None:
        return fsm_class.start(*args, **kwargs)
    with supervised(carried):
        return fsm_class.start(*args, **kwargs)


def _stop_each(refs: list[LocalRef], timeout: float) -> None:
    for ref in refs:
        try:
            ref.stop(block=True, timeout=timeout)
        except Exception as exc:
            log.warning("host_stop_failed", fsm=safe_repr(ref), error=safe_repr(exc))


def _reply(ok: bool, value: object) -> bytes:
    try:
        payload = encode((ok, value))
        if not ok:
            decode(payload)  # an exception that cannot be rebuilt is sent as its text
    except Exception as exc:
        text = safe_repr(value) if not ok else f"cannot send the reply: {exc}"
        return encode((False, RuntimeError(text)))
    return payload


class _Carried:
    """Supervision hooks for an FSM whose supervisor is in another process.

    Its failure stops it and is not logged here: the supervisor's stand-in
    learns the reason through death watch, and the supervisor logs it once.
    The messages it did not handle are kept, in order, for the stand-in to
    carry over to the next incarnation (an ask is carried when the stand-in
    tagged it; its asker's future lives in the stand-in).
    """

    __slots__ = ("tells",)  # tells, and CarriedAsk for tagged asks, in arrival order

    def __init__(self) -> None:
        self.tells: list[object] = []

    def resume(self, fsm: Stopping, exc: BaseException) -> bool:
        return False

    def report(self, fsm: Stopping, exc: BaseException, fields: dict[str, Any]) -> bool:
        return True

    def started(self, fsm: Stopping) -> None:
        """Nothing to tell: the stand-in learns that the FSM runs from ``start``'s reply."""

    def forward(self, envelope: Envelope[Any]) -> None:
        reply = envelope.reply_to
        if reply is None:
            self.tells.append(envelope.message)
        elif isinstance(reply, _Reply) and reply.tag is not None:
            self.tells.append(CarriedAsk(reply.tag, envelope.message))
            reply.set(CarriedAsk(reply.tag, None))  # the stand-in answers it later
        else:
            reject_envelope(envelope)


class _Reply(Future[object]):
    """The answer slot of one remote ask (or of one FSM's death): set once, waited for.

    A pykka future that the FSM sets; the asker reads the encoded ``payload``.
    """

    __slots__ = ("_done", "payload", "tag")

    def __init__(self) -> None:
        super().__init__()
        self._done = threading.Event()
        self.payload = PENDING
        self.tag: int | None = None

    def set(self, value: object = None) -> None:
        self.settle(_reply(True, value))

    def set_exception(self, exc_info: OptExcInfo | BaseException | None = None) -> None:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        self.settle(_reply(False, exc))

    def settle(self, payload: bytes) -> None:
        """Record the encoded answer (the first one only) and wake whoever waits."""
        if not self._done.is_set():
            self.payload = payload
            self._done.set()

    def wait(self, timeout: float) -> bool:
        """Whether the answer is in within ``timeout`` seconds."""
        return self._done.wait(timeout)


class _DeathSink:
    """Watches one hosted FSM: its ``Terminated`` is recorded by the host."""

    __slots__ = ("_fsm_id", "_host")

    def __init__(self, host: _Hosted, fsm_id: int) -> None:
        self._host = host
        self._fsm_id = fsm_id

    def tell(self, message: object) -> None:
        if isinstance(message, Terminated):  # death watch tells a watcher nothing else
            self._host.died(self._fsm_id, message.reason)


HostActor = ray.remote(concurrency_groups={"waits": WAITING_CALLS})(Host)  # type: ignore[call-overload]
"""The Ray actor class of hosts."""
