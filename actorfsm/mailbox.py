"""The FSM's inbox: a deque and a token that says who may run the FSM.

Producers only ``append`` (atomic under the GIL) and try the token, a lock
taken without waiting: the one producer that takes it from an idle mailbox
schedules the mailbox on its dispatcher (:mod:`actorfsm.dispatch`); every
other producer just leaves its message in the deque. The worker that runs the
mailbox gives the token back when it is done, then looks at the deque once
more, so a message that arrived while it was giving up is never stranded.

Until the FSM starts, the token is held (messages wait); after it stops, the
mailbox is closed and answers whatever still reaches it: asks fail with
``ActorDeadError``, and a supervised FSM hands them to its supervisor, so a
message that races with the actor's death is never silently lost and an
``ask`` never hangs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sized
from typing import TYPE_CHECKING

from pykka import ActorDeadError

from actorfsm import stuck
from actorfsm.pykka_seam import Envelope

if TYPE_CHECKING:
    from actorfsm.dispatch import Dispatcher
    from actorfsm.runners import Owner, Runner

RejectFn = Callable[[Envelope[object]], None]


class Mailbox:
    """The inbox of one FSM; implements pykka's ``ActorInbox`` protocol."""

    __slots__ = ("_reject", "_schedule", "_token", "closed", "dispatcher", "owner", "queue")

    def __init__(self, owner: Owner, dispatcher: Dispatcher) -> None:
        self.queue: deque[Envelope[object]] = deque()
        self._token = threading.Lock()
        self._token.acquire()  # held until the FSM starts
        self.owner: Owner | None = owner  # None once closed: a stopped FSM is not kept alive
        self.dispatcher = dispatcher
        self.closed = False
        self._schedule: Callable[[Mailbox], None] = dispatcher.schedule
        self._reject: RejectFn = reject_envelope

    def put(self, envelope: Envelope[object], /) -> None:
        """Enqueue ``envelope``; schedule the FSM if it was idle."""
        self.queue.append(envelope)
        if self._token.acquire(False):
            self._schedule(self)

    def put_many(self, envelopes: list[Envelope[object]]) -> None:
        """Enqueue ``envelopes`` in order with at most one scheduling."""
        self.queue.extend(envelopes)
        if self._token.acquire(False):
            self._schedule(self)

    def get(self) -> Envelope[object]:
        """Take the next envelope (pykka's protocol; the engine reads ``queue`` directly)."""
        return self.queue.popleft()

    def empty(self) -> bool:
        """Whether nothing is queued."""
        return not self.queue

    # --------------------------------------------------------- the owner side

    def open(self, *, run: bool) -> None:
        """The FSM started: schedule it if ``run`` or messages wait, else give the token back."""
        if run or self.queue:
            self._schedule(self)
        else:
            self._release()

    def run(self, runner: Runner, budget: int, waiting: Sized) -> None:
        """Run the FSM until it is idle, or ``budget`` messages at a time while ``waiting`` (the
        pool's run queue) is empty; then let go."""
        owner = self.owner
        assert owner is not None  # a closed mailbox is never scheduled to run
        runner.current = owner
        try:
            owner._run_slice(budget, waiting)
        finally:
            runner.current = None
            if owner._stuck_since is not None:
                stuck.watcher.returned(owner, time.monotonic())
        self._finish(runner)

    def _finish(self, runner: Runner) -> None:
        """Give the token back; take it again (and requeue) if messages arrived meanwhile."""
        token = self._token
        token.release()
        if self.queue and token.acquire(False):
            if not self.closed:
                self.dispatcher.requeue(self)
                return
            self._drain_closed(self)
        runner.idled += 1

    def run_if_idle(self, action: Callable[[], bool]) -> bool:
        """Run ``action`` on this thread if the FSM is idle (started, not running, nothing queued).

        The token is held meanwhile, so no worker runs the FSM; what arrives
        meanwhile waits, and is scheduled (or rejected, if ``action`` closed
        the mailbox) when the token is given back. ``False``: not idle, or
        ``action`` declined.
        """
        if not self._token.acquire(False):
            return False
        try:
            return not self.queue and not self.closed and action()
        finally:
            self._release()

    def _release(self) -> None:
        token = self._token
        token.release()
        if self.queue and token.acquire(False):
            self._schedule(self)

    def close(self, reject: RejectFn) -> None:
        """Refuse everything from now on: ``reject`` each queued and late envelope.

        Called by the token holder (the FSM stopping); releases the owner so a
        stopped FSM is not kept alive by refs to its mailbox.
        """
        self._reject = reject
        self.closed = True
        self._schedule = self._drain_closed
        self.owner = None
        queue = self.queue
        while queue:
            reject(queue.popleft())

    def _drain_closed(self, _mailbox: Mailbox) -> None:
        """Reject what reached the closed mailbox (token held), in order, then let go."""
        queue = self.queue
        token = self._token
        while True:
            while queue:
                self._reject(queue.popleft())
            token.release()
            if not (queue and token.acquire(False)):
                return


def reject_envelope(envelope: Envelope[object]) -> None:
    """Fail the ask of an envelope that can no longer be handled."""
    if envelope.reply_to is not None:
        error = ActorDeadError("actor stopped before handling the message")
        envelope.reply_to.set_exception((ActorDeadError, error, None))
