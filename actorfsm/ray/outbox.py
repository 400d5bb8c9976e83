"""What this process sends to each host: one numbered stream, tells batched, asks at once.

Every message this process sends to a host gets the next number of that
(sender, host) stream; the host delivers them in number order whatever order
Ray's calls arrive in (see :mod:`actorfsm.ray.reorder`). Tells are queued and
a sender thread ships everything queued as one call, so a burst of tells costs
a few Ray calls instead of one each; asks are sent at once from the caller's
thread (they wait, in the host, behind the tells numbered before them). At
most :data:`IN_FLIGHT` batches are in flight per host, which bounds what a
dead host can swallow and lets the queue grow into larger batches.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from typing import Protocol, TypeVar

import ray
import structlog
from ray import ObjectRef

R = TypeVar("R")

IN_FLIGHT = 2
"""Batches of tells sent to one host and not yet received."""

SENDER = uuid.uuid4().hex
"""This process's name as a sender (hosts keep one stream per sender)."""

PENDING = b""
"""What a host's ask, ``reply`` or ``watch`` call returns when the answer is not in yet."""

_SENDER_BYTES = SENDER.encode("ascii")
HEADER = len(_SENDER_BYTES) + 8
"""An ask is one bytes argument (each argument of a Ray call costs): sender, number, payload."""

log = structlog.get_logger("actorfsm.ray")

_outboxes: dict[str, Outbox] = {}
_outboxes_lock = threading.Lock()


class RemoteMethod(Protocol[R]):
    """A method of a Ray actor, as its handle has it: ``.remote(...)`` returns its answer's ref."""

    def remote(self, *args: object) -> ObjectRef[R]:
        """Call the method in the actor's process."""


class HostHandle(Protocol):
    """The Ray actor handle of a host: the calls of :class:`actorfsm.ray.host.Host`."""

    @property
    def start(self) -> RemoteMethod[bytes]: ...
    @property
    def deliver(self) -> RemoteMethod[None]: ...
    @property
    def ask(self) -> RemoteMethod[bytes]: ...
    @property
    def reply(self) -> RemoteMethod[bytes]: ...
    @property
    def watch(self) -> RemoteMethod[bytes]: ...
    @property
    def alive(self) -> RemoteMethod[bool]: ...
    @property
    def inspect(self) -> RemoteMethod[bytes]: ...
    @property
    def diagram(self) -> RemoteMethod[bytes]: ...
    @property
    def info(self) -> RemoteMethod[tuple[str, int, int]]: ...
    @property
    def stop_all(self) -> RemoteMethod[int]: ...


class Outbox:
    """The stream from this process to one host."""

    def __init__(self, host: HostHandle, host_id: str) -> None:
        self._host = host
        self._host_id = host_id
        self._cond = threading.Condition(threading.Lock())
        self._next = 0  # the number of the next message
        self._first = 0  # the number of _queued[0]
        self._queued: list[bytes] = []
        self._sealed: list[tuple[int, list[bytes]]] = []  # runs of tells cut by an ask
        self._thread = threading.Thread(
            target=self._ship, name=f"actorfsm-outbox-{host_id[:8]}", daemon=True
        )
        self._thread.start()

    def tell(self, payload: bytes) -> None:
        """Queue one encoded tell (or stop request) for the next batch."""
        with self._cond:
            if not self._queued:
                self._first = self._next
                self._cond.notify()
            self._queued.append(payload)
            self._next += 1

    def ask(self, payload: bytes) -> tuple[ObjectRef[bytes], bytes]:
        """Send one encoded ask now: the ObjectRef of the host's answer, and the ask's key.

        The key (sender and number) is what ``reply`` calls fetch the answer
        by, when the first call returned before the FSM answered.
        """
        with self._cond:
            if self._queued:  # the tells before it are one run, the tells after it the next
                self._sealed.append((self._first, self._queued))
                self._queued = []
            seq = self._next
            self._next += 1
        key = _SENDER_BYTES + seq.to_bytes(8, "big")
        return self._host.ask.remote(key + payload), key

    def _ship(self) -> None:
        in_flight: deque[ObjectRef[None]] = deque()
        while True:
            with self._cond:
                while not (self._queued or self._sealed):
                    self._cond.wait()
                runs, self._sealed = self._sealed, []
                if self._queued:
                    runs.append((self._first, self._queued))
                    self._queued = []
            try:
                for first, run in runs:
                    in_flight.append(self._host.deliver.remote(SENDER, first, run))
                    if len(in_flight) > IN_FLIGHT:
                        ray.wait([in_flight.popleft()], fetch_local=False)
            except Exception as exc:  # Ray was shut down in this process: nothing can be sent
                with _outboxes_lock:
                    if _outboxes.get(self._host_id) is self:
                        del _outboxes[self._host_id]
                log.debug("outbox_closed", host=self._host_id, runs=len(runs), error=repr(exc))
                return


def to(host: HostHandle, host_id: str) -> Outbox:
    """This process's outbox to the host ``host_id`` (made on first use)."""
    outbox = _outboxes.get(host_id)
    if outbox is None:
        with _outboxes_lock:
            outbox = _outboxes.get(host_id)
            if outbox is None:
                outbox = _outboxes[host_id] = Outbox(host, host_id)
    return outbox
