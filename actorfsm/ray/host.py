"""The host: one Ray actor process that runs many FSMs, each on the engine as in-process.

A host is an async Ray actor, so a call waiting for an FSM's answer (an ask
the FSM postponed, a death watch) holds no thread; Ray may start its calls in
any order, so each sender's calls go through a :class:`~actorfsm.ray.reorder.Stream`
that hands their messages to the FSMs' mailboxes in the order they were sent.
FSMs are started with their class's own ``start()`` in a worker thread, so
they run on whatever the engine runs FSMs on, with their timers, postponing,
rolling log and stuck-handler detection.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from typing import Any, cast

import ray
import structlog
from pykka import ActorDeadError, Future
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from actorfsm.death_watch import Terminated, watch
from actorfsm.fsm import FSM, supervised
from actorfsm.introspection import diagram, inspect
from actorfsm.logging import configure
from actorfsm.mailbox import reject_envelope
from actorfsm.messages import Failure
from actorfsm.ray import hosting
from actorfsm.ray.outbox import HEADER
from actorfsm.ray.ref import ASK, LEFTOVERS, STOP, TELL, CarriedAsk, RayRef
from actorfsm.ray.registry import registry
from actorfsm.ray.reorder import Stream
from actorfsm.ray.wire import decode, encode
from actorfsm.rendering import safe_repr

log = structlog.get_logger("actorfsm.ray")

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

    async def start(self, payload: bytes, name: str | None, quiet: bool) -> bytes:
        """Start an FSM from its encoded ``(class, args, kwargs)``: ``(ok, RayRef | error)``."""
        h = self._h
        loop = asyncio.get_running_loop()
        fsm_class, args, kwargs = decode(payload)
        fsm_id = h.next_id
        h.next_id += 1
        carried = _Carried() if quiet else None
        try:
            local = await asyncio.to_thread(_construct, fsm_class, args, kwargs, carried)
        except Exception as exc:
            return _reply(False, exc)
        if carried is not None:
            h.carried[fsm_id] = carried
        remote = RayRef(
            h.handle,
            h.host_id,
            fsm_id,
            name=name,
            node_id=h.node_id,
            class_name=fsm_class.__name__,
        )
        h.fsms[fsm_id] = (local, remote)
        h.deaths[fsm_id] = loop.create_future()
        hosting.add(fsm_id, local, remote)
        watch(_DeathSink(loop, h, fsm_id), local)
        return _reply(True, remote)

    async def deliver(self, sender: str, first: int, batch: list[bytes]) -> None:
        """Tells (and stop requests) numbered ``first``... from ``sender``."""
        self._h.stream(sender).arrive(first, [(payload, None) for payload in batch])

    async def ask(self, message: bytes) -> bytes:
        """An ask (sender, number, payload; see ``outbox``): the encoded ``(ok, reply | error)``."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        sender = message[: HEADER - 8].decode("ascii")
        seq = int.from_bytes(message[HEADER - 8 : HEADER], "big")
        self._h.stream(sender).arrive(seq, [(message[HEADER:], _Reply(loop, answer))])
        return await answer

    async def watch(self, fsm_id: int) -> bytes:
        """Return the encoded stop reason of FSM ``fsm_id`` once it has stopped."""
        h = self._h
        final = h.final.get(fsm_id)
        if final is not None:
            return final
        waiting = h.deaths.get(fsm_id)
        if waiting is None:
            return encode(None)
        return await asyncio.shield(waiting)

    async def alive(self, fsm_id: int) -> bool:
        """Whether FSM ``fsm_id`` runs here."""
        entry = self._h.fsms.get(fsm_id)
        return entry is not None and bool(entry[0].is_alive())

    async def inspect(self, fsm_id: int) -> bytes:
        """The encoded ``(ok, FSMSnapshot | error)`` of FSM ``fsm_id``."""
        return self._h.look(fsm_id, inspect)

    async def diagram(self, fsm_id: int) -> bytes:
        """The encoded ``(ok, mermaid text | error)`` of FSM ``fsm_id``."""
        return self._h.look(fsm_id, diagram)

    async def info(self) -> tuple[str, int, int]:
        """``(node id, process id, number of FSMs)``."""
        return self._h.node_id, os.getpid(), len(self._h.fsms)

    async def stop_all(self, timeout: float) -> int:
        """Stop every FSM here (each waited for up to ``timeout`` s); how many were running."""
        refs = [local for local, _ in self._h.fsms.values()]
        await asyncio.to_thread(_stop_each, refs, timeout)
        return len(refs)


