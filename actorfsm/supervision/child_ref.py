"""``ChildRef``: a reference to a supervised child that survives its restarts.

A pykka ``ActorRef`` names one actor instance; when a supervisor restarts a
child, the old ref is dead. A :class:`ChildRef` names the child *slot*: its
``tell``/``ask``/``proxy`` reach whichever incarnation is current, and what
was sent to an incarnation that stopped is carried over to the next one.

How a message finds its incarnation (the design, because order matters):

- ``tell`` puts the envelope straight into the current incarnation's mailbox
  (one attribute read more than ``ActorRef.tell``).
- When an incarnation stops, the engine hands every message that reaches its
  mailbox afterwards to :meth:`ChildRef._forward`, in mailbox order (postponed
  events first, then queued ones, then late arrivals). The failing message is
  not among them: the engine answered or dropped it.
- From the current incarnation, forwarded envelopes go to a buffer; when the
  supervisor installs the next incarnation, the buffer is delivered to it in
  order before anything newer (tells keep going to the old mailbox, and are
  forwarded, until the buffer is delivered).
- From an older incarnation (a late sender that read the old mailbox), the
  envelope goes to the current incarnation's mailbox, so it queues behind
  everything its sender sent before.
- While the child waits out a restart backoff, buffered and later asks fail
  at once with :class:`ChildRestarting` (naming the child and when its
  restart is due) instead of waiting up to their own timeout; tells wait.
- When the child is stopped for good, buffered and later asks fail with
  ``ActorDeadError``, and tells are dead letters: counted, and logged once.

Only the buffer and the switch between incarnations take a lock; the lock is
never held while putting into a mailbox, since a stopped mailbox forwards
(and so re-enters this object) from whichever thread puts into it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal, cast, overload

import structlog
from pykka import Actor, ActorDeadError, ActorProxy, ActorRef, Future, ThreadingFuture

from actorfsm import death_watch, scheduler
from actorfsm import metric_hooks as _metrics
from actorfsm.death_watch import Watch
from actorfsm.futures import Reply
from actorfsm.mailbox import Mailbox
from actorfsm.messages import Failure, Reason
from actorfsm.pykka_seam import Envelope, actor_of
from actorfsm.recipient import Ref

log = structlog.get_logger("actorfsm.supervision")


class ChildRestarting(ActorDeadError):
    """An ask reached a child that waits out a restart backoff: it fails at once.

    The child failed and its restart is due in :attr:`restart_in` seconds
    (after a backoff, which a dead dependency always gets); rather than wait
    up to its own timeout, the ask fails now. Tells are kept for the next
    incarnation. It is an ``ActorDeadError``: the child cannot answer now.
    """

    def __init__(self, child: str, supervisor: str, restart_in: float) -> None:
        super().__init__(
            f"child {child!r} of {supervisor} is restarting after a failure; "
            f"its restart is due in {restart_in:.3g} s: ask again then"
        )
        self.child = child
        self.supervisor = supervisor
        self.restart_in = restart_in


class ChildRef:
    """A stable reference to a supervised child: always reaches the current incarnation.

    Get one with ``supervisor_ref.ask(GetChild(name))``. ``tell``, ``ask`` and
    ``proxy`` mirror pykka's ``ActorRef``; messages sent while the child
    restarts wait for the new incarnation, in order. Once the child is stopped
    for good (not restarted, or its supervisor stopped), asks fail with
    ``ActorDeadError`` and tells are counted as :attr:`dead_letters` (logged
    once as ``dead_letters``). ``watch(watcher, child_ref)`` sends
    ``Terminated(child_ref, reason)`` when the child is stopped for good, not
    at each restart. Refs compare by identity, like pykka's.
    """

    __slots__ = (
        "_buffer",
        "_cond",
        "_dead_letters",
        "_dead_letters_logged",
        "_final_reason",
        "_flushing",
        "_instance",
        "_open",
        "_put",
        "_ref",
        "_restart_due",
        "_source",
        "_source_dead",
        "_target",
        "_watchers",
        "actor_class",
        "name",
        "supervisor",
    )

    def __init__(self, name: str, actor_class: type[object], supervisor: str) -> None:
        self.name = name
        """The child's name in its ``ChildSpec``."""
        self.actor_class = actor_class
        """The class every incarnation is built from."""
        self.supervisor = supervisor
        """The supervising actor, as text (for logs)."""
        self._cond = threading.Condition(threading.Lock())
        self._buffer: list[Envelope[object]] = []
        self._source: object = None  # the supervision hooks of the current incarnation
        self._source_dead = False
        self._target: Mailbox | None = None
        self._ref: ActorRef[Any] | None = None
        self._instance: Actor | None = None
        self._flushing = False
        self._open = True
        self._final_reason: Reason | None = None
        self._watchers: list[Ref] = []
        self._dead_letters = 0
        self._dead_letters_logged = False
        self._restart_due: float | None = None  # a backoff restart is due then
        # Before the first incarnation, tells wait in the buffer; afterwards this
        # is the current incarnation's ``Mailbox.put``, then the dead-letter office.
        self._put: Callable[[Envelope[object]], None] = self._hold

    def __repr__(self) -> str:
        return f"<ChildRef {self.name!r} of {self.supervisor}>"

    def __str__(self) -> str:
        return f"{self.actor_class.__name__} ({self.name!r} of {self.supervisor})"

    # ----------------------------------------------------------- the public API

    def tell(self, message: object) -> None:
        """Send ``message`` to the current incarnation (or the next one, if it is restarting)."""
        if message.__class__ is Watch:
            self._watch(message)
            return
        self._put(Envelope(message))

    @overload
    def ask(
        self, message: object, *, block: Literal[False], timeout: float | None = None
    ) -> Future[Any]: ...

    @overload
    def ask(
        self, message: object, *, block: Literal[True] = True, timeout: float | None = None
    ) -> Any: ...

    @overload
    def ask(
        self, message: object, *, block: bool = True, timeout: float | None = None
    ) -> Any | Future[Any]: ...

    def ask(self, message: object, *, block: bool = True, timeout: float | None = None) -> Any:
        """Send ``message`` and wait for the reply (or return a future when ``block=False``).

        An ask waiting for a restarting child is answered by the new
        incarnation; one that can never be delivered fails with ``ActorDeadError``.
        """
        future: ThreadingFuture[Any] = Reply()
        self._put(Envelope(message, reply_to=future))
        if block:
            return future.get(timeout=timeout)
        return future

    def proxy(self) -> ActorProxy[Any]:
        """A pykka ``ActorProxy`` whose calls and attribute reads reach the current incarnation."""
        if self._instance is None:
            msg = f"{self} has no incarnation yet (its first start failed)"
            raise ActorDeadError(msg)
        return ActorProxy(actor_ref=cast("ActorRef[Any]", self))

    def is_alive(self) -> bool:
        """Whether the child may still handle messages (``False`` once stopped for good)."""
        return self._open

    def current(self) -> ActorRef[Any] | None:
        """The ``ActorRef`` of the current incarnation if it is alive (it changes on restart)."""
        ref = self._ref
        return ref if ref is not None and ref.is_alive() else None

    @property
    def dead_letters(self) -> int:
        """How many tells could not be delivered because the child was stopped for good."""
        return self._dead_letters

    def _actor_weakref(self) -> Actor | None:
        """The latest incarnation's instance, for pykka's proxy introspection."""
        return self._instance

    # ----------------------------------------------- used by the supervisor only

    def _install(self, source: object, ref: ActorRef[Any]) -> None:
        """Make ``ref`` (supervised by ``source``) current: deliver the buffer, then route to it.

        Called in the supervisor's thread right after the incarnation started.
        While the buffer is delivered, late senders wait (briefly) so that
        nothing overtakes it; the lock itself is released around each put.
        """
        mailbox = cast("Mailbox", ref.actor_inbox)
        instance = actor_of(ref)
        with self._cond:
            if not self._open:
                return
            self._source = source
            self._source_dead = False
            self._restart_due = None
            self._target = mailbox
            self._ref = ref
            if instance is not None:
                self._instance = instance
            self._flushing = True
            try:
                while self._buffer and not self._source_dead:
                    batch, self._buffer = self._buffer, []
                    self._cond.release()
                    try:
                        mailbox.put_many(batch)
                    finally:
                        self._cond.acquire()
                self._put = mailbox.put
            finally:
                self._flushing = False
                self._cond.notify_all()

    def _forward(self, envelope: Envelope[object], source: object) -> None:
        """Take a message that reached a stopped incarnation (``source``'s), in its order."""
        with self._cond:
            if source is self._source:
                if self._open:
                    if source is not None:
                        self._source_dead = True
                    due = self._restart_due
                    if due is None or envelope.reply_to is None:
                        self._buffer.append(envelope)
                        return
                    self._fail_restarting([envelope], due)
                    return
                target = None
            else:
                while self._flushing:
                    self._cond.wait()
                target = self._target if self._open else None
                if self._open and target is None:
                    self._buffer.append(envelope)
                    return
        if target is None:
            self._undeliverable(envelope)
        else:
            target.put(envelope)

    def _backing_off(self, due: float) -> None:
        """The child waits out a backoff until ``due`` (scheduler clock): fail its asks at once."""
        with self._cond:
            if not self._open:
                return
            self._restart_due = due
            asks = [envelope for envelope in self._buffer if envelope.reply_to is not None]
            if asks:
                self._buffer = [envelope for envelope in self._buffer if envelope.reply_to is None]
        self._fail_restarting(asks, due)

    def _fail_restarting(self, asks: list[Envelope[object]], due: float) -> None:
        if not asks:
            return
        restart_in = max(0.0, due - scheduler.current().now())
        error = ChildRestarting(self.name, self.supervisor, restart_in)
        for envelope in asks:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception((ChildRestarting, error, None))

    def _hold(self, envelope: Envelope[object]) -> None:
        """Route a message sent before the first incarnation took over its buffer."""
        self._forward(envelope, None)

    def _close(self, reason: Reason) -> None:
        """The child is stopped for good: fail what waits, count dead letters, tell watchers."""
        with self._cond:
            if not self._open:
                return
            self._open = False
            self._final_reason = reason
            pending, self._buffer = self._buffer, []
            self._put = self._undeliverable
            watchers, self._watchers = self._watchers, []
            self._cond.notify_all()
        # Tells first: a failed ask wakes its sender, whose next tell must not
        # be counted (and logged) before these.
        self._count_dead_letters(sum(1 for envelope in pending if envelope.reply_to is None))
        for envelope in pending:
            if envelope.reply_to is not None:
                self._fail_ask(envelope)
        for watcher in watchers:
            death_watch.notify(watcher, self, reason)

    # ------------------------------------------------------------------ inside

    def _undeliverable(self, envelope: Envelope[object]) -> None:
        if envelope.reply_to is None:
            self._count_dead_letters(1)
        else:
            self._fail_ask(envelope)

    def _fail_ask(self, envelope: Envelope[object]) -> None:
        error = ActorDeadError(f"{self} was stopped for good before handling the message")
        if envelope.reply_to is not None:
            envelope.reply_to.set_exception((ActorDeadError, error, None))

    def _count_dead_letters(self, count: int) -> None:
        """Count undeliverable tells; the first batch is logged, later ones only counted."""
        if count == 0:
            return
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.dead_letters(self.actor_class, self.name, count)
        with self._cond:
            self._dead_letters += count
            first = not self._dead_letters_logged
            self._dead_letters_logged = True
        if first:
            # As Akka's log-dead-letters-during-shutdown = off: after an orderly
            # stop, late tells are expected (a peer still winding down), so the
            # line is debug; after a failure it is a warning.
            failed = isinstance(self._final_reason, Failure)
            (log.warning if failed else log.debug)(
                "dead_letters",
                child=self.name,
                supervisor=self.supervisor,
                count=count,
                note="later dead letters to this child are counted in ChildRef.dead_letters",
            )

    def _watch(self, request: Watch) -> None:
        with self._cond:
            if self._open:
                if request.watching:
                    if request.watcher not in self._watchers:
                        self._watchers.append(request.watcher)
                elif request.watcher in self._watchers:
                    self._watchers.remove(request.watcher)
                return
            reason = self._final_reason
        if request.watching:
            death_watch.notify(request.watcher, self, reason)
