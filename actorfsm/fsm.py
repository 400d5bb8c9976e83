"""The FSM engine: Akka's FSM semantics on a pykka ``ThreadingActor``.

The engine owns pykka's actor loop and inbox (see :mod:`actorfsm.mailbox`):
it drains its deque without a lock per message, dispatches internal messages
(timers, state timeouts, subscriptions, death watch, pykka's stop and proxy
calls) through one dict lookup, and hands every other message to the current
state's handlers as an :class:`~actorfsm.messages.Event`. Handlers return a
description (:mod:`actorfsm.dsl`); :meth:`FSM._apply` is the one place that
changes state, data and timeouts.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import pykka
import structlog
from pykka import ActorDeadError, ActorRegistry
from pykka._envelope import Envelope
from pykka._introspection import get_attr_directly
from pykka.messages import ProxyCall, ProxyGetAttr, ProxySetAttr, _ActorStop

from actorfsm import death_watch, stuck
from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import STAY, UNSET, Kind, NextState, Unset
from actorfsm.durations import to_optional_timeout, to_seconds
from actorfsm.listeners import Listeners
from actorfsm.mailbox import Mailbox, reject_envelope
from actorfsm.messages import Event, Failure, Normal, Reason, Shutdown, StateTimeout, StopEvent
from actorfsm.rendering import safe_repr
from actorfsm.scheduler import NamedTimer, Settle, StateTimeoutFired, StateTimer
from actorfsm.subscribers import (
    CurrentState,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
)

S = TypeVar("S", bound=Hashable)
D = TypeVar("D")

Handler = Callable[[Event], NextState | None]
TransitionHandler = Callable[[Any, Any], object]
TerminationHandler = Callable[[StopEvent], object]

log = structlog.get_logger("actorfsm")

_STATE_TIMEOUT = StateTimeout()
_STAY_KIND = Kind.STAY
_monotonic = time.monotonic
# Building an Event through its slot descriptors skips the frozen dataclass
# __init__ (object.__setattr__ per field): about 40% cheaper, once per message.
_new_object = object.__new__
_set_event = Event.__dict__["event"].__set__
_set_data = Event.__dict__["data"].__set__


class SupervisionHooks(Protocol):
    """How a supervisor takes part in a child FSM's failures (see :func:`supervised`).

    All three are called in the child's own thread.
    """

    def resume(self, fsm: FSM[Any, Any], exc: BaseException) -> bool:
        """Decide on a handler failure: ``True`` keeps the FSM running (the event is dropped)."""

    def report(self, fsm: FSM[Any, Any], exc: BaseException, fields: dict[str, Any]) -> bool:
        """Take the failure report (``True``: handled, the child does not log it itself)."""

    def forward(self, envelope: Envelope[Any]) -> None:
        """Take a message that reached the stopped child, in arrival order."""


_construction = threading.local()


@contextlib.contextmanager
def supervised(hooks: SupervisionHooks) -> Iterator[None]:
    """Attach ``hooks`` to every FSM constructed in this thread inside the ``with`` block.

    A supervisor starts its children this way, so the hooks are in place
    before the child's thread runs.
    """
    previous = getattr(_construction, "hooks", None)
    _construction.hooks = hooks
    try:
        yield
    finally:
        _construction.hooks = previous


class FSMError(Exception):
    """An FSM was used against its contract (unknown state, bad handler result)."""


class FSM(pykka.ThreadingActor, Generic[S, D]):
    """A finite-state-machine actor: declare states with :meth:`when`, start it as any pykka actor.

    ``__init__`` declares the machine (``start_with``, ``when``, ``on_transition``
    ...); ``start()`` enters the initial state (its timers are armed when it
    returns) and runs ``on_start`` and the handlers on the actor's own thread.
    """

    debug_events: ClassVar[bool] = False
    """Trace every event, timer and transition at debug level (or set ``ACTORFSM_DEBUG=1``)."""

    reports_own_failures: ClassVar[bool] = False
    """True for an FSM that logs why it stops with ``stop(Failure(...))`` itself (a Supervisor)."""

    handler_warn_after: ClassVar[float | None] = 1.0
    """Report a handler still running after this many seconds; ``None`` turns it off."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        limit = cls.handler_warn_after
        if limit is not None and (
            not isinstance(limit, int | float) or isinstance(limit, bool) or not limit > 0
        ):
            msg = f"{cls.__name__}.handler_warn_after must be seconds > 0 or None, got {limit!r}"
            raise ValueError(msg)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handlers: dict[Any, list[Handler]] = {}
        self._handler_tuples: dict[Any, tuple[Handler, ...]] = {}  # what _enter installs
        self._timeouts: dict[Any, float | None] = {}
        self._unhandled: Handler | None = None
        self._transition_handlers: list[TransitionHandler] = []
        self._termination_handler: TerminationHandler | None = None
        self._initial: tuple[Any, Any, float | Unset | None] | None = None

        self._state: Any = None
        self._data: Any = None
        self._next_data: Any = UNSET
        self._current_handlers: tuple[Handler, ...] = ()
        self._current_timeout: float | None = None
        self._state_timer = StateTimer(self.actor_inbox)
        self._timers: dict[Hashable, NamedTimer] = {}
        self._subscribers = Listeners()
        self._watchers = Listeners()
        self._postponed: list[Envelope[Any]] = []

        self._started = False
        self._start_error: FSMError | None = None  # a bad initial state, raised on the thread
        self._running = False
        self._terminated = False

        # What the event in progress is and since when (for stuck-handler
        # detection and introspection): the hot path's only bookkeeping.
        self._current_msg: Any = None
        self._busy_since: float | None = None
        self._stuck_since: float | None = None  # set by the stuck-handler watcher
        self._thread_ident: int | None = None

        # Metrics: per-state entries and time, observed transitions.
        self._entered_at = 0.0
        self._state_entries: dict[Any, int] = {}
        self._state_time: dict[Any, float] = {}
        self._transition_counts: dict[tuple[Any, Any], int] = {}

        self._log: Any = self._create_log()
        self._trace = bool(self.debug_events) or os.environ.get("ACTORFSM_DEBUG") == "1"
        self._observe: Callable[[tuple[Any, Any, Any, float]], None] | None = self._observer()
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.constructed(self)
        self._supervision: SupervisionHooks | None = getattr(_construction, "hooks", None)

    # ------------------------------------------------------------------ DSL

    def start_with(self, state: S, data: D, timeout: object = None) -> None:
        """Declare the initial state and data; ``timeout`` overrides the state's default once.

        As in Akka, ``None`` keeps the state's default and ``float("inf")``
        cancels it for the initial entry.
        """
        _check_hashable(state)
        seconds = UNSET if timeout is None else to_optional_timeout(timeout, "start_with timeout")
        self._initial = (state, data, seconds)

    def when(self, state: S, handler: Handler, state_timeout: object = UNSET) -> None:
        """Add ``handler`` for ``state``; several handlers of a state are tried in order.

        ``state_timeout`` (seconds or ``timedelta``; ``None`` for none) sets the
        state's default timeout; leaving it out keeps the current default.
        """
        _check_hashable(state)
        if not callable(handler):
            msg = f"when({state!r}) handler must be callable, got {handler!r}"
            raise TypeError(msg)
        self._handlers.setdefault(state, []).append(handler)
        self._handler_tuples[state] = tuple(self._handlers[state])
        if state_timeout is not UNSET:
            self._timeouts[state] = to_optional_timeout(state_timeout, "state_timeout")
        self._refresh_current()

    def set_state_timeout(self, state: S, timeout: object) -> None:
        """Change ``state``'s default timeout (``None`` for none) from now on."""
        _check_hashable(state)
        self._timeouts[state] = to_optional_timeout(timeout, "state timeout")
        self._refresh_current()

    def when_unhandled(self, handler: Handler) -> None:
        """Set the handler for events no ``when`` handler took (replaces the previous one)."""
        self._unhandled = handler

    def on_transition(self, handler: TransitionHandler) -> None:
        """Add ``handler(from_state, to_state)``, run on every real state change."""
        self._transition_handlers.append(handler)

    def on_termination(self, handler: TerminationHandler) -> None:
        """Set ``handler(StopEvent)``, run once when the FSM stops (replaces the previous one)."""
        self._termination_handler = handler

    def initialize(self) -> None:
        """Re-enter the current state: re-arm its state timeout (as Akka's ``initialize``).

        Not needed to start: the initial state is entered when the actor starts.
        """
        if self._started and not self._terminated:
            self._arm_state_timeout(self._current_timeout)

    @property
    def supervision_hooks(self) -> SupervisionHooks | None:
        """The hooks this FSM was constructed under (``None``: not supervised)."""
        return self._supervision

    def tell_subscribers(self, message: Any) -> None:
        """Tell every transition subscriber ``message``; dead ones are dropped with a warning."""
        self._warn_dead(self._subscribers.tell_all(message))

    @property
    def state_name(self) -> S:
        """The current state."""
        return self._state  # type: ignore[no-any-return]

    @property
    def state_data(self) -> D:
        """The current state data (the old data while ``on_transition`` handlers run)."""
        return self._data  # type: ignore[no-any-return]

    @property
    def next_state_data(self) -> D:
        """The data of the state being entered; only valid inside ``on_transition``."""
        if self._next_data is UNSET:
            msg = "next_state_data is only available inside on_transition handlers"
            raise RuntimeError(msg)
        return self._next_data  # type: ignore[no-any-return]

    # --------------------------------------------------------------- timers

    def start_single_timer(self, name: Hashable, msg: Any, delay: object) -> None:
        """Send ``msg`` to this FSM once, after ``delay``; replaces a timer of that name."""
        self._start_timer(name, msg, to_seconds(delay, "timer delay"), NamedTimer.SINGLE)

    def start_timer_with_fixed_delay(self, name: Hashable, msg: Any, delay: object) -> None:
        """Send ``msg`` repeatedly, ``delay`` after each previous sending."""
        self._start_timer(name, msg, _positive(delay, "timer delay"), NamedTimer.FIXED_DELAY)

    def start_timer_at_fixed_rate(self, name: Hashable, msg: Any, interval: object) -> None:
        """Send ``msg`` every ``interval``, catching up if the scheduler fell behind."""
        self._start_timer(name, msg, _positive(interval, "timer interval"), NamedTimer.FIXED_RATE)

    def set_timer(self, name: Hashable, msg: Any, interval: object, repeat: bool = False) -> None:
        """Akka's older API: a single timer, or a fixed-rate one when ``repeat``."""
        if repeat:
            self.start_timer_at_fixed_rate(name, msg, interval)
        else:
            self.start_single_timer(name, msg, interval)

    def cancel_timer(self, name: Hashable) -> None:
        """Cancel the timer ``name``; its message is never processed after this returns."""
        timer = self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
            if self._trace:
                log.debug("timer_cancelled", actor=str(self), name=name)

    def is_timer_active(self, name: Hashable) -> bool:
        """Whether the timer ``name`` is armed (a single timer is inactive once delivered)."""
        return name in self._timers

    def is_state_timer_active(self) -> bool:
        """Whether a state timeout is armed."""
        return self._state_timer.deadline is not None

    def _start_timer(self, name: Hashable, msg: Any, interval: float, mode: int) -> None:
        self.cancel_timer(name)
        timer = NamedTimer(self.actor_inbox, name, msg, interval, mode)
        self._timers[name] = timer
        if self._started:
            timer.start()
        if self._trace:
            log.debug("timer_set", actor=str(self), name=name, msg=safe_repr(msg), after=interval)

    def _cancel_all_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._state_timer.cancel()

    # ------------------------------------------------------------ the loop

    @staticmethod
    def _create_actor_inbox() -> Mailbox:
        if _metrics.sink is not None:  # metrics hook: a mailbox that counts what it is given
            return _metrics.sink.mailbox()
        return Mailbox()

    def _start_actor_loop(self) -> None:
        """Enter the initial state, then start the actor's thread.

        Entering arms the initial state timeout and the timers the constructor
        started, here on the caller's thread: they are queued when ``start()``
        returns, so a virtual clock advanced right after ``start()`` fires
        them. A bad initial state fails the actor on its own thread.
        """
        try:
            self._enter_initial()
        except FSMError as exc:
            self._start_error = exc
        super()._start_actor_loop()

    def _enter_initial(self) -> None:
        self._started = True
        if self._initial is None:
            msg = f"{type(self).__name__} never called start_with()"
            raise FSMError(msg)
        state, data, timeout = self._initial
        self._state, self._data = state, data
        if state not in self._handlers:
            msg = f"Initial state {state!r} does not exist (no when() for it)"
            raise FSMError(msg)
        self._refresh_current()
        self._entered_at = _monotonic()
        self._state_entries[state] = 1
        for timer in self._timers.values():
            timer.start()
        self._arm_state_timeout(self._current_timeout if timeout is UNSET else timeout)

    def _actor_loop(self) -> None:
        """Run the actor: run ``on_start``, handle messages, then stop."""
        if self._setup():
            self._run()
        self._teardown()

    def _setup(self) -> bool:
        self._running = True
        self._thread_ident = threading.get_ident()
        if self.handler_warn_after is not None:
            stuck.watcher.register(self)
        try:
            if self._start_error is not None:
                raise self._start_error
            self._current_msg = "<on_start>"
            self._busy_since = _monotonic()
            self.on_start()
            self._busy_since = None
        except BaseException as exc:
            self._fail(exc, None, None, resumable=False)
            return False
        return True

    def _run(self) -> None:
        """Handle messages until the FSM stops.

        The loop tests one flag per message, ``_running``. Stopping clears it
        for good; the stuck-handler watcher clears it when it reports a stuck
        call, so that the return is reported here as soon as the call returns
        and the hot path carries no check of its own for it.
        """
        while True:
            self._handle_messages()
            if self._stuck_since is not None:
                stuck.watcher.returned(self, _monotonic())
            if self._terminated:
                return
            self._running = True

    def _handle_messages(self) -> None:
        """Handle messages while ``_running``: the actor's loop."""
        mailbox: Mailbox = self.actor_inbox  # type: ignore[assignment]
        queue = mailbox.queue
        popleft = queue.popleft
        system = _SYSTEM_MESSAGES
        handle = self._handle_event
        while self._running:
            if not queue:
                mailbox.wait()
                continue
            envelope = popleft()
            message = envelope.message
            internal = system.get(message.__class__)
            if internal is None:
                handle(message, envelope.reply_to)
            else:
                internal(self, envelope)

    def _handle_event(self, message: Any, reply_to: Any) -> None:
        """Hand one event to the current state's handlers and apply what they return.

        This is the hot path: every line here is paid per message, so the
        common outcomes (an unmodified ``stay()``, a ``stay()`` with modifiers)
        are handled inline and everything else goes to :meth:`_apply`.
        """
        timer = self._state_timer
        if timer.deadline is not None:
            timer.deadline = None  # a queued timeout of this generation is now dropped
        self._current_msg = message
        self._busy_since = _monotonic()
        data = self._data
        # Off, this is one load and one test, as cheap as a flag; on, the
        # callable is already in a local (a method call on an instance
        # attribute would cost the log 50% more).
        if (observe := self._observe) is not None:
            observe((self._state, data, message, self._busy_since))
        event: Event = _new_object(Event)
        _set_event(event, message)
        _set_data(event, data)
        handler: Handler | None = None
        try:
            for handler in self._current_handlers:
                result = handler(event)
                if result is not None:
                    break
            else:
                handler = self._unhandled
                result = self._handle_unhandled(event)
            if result is STAY:
                if reply_to is not None:
                    reply_to.set(None)
                if self._current_timeout is not None:
                    timer.arm(self._current_timeout)
            elif result.__class__ is NextState and result[0] is _STAY_KIND and not result[3][3]:
                # A stay with modifiers (.using, .replying, .for_max): no transition.
                if result[2] is not UNSET:
                    self._data = result[2]
                mods = result[3]
                if reply_to is not None:
                    reply_to.set(None if mods[1] is UNSET else mods[1])
                elif mods[1] is not UNSET:
                    log.debug("reply_dropped", actor=str(self), reply=safe_repr(mods[1]))
                timeout = self._current_timeout if mods[0] is UNSET else mods[0]
                if timeout is not None:
                    timer.arm(timeout)
            else:
                self._apply(result, message, reply_to, handler)
        except BaseException as exc:
            self._fail(exc, message, reply_to)
        self._busy_since = None

    def _observer(self) -> Callable[[tuple[Any, Any, Any, float]], None] | None:
        """What watches each event: the rolling log, the debug trace, both, or nothing.

        One pre-bound callable (the log's own ``record`` when only the log is
        on), so the hot path pays a single check when nothing watches.
        """
        if not self._trace:
            return None if self._log is None else self._log.record
        return self._trace_event

    def _trace_event(self, entry: tuple[Any, Any, Any, float]) -> None:
        """Debug tracing of one processed event (``debug_events`` or ``ACTORFSM_DEBUG=1``)."""
        if self._log is not None:
            self._log.record(entry)
        state, data, message, _ = entry
        log.debug(
            "event_processed",
            actor=str(self),
            fsm_event=safe_repr(message),
            state=safe_repr(state),
            data=safe_repr(data),
        )

    def _handle_unhandled(self, event: Event) -> NextState:
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.unhandled(self)
        if self._unhandled is not None:
            result = self._unhandled(event)
            if result is not None:
                return result
        log.warning(
            "unhandled_event",
            actor=str(self),
            fsm_event=safe_repr(event.event),
            state=safe_repr(self._state),
            data=safe_repr(event.data),
        )
        return STAY

    def _apply(self, result: Any, message: Any, reply_to: Any, handler: Any) -> None:
        """Apply a handler's description: the one place state, data and timeouts change."""
        if result.__class__ is not NextState:
            name = getattr(handler, "__qualname__", repr(handler))
            msg = (
                f"handler {name} returned {safe_repr(result)} in state {safe_repr(self._state)}; "
                "expected goto(...), stay(), stop(...) or None"
            )
            raise TypeError(msg)
        kind, target, data, (timeout, reply, reason, postpone) = result
        if kind is Kind.STOP:
            if data is not UNSET:
                self._data = data
            if isinstance(reason, Failure) and not self.reports_own_failures:
                self._report_failure(reason.cause, message)
            self._terminate(reason or Normal(), reply_to, None if reply is UNSET else reply, None)
            return
        old_state = self._state
        next_state = old_state if kind is Kind.STAY else target
        if next_state not in self._handlers:
            msg = f"Next state {next_state!r} does not exist (no when() for it)"
            raise FSMError(msg)
        new_data = self._data if data is UNSET else data
        if postpone:
            if _metrics.sink is not None:  # metrics hook
                _metrics.sink.postponed(self)
            self._postponed.append(Envelope(message, reply_to))
            reply_to = None
        if next_state != old_state:
            self._next_data = new_data
            try:
                for transition_handler in self._transition_handlers:
                    transition_handler(old_state, next_state)
            finally:
                self._next_data = UNSET
            self._data = new_data
            self._enter(old_state, next_state)
        else:
            self._data = new_data
        self._arm_state_timeout(self._current_timeout if timeout is UNSET else timeout)
        if reply_to is not None:
            reply_to.set(None if reply is UNSET else reply)
        elif reply is not UNSET and not postpone:
            log.debug("reply_dropped", actor=str(self), reply=safe_repr(reply))

    def _enter(self, old_state: Any, next_state: Any) -> None:
        """Complete a real state change: caches, metrics, subscribers, postponed events."""
        now = self._busy_since or _monotonic()  # the event's start: no second clock read
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.transition(self, old_state, next_state, now - self._entered_at)
        self._state_time[old_state] = self._state_time.get(old_state, 0.0) + now - self._entered_at
        self._state = next_state
        self._refresh_current()
        self._entered_at = now
        self._state_entries[next_state] = self._state_entries.get(next_state, 0) + 1
        key = (old_state, next_state)
        self._transition_counts[key] = self._transition_counts.get(key, 0) + 1
        if self._trace:
            log.debug(
                "transition", actor=str(self), old=safe_repr(old_state), new=safe_repr(next_state)
            )
        if self._subscribers:
            self.tell_subscribers(Transition(self.actor_ref, old_state, next_state))
        if self._postponed:
            postponed, self._postponed = self._postponed, []
            self.actor_inbox.queue.extendleft(reversed(postponed))  # type: ignore[attr-defined]

    def _refresh_current(self) -> None:
        """Cache the current state's handlers and default timeout for the hot path."""
        self._current_handlers = self._handler_tuples.get(self._state, ())
        self._current_timeout = self._timeouts.get(self._state)

    def _arm_state_timeout(self, timeout: float | Unset | None) -> None:
        if timeout is None or timeout is UNSET:
            return
        self._state_timer.arm(timeout)
        if self._trace:
            log.debug("state_timeout_set", actor=str(self), after=timeout)

    # ------------------------------------------------------------ stopping

    def _fail(
        self, exc: BaseException, message: Any, reply_to: Any, *, resumable: bool = True
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

    def _report_failure(self, cause: Any, message: Any) -> None:
        """Report a failure once: to the supervisor if there is one, else as ``fsm_failed``.

        ``cause`` is what failed the FSM: an exception, or whatever a handler
        gave ``stop(Failure(cause))``. A supervisor reports a non-exception
        cause itself when it sees the child's ``Terminated``.
        """
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.failure(self, cause)
        fields = {
            "actor": str(self),
            "state": safe_repr(self._state),
            "data": safe_repr(self._data),
            "fsm_event": safe_repr(message),
            "log": self._rendered_log(),
        }
        supervision = self._supervision
        is_exception = isinstance(cause, BaseException)
        if supervision is not None and (
            not is_exception or supervision.report(self, cause, fields)
        ):
            return
        if is_exception:
            log.error("fsm_failed", exc_info=(type(cause), cause, cause.__traceback__), **fields)
        else:
            log.error("fsm_failed", cause=safe_repr(cause), **fields)

    def _create_log(self) -> Any:
        """The rolling event log, or ``None`` when off (``LoggingFSM`` provides one)."""
        return None

    def _rendered_log(self) -> list[str]:
        return [] if self._log is None else self._log.rendered()

    def _terminate(
        self, reason: Reason, reply_to: Any, reply: Any, exc: BaseException | None
    ) -> None:
        """Stop for ``reason``: cancel timers, run hooks once, answer the asker, tell watchers."""
        if self._terminated:
            return
        self._terminated = True
        self._running = False
        self._cancel_all_timers()
        stop_event = StopEvent(reason, self._state, self._data)
        handler = self._termination_handler
        if handler is not None:
            self._run_hook("on_termination", handler, stop_event)
        if isinstance(reason, Failure) and isinstance(reason.cause, BaseException):
            cause = reason.cause
            self._run_hook("on_failure", self.on_failure, type(cause), cause, cause.__traceback__)
        else:
            self._run_hook("on_stop", self.on_stop)
        stuck.watcher.unregister(self)
        if self._stuck_since is not None:  # a stuck handler or hook returned: the watcher is gone
            stuck.watcher.returned(self, _monotonic())
        ActorRegistry.unregister(self.actor_ref)
        death_watch.record_final_reason(self.actor_ref, reason)
        # Postponed events were received first, then the mailbox; under a
        # supervisor both go, in that order, to the child's next incarnation.
        postponed, self._postponed = self._postponed, []
        for envelope in postponed:
            self._reject(envelope)
        self.actor_inbox.close(self._reject)  # type: ignore[attr-defined]
        self.actor_stopped.set()
        if reply_to is not None:
            if exc is not None:
                reply_to.set_exception((type(exc), exc, exc.__traceback__))
            else:
                reply_to.set(reply)
        self._watchers.tell_all(death_watch.Terminated(self.actor_ref, reason))
        self._watchers.clear()

    def _run_hook(self, name: str, hook: Callable[..., object], *args: Any) -> None:
        self._current_msg = f"<{name}>"
        self._busy_since = _monotonic()
        try:
            hook(*args)
        except Exception:
            log.exception("hook_failed", hook=name, actor=str(self))
        self._busy_since = None

    def _reject(self, envelope: Envelope[Any]) -> None:
        """Answer what reaches the mailbox after the FSM stopped (or hand it to a supervisor)."""
        message = envelope.message
        if isinstance(message, NamedTimer | StateTimeoutFired):
            return  # this incarnation's timers died with it
        if isinstance(message, death_watch.Watch) and message.watching:
            death_watch.notify(
                message.watcher, self.actor_ref, death_watch.final_reason(self.actor_ref)
            )
        elif isinstance(message, _ActorStop) and envelope.reply_to is not None:
            envelope.reply_to.set(None)
        elif isinstance(message, Settle):
            message.future.set_result(None)
        elif self._supervision is not None:
            self._supervision.forward(envelope)
        else:
            reject_envelope(envelope)

    def _teardown(self) -> None:
        if not self._terminated:
            self._terminate(Shutdown(), None, None, None)

    # ----------------------------------------------------- internal messages

    def _on_stop_request(self, envelope: Envelope[Any]) -> None:
        self._terminate(Shutdown(), envelope.reply_to, None, None)

    def _on_state_timeout(self, envelope: Envelope[Any]) -> None:
        fired: StateTimeoutFired = envelope.message
        timer = self._state_timer
        if fired.gen == timer.gen and timer.deadline is not None:
            self._handle_event(_STATE_TIMEOUT, None)

    def _on_timer(self, timer: NamedTimer) -> None:
        """A named timer fired (the timer is its own envelope)."""
        if self._timers.get(timer.name) is not timer:
            return  # cancelled or replaced after it fired
        if timer.mode == NamedTimer.SINGLE:
            del self._timers[timer.name]
        self._handle_event(timer.payload, None)

    def _on_proxy(self, envelope: Envelope[Any]) -> None:
        """Serve a pykka proxy call or attribute access (not an FSM event)."""
        message = envelope.message
        self._current_msg = message
        self._busy_since = _monotonic()
        try:
            if isinstance(message, ProxyCall):
                callee = get_attr_directly(self, message.attr_path)
                result = callee(*message.args, **message.kwargs)
            elif isinstance(message, ProxyGetAttr):
                result = get_attr_directly(self, message.attr_path)
            else:
                parent = get_attr_directly(self, message.attr_path[:-1])
                setattr(parent, message.attr_path[-1], message.value)
                result = None
        except Exception as exc:
            self._busy_since = None
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception(sys.exc_info())
            else:
                self._fail(exc, message, None)
            return
        self._busy_since = None
        if envelope.reply_to is not None:
            envelope.reply_to.set(result)

    def _on_subscribe(self, envelope: Envelope[Any]) -> None:
        subscriber = envelope.message.subscriber
        try:
            subscriber.tell(CurrentState(self.actor_ref, self._state))
        except ActorDeadError:
            self._warn_dead([subscriber])
        else:
            self._subscribers.add(subscriber)
        _answer(envelope)

    def _on_unsubscribe(self, envelope: Envelope[Any]) -> None:
        self._subscribers.remove(envelope.message.subscriber)
        _answer(envelope)

    def _warn_dead(self, subscribers: list[Any]) -> None:
        for subscriber in subscribers:
            log.warning(
                "transition_subscriber_dead", actor=str(self), subscriber=safe_repr(subscriber)
            )

    def _on_watch(self, envelope: Envelope[Any]) -> None:
        request: death_watch.Watch = envelope.message
        if request.watching:
            self._watchers.add(request.watcher)
        else:
            self._watchers.remove(request.watcher)
        _answer(envelope)

    def _on_settle(self, envelope: Envelope[Any]) -> None:
        envelope.message.future.set_result(None)


def _answer(envelope: Envelope[Any]) -> None:
    if envelope.reply_to is not None:
        envelope.reply_to.set(None)


_SYSTEM_MESSAGES: dict[type, Callable[[Any, Any], None]] = {
    _ActorStop: FSM._on_stop_request,
    StateTimeoutFired: FSM._on_state_timeout,
    NamedTimer: FSM._on_timer,
    ProxyCall: FSM._on_proxy,
    ProxyGetAttr: FSM._on_proxy,
    ProxySetAttr: FSM._on_proxy,
    SubscribeTransitionCallBack: FSM._on_subscribe,
    UnsubscribeTransitionCallBack: FSM._on_unsubscribe,
    death_watch.Watch: FSM._on_watch,
    Settle: FSM._on_settle,
}
"""Messages that are not events: they never reach handlers nor cancel the state timeout."""


def _check_hashable(state: object) -> None:
    try:
        hash(state)
    except TypeError:
        msg = f"FSM states must be hashable (an enum member is best), got {state!r}"
        raise TypeError(msg) from None


def _positive(value: object, what: str) -> float:
    """A repeating timer's period: zero would spin, so it must be positive."""
    seconds = to_seconds(value, what)
    if seconds <= 0 or seconds == float("inf"):
        msg = f"{what} of a repeating timer must be positive and finite, got {value!r}"
        raise ValueError(msg)
    return seconds
