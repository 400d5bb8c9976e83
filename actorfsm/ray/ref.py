"""``RayRef``: a ref to an FSM on the cluster that behaves like a pykka ``ActorRef``.

``tell``, ``ask`` (blocking, with ``timeout``, or ``block=False`` for a
future) and ``stop`` go through this process's outbox to the FSM's host, in
one numbered stream per sender and host, so they are delivered in the order
they were sent; in the host that runs the FSM they go straight to its mailbox.
A ``RayRef`` pickles (it names a host and an FSM in it), so it can travel in
messages and be used from any process of the cluster.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import pykka
from pykka import ActorDeadError
from ray import ObjectRef

from actorfsm.death_watch import Watch
from actorfsm.pykka_seam import Envelope
from actorfsm.ray import death, failures, hosting, outbox
from actorfsm.ray.outbox import PENDING, HostHandle
from actorfsm.ray.wire import decode, encode

if TYPE_CHECKING:
    from pykka._types import OptExcInfo

T = TypeVar("T")

TELL = 0
ASK = 1
STOP = 2
LEFTOVERS = 3  # the tells a stopped supervised FSM did not handle (see RemoteChild)


class RayRef:
    """A picklable ref to an FSM running in a host process of the Ray cluster.

    Refs to the same FSM compare equal wherever they were unpickled.
    ``watch(watcher, ray_ref)`` delivers ``Terminated(ray_ref, reason)`` to
    the watcher when the FSM stops, fails, or its host or node dies
    (``Failure(HostLost(...))``, ``Failure(NodeLost(...))``).
    """

    __slots__ = ("class_name", "fsm_id", "host", "host_id", "name", "node_id")

    def __init__(
        self,
        host: HostHandle,
        host_id: str,
        fsm_id: int,
        *,
        name: str | None,
        node_id: str,
        class_name: str,
    ) -> None:
        self.host = host
        """The Ray actor handle of the host process."""
        self.host_id = host_id
        self.fsm_id = fsm_id
        self.name = name
        """The name it was started with (``actorfsm.ray.get(name)`` finds it), or ``None``."""
        self.node_id = node_id
        """The Ray node the FSM runs on."""
        self.class_name = class_name

    def __reduce__(self) -> tuple[Callable[..., RayRef], tuple[object, ...]]:
        labels = (self.name, self.node_id, self.class_name)
        return (_rebuild, (self.host, self.host_id, self.fsm_id, labels))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RayRef):
            return NotImplemented
        return self.fsm_id == other.fsm_id and self.host_id == other.host_id

    def __hash__(self) -> int:
        return hash((self.host_id, self.fsm_id))

    def __repr__(self) -> str:
        label = "" if self.name is None else f" {self.name!r}"
        return f"<RayRef {self.class_name}{label} on node {self.node_id[:8]}>"

    # ----------------------------------------------------------- the public API

    def tell(self, message: object) -> None:
        """Send ``message`` (at most once, after everything this process sent it before)."""
        if type(message) is Watch:
            death.request(self, message)
            return
        if hosting.is_local(self):
            self._local().tell(message)
            return
        outbox.to(self.host, self.host_id).tell(encode((self.fsm_id, TELL, message, None)))

    @overload
    def ask(
        self, message: object, *, block: Literal[False], timeout: float | None = None
    ) -> pykka.Future[Any]: ...

    @overload
    def ask(
        self, message: object, *, block: Literal[True] = True, timeout: float | None = None
    ) -> Any: ...

    def ask(self, message: object, *, block: bool = True, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the reply (or return a future when ``block=False``).

        Raises ``pykka.Timeout`` after ``timeout`` seconds, ``ActorDeadError``
        if the FSM is stopped, ``HostLost``/``NodeLost`` if its host or node
        died before it answered, and whatever the handler raised.
        """
        if hosting.is_local(self):
            return self._local().ask(message, block=block, timeout=timeout)
        future = self._send_ask(ASK, message)
        return future.get(timeout=timeout) if block else future

    def stop(
        self, block: bool = True, timeout: float | None = None
    ) -> bool | pykka.Future[bool] | RayFuture:
        """Stop the FSM after the messages this process sent it before (``Shutdown``)."""
        if hosting.is_local(self):
            return self._local().stop(block=block, timeout=timeout)
        future = self._send_ask(STOP, None)
        if not block:
            return future
        try:
            future.get(timeout=timeout)
        except ActorDeadError:
            return False
        return True

    def is_alive(self) -> bool:
        """Whether the FSM is running (asks its host; ``False`` if the host is gone)."""
        try:
            return bool(failures.ray.get(self.host.alive.remote(self.fsm_id), timeout=10.0))
        except (failures.RayActorError, failures.GetTimeoutError):
            return False

    def ask_into(
        self, message: object, reply_to: pykka.Future[object], tag: int | None = None
    ) -> None:
        """Ask without waiting: the reply (or error) is set on ``reply_to``, a pykka future.

        For stand-ins that relay asks they were sent (see ``RemoteChild``).
        With a ``tag``, an ask the FSM stopped before handling is not failed
        but carried: it comes back as ``CarriedAsk(tag, message)`` among the
        FSM's leftovers, and ``reply_to`` is left for the next incarnation.
        """
        if hosting.is_local(self):
            local = hosting.local_ref(self)
            if local is None:
                error = ActorDeadError(f"{self} is stopped")
                reply_to.set_exception((ActorDeadError, error, None))
            else:
                local.actor_inbox.put(Envelope(message, reply_to=reply_to))
            return
        self._send_ask(ASK, message, tag).on_done(lambda done: _relay(done, reply_to))

    def leftovers(self) -> RayFuture:
        """The messages the FSM never handled, once it stopped (for a stand-in; see ``ask_into``).

        Only an FSM started with ``quiet=True`` keeps them; the request is
        numbered after everything this process sent it, so none is missed.
        """
        return self._send_ask(LEFTOVERS, None)

    # ------------------------------------------------------------------ inside

    def _local(self) -> hosting.LocalRef:
        local = hosting.local_ref(self)
        if local is None:
            msg = f"{self} is stopped"
            raise ActorDeadError(msg)
        return local

    def _send_ask(self, kind: int, message: object, tag: int | None = None) -> RayFuture:
        payload = encode((self.fsm_id, kind, message, tag))
        reply, key = outbox.to(self.host, self.host_id).ask(payload)
        return RayFuture(self, reply, key)


