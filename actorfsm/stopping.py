"""How an FSM stops: failures reported once, hooks run once, askers answered, watchers told.

Part of the engine (:class:`~actorfsm.fsm.FSM` mixes :class:`Stopping` in). A
stop always runs on the thread that holds the FSM's mailbox token, so it never
races the FSM's own handlers. At interpreter exit the FSMs still running are
stopped within a grace period; one stuck in a handler is named, not waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pykka
import structlog
from pykka import ActorDeadError

from actorfsm import death_watch, dispatch, pykka_seam
from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import UNSET, Unset
from actorfsm.mailbox import reject_envelope
from actorfsm.messages import Failure, Normal, Reason, Shutdown, StopEvent
from actorfsm.pykka_seam import ActorStop, Envelope, actor_of
from actorfsm.ref import FSMRef
from actorfsm.rendering import safe_repr
from actorfsm.scheduler import Settle
from actorfsm.timers import NamedTimer, StateTimeoutFired

if TYPE_CHECKING:
    from actorfsm.listeners import Listeners
    from actorfsm.mailbox import Mailbox
    from actorfsm.timers import StateTimer
    from actorfsm.tracing import RollingLog

log = structlog.get_logger("actorfsm")
_PLAIN_ON_STOP: Callable[..., None] = pykka.ThreadingActor.on_stop


class SupervisionHooks(Protocol):
    """How a supervisor takes part in a child FSM's start and failures.

    A supervisor constructs its children under :func:`~actorfsm.supervised.supervised`.

    All are called on the thread running the child (``started`` of a child
    without ``on_start``: on the thread that started it).
    """

    def resume(self, fsm: Stopping, exc: BaseException) -> bool:
        """Decide on a handler failure: ``True`` keeps the FSM running (the event is dropped)."""

    def report(self, fsm: Stopping, exc: BaseException, fields: dict[str, object]) -> bool:
        """Take the failure report (``True``: handled, the child does not log it itself)."""

    def forward(self, envelope: Envelope[object]) -> None:
        """Take a message that reached the stopped child, in arrival order."""

    def started(self, fsm: Stopping) -> None:
        """The child's ``on_start`` returned (or it has none): it runs."""


ReplyTo = pykka.Future[object] | None
"""Where the answer to the message being handled goes: the asker's future, or ``None``."""


