"""The FSM engine: Akka's FSM semantics on pykka actors that share worker threads.

An FSM is a pykka actor without a thread of its own: a dispatcher (:mod:`actorfsm.dispatch`)
runs its mailbox. The engine reads the deque without a lock per message, serves internal
messages (timers, state timeouts, subscriptions, death watch, pykka's stop and proxy calls;
:mod:`actorfsm.system_messages`) through one dict lookup, and hands every other message to
the current state's handlers as an :class:`~actorfsm.messages.Event`.

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
6. ``.postponing()``: the event (with its asker) is kept for after the next state change.
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

import itertools
import os
import sys
import time
import uuid
from collections.abc import Callable, Hashable, Sized
from typing import Any, ClassVar, Generic, Self, cast

import pykka

from actorfsm import dispatch, pykka_seam, stuck
from actorfsm import metric_hooks as _metrics
from actorfsm.declaration import D, Declarations, Handler, S, TransitionHandler
from actorfsm.dsl import NO_MODS, STAY, UNSET, Kind, NextState, Unset
from actorfsm.listeners import Listeners
from actorfsm.mailbox import Mailbox
from actorfsm.messages import Event, StateTimeout, StopEvent
from actorfsm.pykka_seam import Envelope
from actorfsm.ref import FSMRef, StoppedFlag
from actorfsm.rendering import safe_repr
from actorfsm.stopping import ReplyTo, Stopping, SupervisionHooks, log
from actorfsm.subscribers import Transition
from actorfsm.supervised import hooks_in_force
from actorfsm.system_messages import SYSTEM_MESSAGES, SystemMessages
from actorfsm.timers import STATE_SCOPED, NamedTimer, StateTimer, TimerMethods
from actorfsm.tracing import Tracing

_STAY_KIND = Kind.STAY
_monotonic = time.monotonic
# Building an Event through its slot descriptors skips the frozen dataclass
# __init__ (object.__setattr__ per field): about 40% cheaper, once per message.
# An FSM refills its last Event when nothing else holds it (its refcount says
# so), which saves its allocation and release: about 40 ns of each turn.
_new_object = object.__new__
_refcount = sys.getrefcount
_set_event = Event.__dict__["event"].__set__
_set_data = Event.__dict__["data"].__set__

# A urn per FSM, unique as a uuid4 and cheaper: a random uuid4 prefix for the
# process, a serial number in the last group (os.urandom per FSM is a syscall).
_URN_PREFIX = uuid.uuid4().urn[:-12]
_serials = itertools.count()


class FSMError(Exception):
    """An FSM was used against its contract (unknown state, bad handler result)."""


class FSM(
    Declarations[S, D],
    TimerMethods,
    Tracing,
    SystemMessages,
    Stopping,
    pykka.ThreadingActor,
    Generic[S, D],
):
    """A finite-state-machine actor: declare states with :meth:`when`, start it as any pykka actor.

    ``__init__`` declares the machine (``start_with``, ``when``, ``on_transition``
    ...); ``start()`` enters the initial state (its timers are armed when it
    returns) and runs ``on_start`` and the handlers on the FSM's dispatcher.
    """

    # The engine's fields live in slots: a million idle FSMs is the target, and
    # an instance dict with this many keys would cost more than the rest.
    # fmt: off
    __slots__ = (
        "_busy_since", "_current_handlers", "_current_msg", "_current_timeout", "_data",
        "_entered_at", "_event", "_handlers", "_initial", "_log", "_next_data", "_observe",
        "_postponed", "_start_error", "_started", "_state", "_state_entries", "_state_time",
        "_state_timer", "_stuck_since", "_subscribers", "_supervision", "_terminated",
        "_termination_handler", "_timeouts", "_timers", "_trace", "_transition_counts",
        "_transition_handlers", "_unhandled", "_watchers",
    )
    # fmt: on

    debug_events: ClassVar[bool] = False
    """Trace every event, timer and transition at debug level (or set ``ACTORFSM_DEBUG=1``)."""

    reports_own_failures: ClassVar[bool] = False
    """True for an FSM that logs why it stops with ``stop(Failure(...))`` itself (a Supervisor)."""

    handler_warn_after: ClassVar[float | None] = 1.0
    """Report a handler still running after this many seconds; ``None`` turns it off."""

    dispatcher: ClassVar[str] = dispatch.DEFAULT
    """Where instances run: ``"default"`` (the shared pool), a pool's name, or ``"pinned"``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)  # a bad setting fails at the class statement
        stuck.check_warn_after(cls.__name__, cls.handler_warn_after)
        dispatch.check_name(cls.__name__, cls.dispatcher)

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        """Create the FSM's identity, mailbox and ref; subclasses then declare the machine.

        Runs in the caller's thread; nothing is handled until ``start()``.
        """
        self.actor_urn = f"{_URN_PREFIX}{next(_serials):012x}"
        dispatcher = dispatch.for_fsm(self.dispatcher, type(self).__name__)
        self.actor_inbox = _metrics.mailbox(self, dispatcher)  # metrics hook: maybe a counting one
        self.actor_stopped = StoppedFlag()
        self._actor_ref = FSMRef(self)
        self._handlers: dict[S, tuple[Handler, ...]] = {}
        self._timeouts: dict[S, float | None] | None = None
        self._unhandled: Handler | None = None
        self._transition_handlers: tuple[TransitionHandler[S], ...] = ()
        self._termination_handler: Callable[[StopEvent], object] | None = None
        self._initial: tuple[S, D, float | Unset | None] | None = None
        # None until start() enters the initial state, a moment later.
        self._state = cast("S", None)
        self._data = cast("D", None)
        self._next_data: D | Unset = UNSET
        self._current_handlers: tuple[Handler, ...] = ()
        self._current_timeout: float | None = None
        # Made on first use: most FSMs never need some of them.
        self._state_timer: StateTimer | None = None
        self._timers: dict[Hashable, NamedTimer] | None = None
        self._subscribers: Listeners | None = None
        self._watchers: Listeners | None = None
        self._postponed: list[Envelope[object]] | None = None
        self._state_entries: dict[S, int] | None = None
        self._state_time: dict[S, float] | None = None
        self._transition_counts: dict[tuple[S, S], int] | None = None
        self._started = False
        self._start_error: FSMError | None = None
        self._terminated = False
        # What the event in progress is and since when (stuck-handler detection
        # and introspection): the hot path's only bookkeeping.
        self._current_msg: object = None
        self._busy_since: float | None = None
        self._stuck_since: float | None = None
        self._entered_at = 0.0
        self._event: Event[D] | None = None
        self._log = self._create_log()
        self._trace = bool(self.debug_events) or os.environ.get("ACTORFSM_DEBUG") == "1"
        self._observe = self._observer()
        self._supervision: SupervisionHooks | None = hooks_in_force()

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Self]:
        """Create the FSM, register it, enter its initial state and schedule it; return its ref."""
        fsm = cls(*args, **kwargs)
        pykka_seam.register(fsm._actor_ref)
        fsm._start_actor_loop()
        return fsm._actor_ref

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
        elif self._supervision is not None:
            self._supervision.started(self)
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

    def _on_start_message(self, _envelope: Envelope[object]) -> None:
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
            return
        if self._supervision is not None:
            self._supervision.started(self)

    # ------------------------------------------------------------ the loop

    def _run_slice(self, budget: int, waiting: Sized) -> None:
        """Handle queued messages; after each ``budget`` (Akka's throughput) stop if others are
        ``waiting``. One call per turn: re-entering per budget cost a tenth of a cheap handler."""
        queue = self.actor_inbox.queue
        popleft = queue.popleft
        system = SYSTEM_MESSAGES
        handle = self._handle_event
        left = budget
        # Stopping closes the mailbox, which empties the deque: no other check needed.
        while queue:
            envelope = popleft()
            message = envelope.message
            internal = system.get(message.__class__)
            if internal is None:
                handle(message, envelope.reply_to)
            else:
                internal(self, envelope)
            left -= 1
            if not left:
                if waiting:
                    return
                left = budget

    def _handle_event(self, message: object, reply_to: ReplyTo) -> None:
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
        event = self._event
        if event is None or _refcount(event) != 3:  # the slot, this frame, the call
            event = self._event = _new_object(Event)
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
            if result is STAY or (
                result.__class__ is NextState and result[0] is _STAY_KIND and result[3] is NO_MODS
            ):
                # stay() or stay().using(data): by far the most common outcomes.
                if result[2] is not UNSET:
                    self._data = result[2]
                if reply_to is not None:
                    reply_to.set(None)
                if self._current_timeout is not None:
                    self._arm_state_timeout(self._current_timeout)
            elif (
                result.__class__ is NextState
                and result[0] is _STAY_KIND
                and not (mods := result[3])[3]
                and mods[4] is UNSET
            ):
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

    def _apply(
        self, result: object, message: object, reply_to: ReplyTo, handler: Handler | None
    ) -> None:
        """Apply a handler's description: the one place state, data and timeouts change."""
        if not isinstance(result, NextState):
            name = getattr(handler, "__qualname__", repr(handler))
            msg = (
                f"handler {name} returned {safe_repr(result)} in state {safe_repr(self._state)}; "
                "expected goto(...), stay(), stop(...) or None"
            )
            raise TypeError(msg)
        kind, target, data, (timeout, reply, reason, postpone, scoped) = result
        if kind is Kind.STOP:
            if data is not UNSET:
                self._data = data
            self._stop_as_told(reason, reply, message, reply_to)
            return
        old_state = self._state
        if kind is not Kind.STAY and target not in self._handlers:
            msg = f"Next state {target!r} does not exist (no when() for it)"
            raise FSMError(msg)
        next_state = old_state if kind is Kind.STAY else cast("S", target)  # a declared state
        new_data = self._data if data is UNSET else data
        if postpone:
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
        if scoped is not UNSET:
            if scoped is None:
                self.cancel_timer(STATE_SCOPED)
            else:
                self.start_single_timer(STATE_SCOPED, _STATE_TIMEOUT, scoped)
        if reply_to is not None:
            reply_to.set(None if reply is UNSET else reply)
        elif reply is not UNSET and not postpone:
            log.debug("reply_dropped", actor=str(self), reply=safe_repr(reply))

    def _enter(self, old_state: S, next_state: S) -> None:
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
        if self._timers is not None and STATE_SCOPED in self._timers:
            self.cancel_timer(STATE_SCOPED)  # gen_statem's state_timeout ends with its state
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


_STATE_TIMEOUT = StateTimeout()
_NO_ON_START = pykka.ThreadingActor.on_start
START = SystemMessages.Start()
"""The first message of every FSM that has an ``on_start`` to run."""
SYSTEM_MESSAGES[SystemMessages.Start] = FSM._on_start_message