class RayFuture(pykka.Future[Any]):
    """A remote ask's reply as a pykka future: ``get(timeout=...)``; never hangs on a dead host."""

    def __init__(self, ref: RayRef, reply: ObjectRef[bytes], key: bytes) -> None:
        super().__init__()
        self._ref = ref
        self._reply = reply  # the ObjectRef of the host's latest answer to this ask
        self._key = key
        self._payload: bytes | None = None

    def get(self, *, timeout: float | None = None) -> Any:
        """The reply, or the handler's exception; ``pykka.Timeout`` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self._payload is None:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._take(failures.ray.get(self._reply, timeout=left))
        except failures.GetTimeoutError:
            msg = f"{timeout} seconds"
            raise pykka.Timeout(msg) from None
        except failures.RayActorError as exc:
            raise failures.lost(repr(self._ref), self._ref.node_id, exc) from exc
        return unwrap(decode(self._payload), object)

    def _take(self, payload: bytes) -> None:
        """Keep the answer, or (``PENDING``: not in yet) ask the host for it again."""
        if payload == PENDING:
            self._reply = self._ref.host.reply.remote(self._key)
        else:
            self._payload = payload

    def set(self, value: object = None) -> None:
        """Not settable: only the host answers."""
        msg = "a RayFuture is answered by the remote FSM"
        raise TypeError(msg)

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        """Not settable: only the host answers."""
        self.set()

    def on_done(self, callback: Callable[[RayFuture], object]) -> None:
        """Call ``callback(self)`` in a background thread once the reply (or failure) is in."""
        self._reply.future().add_done_callback(
            lambda done: failures.background.submit(self._step, done, callback)
        )

    def _step(
        self, done: concurrent.futures.Future[bytes], callback: Callable[[RayFuture], object]
    ) -> None:
        try:
            self._take(done.result())
        except Exception:  # a dead host: get() raises it
            callback(self)
            return
        if self._payload is None:
            self.on_done(callback)
        else:
            callback(self)


@dataclass(frozen=True, slots=True)
class CarriedAsk:
    """An ask a stopped FSM never handled, carried over (see :meth:`RayRef.ask_into`)."""

    tag: int
    message: object


def _relay(done: RayFuture, reply_to: pykka.Future[object]) -> None:
    try:
        value = done.get()
    except BaseException as exc:
        reply_to.set_exception((type(exc), exc, exc.__traceback__))
    else:
        if value.__class__ is not CarriedAsk:  # else the next incarnation answers it
            reply_to.set(value)


def _rebuild(
    host: HostHandle, host_id: str, fsm_id: int, labels: tuple[str | None, str, str]
) -> RayRef:
    name, node_id, class_name = labels
    return RayRef(host, host_id, fsm_id, name=name, node_id=node_id, class_name=class_name)


def unwrap(reply: object, kind: type[T]) -> T:
    """A host's reply ``(ok, value)``: the value (a ``kind``), or raise the exception it carries."""
    match reply:
        case (True, value) if isinstance(value, kind):
            return value
        case (False, BaseException() as error):
            raise error
    msg = f"not a host's reply with a {kind.__name__}: {reply!r:.200}"
    raise TypeError(msg)
