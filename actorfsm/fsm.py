"""The FSM engine: Akka's FSM semantics on pykka actors that share worker threads.

An FSM is a pykka actor without a thread of its own: its mailbox is run by a
dispatcher (:mod:`actorfsm.dispatch`) a turn of a few messages at a time. The
engine reads its deque without a lock per message, serves internal messages
(timers, state timeouts, subscriptions, death watch, pykka's stop and proxy
calls; :mod:`actorfsm.system_messages`) through one dict lookup, and hands
every other message to the current state's handlers as an
:class:`~actorfsm.messages.Event`.

The transition algorithm, for one event ``e`` found in state ``S`` with data ``d``:

1. The pending state timeout is cancelled (a queued ``StateTimeout`` of the old
   generation is dropped when it arrives).
2. The event is stamped (stuck-handler detection, ``inspect``) and recorded in
   the rolling log with ``(S, d, e, time)``.
3. ``S``'s handlers are called in declaration order with ``Event(e, d)``; the
   first result that is not ``None`` wins. If all return ``None``, the
   ``when_unhandled`` handler is tried; if it too returns ``None`` (or there
   is none), ``unhandled_event`` is logged and the result is ``stay()``.
4. The result must be a description (:mod:`actorfsm.dsl`); anything else fails
   the FSM with a ``TypeError`` naming the handler.
5. ``stop(reason)``: data is replaced if ``.using`` was given, then the FSM
   stops (:mod:`actorfsm.stopping`): timers cancelled, ``on_termination``, the
   asker answered, watchers told.
6. ``.postponing()``: the event (with its asker) is kept for after the next
   state change.
7. A target state other than ``S``: ``on_transition`` handlers run with
   ``next_state_data`` set, then the state and data change, per-state
   counters move, subscribers get ``Transition``, and postponed events go to
   the front of the mailbox in the order they were postponed. A target equal
   to ``S`` (``stay()``, ``goto(S)``) only replaces the data.
8. The state timeout is armed: ``.for_max(t)`` if given (``None`` or ``inf``:
   none this time), else the target state's default.
9. The asker, if the event came by ``ask``, is answered with the ``.replying``
   value or ``None`` (after the transition handlers, so a failing one is what
   it learns).
A handler or hook that raises ends the FSM with ``Failure`` (or, under a
supervisor that says ``RESUME``, drops the event and keeps state and data).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from typing import Any, ClassVar, Generic, Self, TypeVar

import pykka

from actorfsm import dispatch, pykka_seam, stuck
from actorfsm import metric_hooks as _metrics
from actorfsm.dsl import NO_MODS, STAY, UNSET, Kind, NextState, Unset
from actorfsm.durations import to_optional_timeout, to_seconds
from actorfsm.listeners import Listeners
from actorfsm.mailbox import Mailbox
from actorfsm.messages import Event
from actorfsm.pykka_seam import Envelope
from actorfsm.ref import FSMRef, StoppedFlag
from actorfsm.rendering import safe_repr
from actorfsm.stopping import Stopping, SupervisionHooks, log
from actorfsm.subscribers import Transition
from actorfsm.system_messages import SYSTEM_MESSAGES, SystemMessages
from actorfsm.timers import NamedTimer, StateTimer

S = TypeVar("S", bound=Hashable)
D = TypeVar("D")

Handler = Callable[[Event], NextState | None]
TransitionHandler = Callable[[Any, Any], object]

_STAY_KIND = Kind.STAY
_monotonic = time.monotonic
# Building an Event through its slot descriptors skips the frozen dataclass
# __init__ (object.__setattr__ per field): about 40% cheaper, once per message.
_new_object = object.__new__
_set_event = Event.__dict__["event"].__set__
_set_data = Event.__dict__["data"].__set__

# A urn per FSM, unique as a uuid4 and cheaper: a random uuid4 prefix for the
# process, a serial number in the last group (os.urandom per FSM is a syscall).
_URN_PREFIX = uuid.uuid4().urn[:-12]
_serials = itertools.count()

MIN_TIMER_INTERVAL = 0.001
"""Repeating timers fire at most this often (seconds): a shorter period would spin a core."""

_construction = threading.local()


@contextlib.contextmanager
def supervised(hooks: SupervisionHooks) -> Iterator[None]:
    """Attach ``hooks`` to every FSM constructed in this thread inside the ``with`` block.

    A supervisor starts its children this way, so the hooks are in place
    before the child handles anything.
    """
    previous = getattr(_construction, "hooks", None)
    _construction.hooks = hooks
    try:
        yield
    finally:
        _construction.hooks = previous


class FSMError(Exception):
    """An FSM was used against its contract (unknown state, bad handler result)."""


class FSM(SystemMessages, Stopping, pykka.ThreadingActor, Generic[S, D]):
    """A finite-state-machine actor: declare states with :meth:`when`, start it as any pykka actor.

    ``__init__`` declares the machine (``start_with``, ``when``, ``on_transition``
    ...); ``start()`` enters the initial state (its timers are armed when it
    returns) and runs ``on_start`` and the handlers on the FSM's dispatcher.
    """

    # The engine's fields live in slots: a million idle FSMs is the target, and
    # an instance dict with this many keys would cost more than the rest.
    __slots__ = (
        "_busy_since",
        "_current_handlers",
        "_current_msg",
        "_current_timeout",
        "_data",
        "_entered_at",
        "_handlers",
        "_initial",
        "_log",
        "_next_data",
        "_observe",
        "_postponed",
        "_start_error",
        "_started",
        "_state",
        "_state_entries",
        "_state_time",
        "_state_timer",
        "_stuck_since",
        "_subscribers",
        "_supervision",
        "_terminated",
        "_termination_handler",
        "_timeouts",
        "_timers",
        "_trace",
        "_transition_counts",
        "_transition_handlers",
        "_unhandled",
        "_watchers",
    )

    debug_events: ClassVar[bool] = False
    """Trace every event, timer and transition at debug level (or set ``ACTORFSM_DEBUG=1``)."""

    reports_own_failures: ClassVar[bool] = False
    """True for an FSM that logs why it stops with ``stop(Failure(...))`` itself (a Supervisor)."""

    handler_warn_after: ClassVar[float | None] = 1.0
    """Report a handler still running after this many seconds; ``None`` turns it off."""

    dispatcher: ClassVar[str] = dispatch.DEFAULT
    """Where instances run: ``"default"`` (the shared pool), a pool's name, or ``"pinned"``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        limit = cls.handler_warn_after
        if limit is not None and (
            not isinstance(limit, int | float) or isinstance(limit, bool) or not limit > 0
        ):
            msg = f"{cls.__name__}.handler_warn_after must be seconds > 0 or None, got {limit!r}"
            raise ValueError(msg)
        if not isinstance(cls.dispatcher, str):
            msg = f"{cls.__name__}.dispatcher must be a dispatcher's name, got {cls.dispatcher!r}"
            raise TypeError(msg)

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        """Create the FSM's identity, mailbox and ref; subclasses then declare the machine.

        Runs in the caller's thread; nothing is handled until ``start()``.
        """
        self.actor_urn = f"{_URN_PREFIX}{next(_serials):012x}"
        inbox_class = Mailbox if _metrics.sink is None else _metrics.sink.mailbox_class  # hook
        self.actor_inbox = inbox_class(self, dispatch.for_fsm(self.dispatcher, type(self).__name__))
        self.actor_stopped = StoppedFlag()
        self._actor_ref = FSMRef(self)
        self._handlers: dict[Any, tuple[Handler, ...]] = {}
        self._timeouts: dict[Any, float | None] | None = None
        self._unhandled: Handler | None = None
        self._transition_handlers: tuple[TransitionHandler, ...] = ()
        self._termination_handler: Callable[[Any], object] | None = None
        self._initial: tuple[Any, Any, float | Unset | None] | None = None
        self._state: Any = None
        self._data: Any = None
        self._next_data: Any = UNSET
        self._current_handlers: tuple[Handler, ...] = ()
        self._current_timeout: float | None = None
        # Made on first use: most FSMs never need some of them.
        self._state_timer: StateTimer | None = None
        self._timers: dict[Hashable, NamedTimer] | None = None
        self._subscribers: Listeners | None = None
        self._watchers: Listeners | None = None
        self._postponed: list[Envelope[Any]] | None = None
        self._state_entries: dict[Any, int] | None = None
        self._state_time: dict[Any, float] | None = None
        self._transition_counts: dict[tuple[Any, Any], int] | None = None
        self._started = False
        self._start_error: FSMError | None = None
        self._terminated = False
        # What the event in progress is and since when (stuck-handler detection
        # and introspection): the hot path's only bookkeeping.
        self._current_msg: Any = None
        self._busy_since: float | None = None
        self._stuck_since: float | None = None
        self._entered_at = 0.0
        self._log: Any = self._create_log()
        self._trace = bool(self.debug_events) or os.environ.get("ACTORFSM_DEBUG") == "1"
        self._observe = self._observer()
        self._supervision: SupervisionHooks | None = getattr(_construction, "hooks", None)
        if _metrics.sink is not None:  # metrics hook
            _metrics.sink.constructed(self)

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Self]:
        """Create the FSM, register it, enter its initial state and schedule it; return its ref."""
        fsm = cls(*args, **kwargs)
        pykka_seam.register(fsm._actor_ref)
        fsm._start_actor_loop()
        return fsm._actor_ref

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
        self._handlers[state] = (*self._handlers.get(state, ()), handler)
        if state_timeout is not UNSET:
            self._set_timeout(state, to_optional_timeout(state_timeout, "state_timeout"))
        self._refresh_current()

    def set_state_timeout(self, state: S, timeout: object) -> None:
        """Change ``state``'s default timeout (``None`` for none) from now on."""
        _check_hashable(state)
        self._set_timeout(state, to_optional_timeout(timeout, "state timeout"))
        self._refresh_current()

    def _set_timeout(self, state: Any, seconds: float | None) -> None:
        if self._timeouts is None:
            self._timeouts = {}
        self._timeouts[state] = seconds

    def when_unhandled(self, handler: Handler) -> None:
        """Set the handler for events no ``when`` handler took (replaces the previous one)."""
        self._unhandled = handler

    def on_transition(self, handler: TransitionHandler) -> None:
        """Add ``handler(from_state, to_state)``, run on every real state change."""
        self._transition_handlers = (*self._transition_handlers, handler)

    def on_termination(self, handler: Callable[[Any], object]) -> None:
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
        if self._subscribers is not None:
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
        self._start_timer(name, msg, _period(delay, "timer delay"), NamedTimer.FIXED_DELAY)

    def start_timer_at_fixed_rate(self, name: Hashable, msg: Any, interval: object) -> None:
        """Send ``msg`` every ``interval``, catching up if the scheduler fell behind."""
        self._start_timer(name, msg, _period(interval, "timer interval"), NamedTimer.FIXED_RATE)

    def set_timer(self, name: Hashable, msg: Any, interval: object, repeat: bool = False) -> None:
        """Akka's older API: a single timer, or a fixed-rate one when ``repeat``."""
        if repeat:
            self.start_timer_at_fixed_rate(name, msg, interval)
        else:
            self.start_single_timer(name, msg, interval)

    def cancel_timer(self, name: Hashable) -> None:
        """Cancel the timer ``name``; its message is never processed after this returns."""
        timer = None if self._timers is None else self._timers.pop(name, None)
        if timer is not None:
            timer.cancel()
            if self._trace:
                log.debug("timer_cancelled", actor=str(self), name=name)

    def is_timer_active(self, name: Hashable) -> bool:
        """Whether the timer ``name`` is armed (a single timer is inactive once delivered)."""
        return self._timers is not None and name in self._timers

    def is_state_timer_active(self) -> bool:
        """Whether a state timeout is armed."""
        return self._state_timer is not None and self._state_timer.deadline is not None

    def _start_timer(self, name: Hashable, msg: Any, interval: float, mode: int) -> None:
        self.cancel_timer(name)
        timer = NamedTimer(self.actor_inbox, name, msg, interval, mode)
        if self._timers is None:
            self._timers = {}
        self._timers[name] = timer
        if self._started:
            timer.start()
        if self._trace:
            log.debug("timer_set", actor=str(self), name=name, msg=safe_repr(msg), after=interval)

    def _arm_state_timeout(self, timeout: float | Unset | None) -> None:
        if timeout is None or timeout is UNSET:
            return
        timer = self._state_timer
        if timer is None:
            timer = self._state_timer = StateTimer(self.actor_inbox)
        timer.arm(timeout)
        if self._trace:
            log.debug("state_timeout_set", actor=str(self), after=timeout)

    # ------------------------------------------------------------ starting

    def _start_actor_loop(self) -> None:
        """Enter the initial state on the caller's thread, then hand the FSM to its dispatcher.

        Entering arms the initial state timeout and the timers the constructor
        started: they are queued when ``start()`` returns, so a virtual clock
        advanced right after ``start()`` fires them. ``on_start`` (if the class
        has one) runs first on the dispatcher; a bad initial state fails the
        FSM there.
        """
        try:
            self._enter_initial()
        except FSMError as exc:
            self._start_error = exc
        needs_run = self._start_error is not None or type(self).on_start is not _NO_ON_START
        stuck.watcher.note_limit(self.handler_warn_after)
        mailbox: Mailbox = self.actor_inbox
        if needs_run:
            mailbox.queue.appendleft(Envelope(START))
        mailbox.open(run=needs_run)

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
        if self._timers is not None:
            for timer in self._timers.values():
                timer.start()
        self._arm_state_timeout(self._current_timeout if timeout is UNSET else timeout)

    def _on_start_message(self, _envelope: Envelope[Any]) -> None:
        """The first turn: run ``on_start`` (or fail for a bad initial state)."""
        try:
            if self._start_error is not None:
                raise self._start_error
            self._current_msg = "<on_start>"
            self._busy_since = _monotonic()
            self.on_start()
            self._busy_since = None
        except BaseException as exc:
            self._fail(exc, None, None, resumable=False)

    # ------------------------------------------------------------ the loop

    def _run_slice(self, budget: int) -> None:
        """Handle up to ``budget`` queued messages (one turn on a worker)."""
        queue = self.actor_inbox.queue
        popleft = queue.popleft
        system = SYSTEM_MESSAGES
        handle = self._handle_event
        # Stopping closes the mailbox, which empties the deque: no other check needed.
        for _ in range(budget):
            if not queue:
                return
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
        if timer is not None and timer.deadline is not None:
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
                    self._arm_state_timeout(self._current_timeout)
            elif (
                result.__class__ is NextState
                and result[0] is _STAY_KIND
                and ((mods := result[3]) is NO_MODS)
            ):
                # stay().using(data), the most common description after stay().
                if result[2] is not UNSET:
                    self._data = result[2]
                if reply_to is not None:
                    reply_to.set(None)
                if self._current_timeout is not None:
                    self._arm_state_timeout(self._current_timeout)
            elif result.__class__ is NextState and result[0] is _STAY_KIND and not mods[3]:
                # A stay with other modifiers (.replying, .for_max): no transition.
                if result[2] is not UNSET:
                    self._data = result[2]
                if reply_to is not None:
                    reply_to.set(None if mods[1] is UNSET else mods[1])
                elif mods[1] is not UNSET:
                    log.debug("reply_dropped", actor=str(self), reply=safe_repr(mods[1]))
                timeout = self._current_timeout if mods[0] is UNSET else mods[0]
                if timeout is not None:
                    self._arm_state_timeout(timeout)
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
            self._stop_as_told(data, reason, reply, message, reply_to)
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
            if self._postponed is None:
                self._postponed = []
            self._postponed.append(Envelope(message, reply_to))
            reply_to = None
            if self._trace:
                log.debug("event_postponed", actor=str(self), fsm_event=safe_repr(message))
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
        if self._state_entries is None:  # the first transition: the initial entry counts
            initial = {} if self._initial is None else {self._initial[0]: 1}
            self._state_entries, self._state_time, self._transition_counts = initial, {}, {}
        times = self._state_time
        assert times is not None and self._transition_counts is not None
        times[old_state] = times.get(old_state, 0.0) + now - self._entered_at
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
            postponed, self._postponed = self._postponed, None
            self.actor_inbox.queue.extendleft(reversed(postponed))

    def _refresh_current(self) -> None:
        """Cache the current state's handlers and default timeout for the hot path."""
        self._current_handlers = self._handlers.get(self._state, ())
        timeouts = self._timeouts
        self._current_timeout = None if timeouts is None else timeouts.get(self._state)


_NO_ON_START = pykka.ThreadingActor.on_start
START = SystemMessages.Start()
"""The first message of every FSM that has an ``on_start`` to run."""
SYSTEM_MESSAGES[SystemMessages.Start] = FSM._on_start_message


def _check_hashable(state: object) -> None:
    try:
        hash(state)
    except TypeError:
        msg = f"FSM states must be hashable (an enum member is best), got {state!r}"
        raise TypeError(msg) from None


def _period(value: object, what: str) -> float:
    """A repeating timer's period: positive, finite, and at least ``MIN_TIMER_INTERVAL``."""
    seconds = to_seconds(value, what)
    if seconds <= 0 or seconds == float("inf"):
        msg = f"{what} of a repeating timer must be positive and finite, got {value!r}"
        raise ValueError(msg)
    if seconds < MIN_TIMER_INTERVAL:
        msg = f"{what} of a repeating timer must be at least {MIN_TIMER_INTERVAL} s, got {value!r}"
        raise ValueError(msg)
    return seconds