class Stopping:
    """The engine's stopping half: failure reports, termination, rejecting late messages."""

    if TYPE_CHECKING:
        _terminated: bool
        _supervision: SupervisionHooks | None
        _termination_handler: Callable[[StopEvent], object] | None
        _log: RollingLog | None
        _timers: dict[Hashable, NamedTimer] | None
        _state_timer: StateTimer | None
        _postponed: list[Envelope[object]] | None
        _watchers: Listeners | None
        _current_msg: object
        _busy_since: float | None
        _stuck_since: float | None
        _current_timeout: float | None
        reports_own_failures: ClassVar[bool]
        actor_ref: pykka.ActorRef[Any]
        actor_inbox: Mailbox
        actor_stopped: Any  # a StoppedFlag, where pykka's Actor declares a threading.Event

        @property
        def state_name(self) -> Hashable: ...
        @property
        def state_data(self) -> object: ...
        def _arm_state_timeout(self, timeout: float | Unset | None) -> None: ...
        def on_stop(self) -> None: ...
        def on_failure(
            self,
            exception_type: type[BaseException] | None,
            exception_value: BaseException | None,
            traceback: TracebackType | None,
        ) -> None: ...

    def _fail(
        self, exc: BaseException, message: object, reply_to: ReplyTo, *, resumable: bool = True
    ) -> None:
        """A handler, hook or start-up raised: resume (if a supervisor says so) or stop."""
        supervision = self._supervision
        if (
            resumable
            and supervision is not None
            and not self._terminated
            and supervision.resume(self, exc)
        ):
            self._report_failure(exc, message)  # a resumed failure is reported once too
            if reply_to is not None:
                reply_to.set_exception((type(exc), exc, exc.__traceback__))
            self._arm_state_timeout(self._current_timeout)
            return
        if not self._terminated:
            self._report_failure(exc, message)
        self._terminate(Failure(exc), reply_to, None, exc)

    def _stop_as_told(
        self, reason: Reason | None, reply: object, message: object, reply_to: ReplyTo
    ) -> None:
        """A handler returned ``stop(...)`` (its data is set): report a failure reason, stop."""
        if isinstance(reason, Failure) and not self.reports_own_failures:
            self._report_failure(reason.cause, message)
        self._terminate(reason or Normal(), reply_to, None if reply is UNSET else reply, None)

    def _report_failure(self, cause: object, message: object) -> None:
        """Report a failure once: to the supervisor if there is one, else as ``fsm_failed``.

        ``cause`` is what failed the FSM: an exception, or whatever a handler
        gave ``stop(Failure(cause))``. A supervisor reports a non-exception
        cause itself when it sees the child's ``Terminated``.
        """
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.failure(self, cause)
        fields: dict[str, object] = {
            "actor": str(self),
            "state": safe_repr(self.state_name),
            "data": safe_repr(self.state_data),
            "fsm_event": safe_repr(message),
            "log": self._rendered_log(),
        }
        supervision = self._supervision
        if supervision is not None and (
            not isinstance(cause, BaseException) or supervision.report(self, cause, fields)
        ):
            return
        if isinstance(cause, BaseException):
            log.error("fsm_failed", exc_info=(type(cause), cause, cause.__traceback__), **fields)
        else:
            log.error("fsm_failed", cause=safe_repr(cause), **fields)

    def _create_log(self) -> RollingLog | None:
        """The rolling event log, or ``None`` when off (``LoggingFSM`` provides one)."""
        return None

    def _rendered_log(self) -> list[str]:
        return [] if self._log is None else self._log.rendered()

    def _terminate(
        self, reason: Reason, reply_to: ReplyTo, reply: object, exc: BaseException | None
    ) -> None:
        """Stop for ``reason``: cancel timers, run hooks once, answer the asker, tell watchers."""
        if self._terminated:
            return
        self._terminated = True
        self._cancel_all_timers()
        handler = self._termination_handler
        if handler is not None:
            self._run_hook(
                "on_termination", handler, StopEvent(reason, self.state_name, self.state_data)
            )
        if isinstance(reason, Failure) and isinstance(reason.cause, BaseException):
            cause = reason.cause
            self._run_hook("on_failure", self.on_failure, type(cause), cause, cause.__traceback__)
        else:
            self._run_hook("on_stop", self.on_stop)
        ref = self.actor_ref
        pykka_seam.unregister(ref)
        death_watch.record_final_reason(ref, reason)
        # Postponed events were received first, then the mailbox; under a
        # supervisor both go, in that order, to the child's next incarnation.
        reject = Rejecter(ref, self._supervision)
        postponed, self._postponed = self._postponed, None
        for envelope in postponed or ():
            reject(envelope)
        self.actor_inbox.close(reject)
        self.actor_stopped.set()
        if reply_to is not None:
            if exc is not None:
                reply_to.set_exception((type(exc), exc, exc.__traceback__))
            else:
                reply_to.set(reply)
        if self._watchers is not None:
            self._watchers.tell_all(death_watch.Terminated(ref, reason))
            self._watchers = None

    def _stop_here_if_idle(self) -> bool:
        """Stop on the calling thread if the FSM is idle and no hook of the user's would run.

        A blocking ``stop()`` then costs no round trip through a worker, which
        is what ``ActorRegistry.stop_all()`` pays per FSM, one after another.
        An FSM with ``on_stop`` or ``on_termination`` (or on a dedicated
        thread) always stops on its own thread, after what is queued.
        """
        mailbox = self.actor_inbox
        if mailbox.dispatcher.pinned or type(self).on_stop is not _PLAIN_ON_STOP:
            return False
        return mailbox.run_if_idle(self._shut_down_unless_hooked)

    def _shut_down_unless_hooked(self) -> bool:
        if self._termination_handler is not None or self._terminated:
            return False
        self._terminate(Shutdown(), None, None, None)
        return True

    def _cancel_all_timers(self) -> None:
        if self._timers is not None:
            for timer in self._timers.values():
                timer.cancel()
            self._timers = None
        if self._state_timer is not None:
            self._state_timer.cancel()

    def _run_hook(self, name: str, hook: Callable[..., object], *args: object) -> None:
        """Run a stopping hook; whatever it raises is logged once and the FSM stops all the same.

        That includes ``SystemExit`` and ``KeyboardInterrupt``: a hook runs on a
        dispatcher's thread, where ``sys.exit()`` would end only that thread (as
        in any Python thread, and as in a pykka actor's ``on_stop``) and a
        ``KeyboardInterrupt`` is never the user's Ctrl-C (signals reach only the
        main thread). Letting either escape would leave the FSM half-stopped:
        registered, its askers unanswered, its worker gone. So it is reported as
        ``hook_failed`` with its traceback, the FSM finishes stopping with the
        reason it had, and the program goes on; a program that must exit says so
        from its main thread.
        """
        self._current_msg = f"<{name}>"
        self._busy_since = time.monotonic()
        try:
            hook(*args)
        except BaseException:
            log.exception("hook_failed", hook=name, actor=str(self))
        finally:
            self._busy_since = None


class Rejecter:
    """What answers messages that reach a stopped FSM (holding its ref, not the FSM itself)."""

    __slots__ = ("ref", "supervision")

    def __init__(self, ref: pykka.ActorRef[Any], supervision: SupervisionHooks | None) -> None:
        self.ref = ref
        self.supervision = supervision

    def __call__(self, envelope: Envelope[object]) -> None:
        """Answer or forward one late ``envelope``."""
        message = envelope.message
        if isinstance(message, NamedTimer | StateTimeoutFired):
            return  # this incarnation's timers died with it
        if isinstance(message, death_watch.Watch) and message.watching:
            death_watch.notify(message.watcher, self.ref, death_watch.final_reason(self.ref))
        elif message.__class__ is ActorStop and envelope.reply_to is not None:
            envelope.reply_to.set(None)
        elif isinstance(message, Settle):
            message.future.set_result(None)
        elif self.supervision is not None:
            self.supervision.forward(envelope)
        else:
            reject_envelope(envelope)


def _stop_all_at_exit(grace: float) -> None:
    """Stop every FSM still registered, newest first, within ``grace``; name those stuck."""
    refs = [ref for ref in reversed(pykka.ActorRegistry.get_all()) if isinstance(ref, FSMRef)]
    if not refs:
        return
    futures = []
    for ref in refs:
        try:
            futures.append((ref, ref.stop(block=False)))
        except ActorDeadError:
            continue
    deadline = time.monotonic() + grace
    stuck = []
    for ref, future in futures:
        try:
            future.get(timeout=max(0.0, deadline - time.monotonic()))
        except pykka.Timeout:
            stuck.append(ref)
    for ref in stuck[:10]:
        fsm = actor_of(ref)
        log.warning(
            "fsm_still_running_at_exit",
            actor=str(ref),
            state=safe_repr(getattr(fsm, "_state", None)),
            fsm_event=safe_repr(getattr(fsm, "_current_msg", None)),
            grace=round(grace, 3),
        )
    if len(stuck) > 10:
        log.warning("fsms_still_running_at_exit", count=len(stuck), grace=round(grace, 3))


dispatch.on_exit(_stop_all_at_exit)