class _Hosted:
    """What a host knows: its FSMs, the streams of its senders, why FSMs stopped."""

    def __init__(self, host_id: str, node_id: str, handle: Any) -> None:
        self.host_id = host_id
        self.node_id = node_id
        self.handle = handle  # the host actor's own handle, for the RayRefs it gives out
        self.streams: dict[str, Stream] = {}
        self.fsms: dict[int, tuple[Any, RayRef]] = {}
        # The encoded stop reason of the latest stopped FSMs (for late watchers).
        self.final: OrderedDict[int, bytes] = OrderedDict()
        self.deaths: dict[int, asyncio.Future[bytes]] = {}
        self.carried: dict[int, _Carried] = {}  # FSMs supervised from another process
        self.next_id = 0
        self.dead_letters = 0

    def stream(self, sender: str) -> Stream:
        """The stream of ``sender`` (made on its first message)."""
        stream = self.streams.get(sender)
        if stream is None:
            stream = self.streams[sender] = Stream(self.hand_on)
        return stream

    def hand_on(self, item: tuple[bytes, _Reply | None]) -> None:
        """Put one message into its FSM's mailbox (in stream order)."""
        payload, reply = item
        fsm_id, kind, message, tag = decode(payload)
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
                carried.forward(Envelope(message, reply_to=cast("Future[Any]", reply)))
            else:
                error = ActorDeadError(f"FSM {fsm_id} is stopped")
                reply.set_exception((ActorDeadError, error, None))
        elif kind == ASK:
            entry[0].actor_inbox.put(Envelope(message, reply_to=cast("Future[Any]", reply)))
        elif kind == STOP:
            entry[0].actor_inbox.put(Envelope(_ActorStop(), reply_to=cast("Future[Any]", reply)))

    def dead_letter(self, fsm_id: int, message: Any) -> None:
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

    def died(self, fsm_id: int, reason: Any) -> None:
        """An FSM stopped (in the event loop): record why, wake its watchers, free its name."""
        entry = self.fsms.pop(fsm_id, None)
        hosting.remove(fsm_id)
        try:
            payload = encode(reason)
        except TypeError:  # a cause that does not pickle still says what it was
            cause = reason.cause if isinstance(reason, Failure) else reason
            payload = encode(Failure(RuntimeError(safe_repr(cause))))
        self.final[fsm_id] = payload
        if len(self.final) > FINAL_REASONS_KEPT:
            self.final.popitem(last=False)
        waiting = self.deaths.pop(fsm_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(payload)
        if entry is not None and entry[1].name is not None:
            registry().release.remote(entry[1].name, entry[1])

    def look(self, fsm_id: int, view: Any) -> bytes:
        """``view(fsm)`` (inspect or diagram) of FSM ``fsm_id``, encoded as a reply."""
        entry = self.fsms.get(fsm_id)
        if entry is None:
            return _reply(False, ActorDeadError(f"FSM {fsm_id} is stopped"))
        return _reply(True, view(entry[0]))


def _construct(
    fsm_class: type[FSM[Any, Any]], args: Any, kwargs: Any, carried: _Carried | None
) -> Any:
    if carried is None:
        return fsm_class.start(*args, **kwargs)
    with supervised(carried):
        return fsm_class.start(*args, **kwargs)


def _stop_each(refs: list[Any], timeout: float) -> None:
    for ref in refs:
        try:
            ref.stop(block=True, timeout=timeout)
        except Exception as exc:
            log.warning("host_stop_failed", fsm=safe_repr(ref), error=safe_repr(exc))


def _reply(ok: bool, value: Any) -> bytes:
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
        self.tells: list[Any] = []

    def resume(self, fsm: FSM[Any, Any], exc: BaseException) -> bool:
        return False

    def report(self, fsm: FSM[Any, Any], exc: BaseException, fields: dict[str, Any]) -> bool:
        return True

    def forward(self, envelope: Envelope[Any]) -> None:
        reply = envelope.reply_to
        if reply is None:
            self.tells.append(envelope.message)
        elif isinstance(reply, _Reply) and reply.tag is not None:
            self.tells.append(CarriedAsk(reply.tag, envelope.message))
            reply.set(CarriedAsk(reply.tag, None))  # the stand-in answers it later
        else:
            reject_envelope(envelope)


class _Reply:
    """The reply slot of one remote ask: the FSM's thread sets it, the event loop sends it."""

    __slots__ = ("_answer", "_loop", "tag")

    def __init__(self, loop: asyncio.AbstractEventLoop, answer: asyncio.Future[bytes]) -> None:
        self._loop = loop
        self._answer = answer
        self.tag: int | None = None

    def set(self, value: Any = None) -> None:
        self._send(_reply(True, value))

    def set_exception(self, exc_info: Any = None) -> None:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        self._send(_reply(False, exc))

    def _send(self, payload: bytes) -> None:
        self._loop.call_soon_threadsafe(_settle, self._answer, payload)


def _settle(answer: asyncio.Future[bytes], payload: bytes) -> None:
    if not answer.done():
        answer.set_result(payload)


class _DeathSink:
    """Watches one hosted FSM: its ``Terminated`` is handed to the host's event loop."""

    __slots__ = ("_fsm_id", "_host", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, host: _Hosted, fsm_id: int) -> None:
        self._loop = loop
        self._host = host
        self._fsm_id = fsm_id

    def tell(self, message: Terminated) -> None:
        self._loop.call_soon_threadsafe(self._host.died, self._fsm_id, message.reason)


HostActor = ray.remote(Host)
"""The Ray actor class of hosts."""
