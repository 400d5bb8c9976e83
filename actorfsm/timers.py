"""The per-FSM timer objects the scheduler's heap points at: named timers and the state timeout.

The heap itself lives in :mod:`actorfsm.scheduler`; what a heap entry fires
lives here. Each object decides, when its entry comes due, whether it still
wants delivering (generations and cancelled flags, never locks held across a
handler), and what to post to its FSM's mailbox.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from actorfsm import scheduler as _scheduler
from actorfsm.dsl import UNSET, Unset
from actorfsm.durations import Duration, to_seconds
from actorfsm.pykka_seam import Envelope
from actorfsm.rendering import safe_repr
from actorfsm.scheduler import Delivery, Scheduler, current

if TYPE_CHECKING:
    from actorfsm.mailbox import Mailbox

log = structlog.get_logger("actorfsm")

_state_timer_lock = threading.Lock()


class StateTimer:
    """One FSM's state timeout: a deadline, a generation and at most one live heap entry.

    Only the FSM's own thread calls :meth:`arm` and :meth:`cancel`; only the
    scheduler calls :meth:`fire`. Moving the deadline later is lock-free: the
    FSM writes the deadline before it reads ``live``, and the scheduler clears
    ``live`` before it reads the deadline, so a due deadline always has a live
    entry. The FSM writes ``deadline`` before ``gen`` and the scheduler reads
    them in the opposite order, so a timeout is never delivered under a
    generation whose deadline has not come. Pushing a new entry and the
    scheduler's decision share one lock, so the live entry and its due time
    always agree.
    """

    __slots__ = ("deadline", "gen", "live", "live_due", "mailbox", "scheduler")

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox
        self.deadline: float | None = None
        self.gen = 0
        self.live: int | None = None
        self.live_due = 0.0
        self.scheduler: Scheduler | None = None

    def cancel(self) -> None:
        """Forget the deadline: the live entry and any queued timeout are then ignored.

        The generation moves on the next :meth:`arm`; until then a queued
        timeout is dropped because no deadline is set.
        """
        self.deadline = None

    def arm(self, timeout: float) -> None:
        """Time out ``timeout`` seconds from now (a new generation)."""
        scheduler = _scheduler._current or current()
        deadline = scheduler.now() + timeout
        self.deadline = deadline
        self.gen += 1
        if self.live is None or self.live_due > deadline or self.scheduler is not scheduler:
            with _state_timer_lock:
                if self.live is None or self.live_due > deadline or self.scheduler is not scheduler:
                    self._push(scheduler, deadline)

    def _push(self, scheduler: Scheduler, due: float) -> None:
        """Queue a new live entry (lock held); any older entry becomes stale."""
        token = scheduler.new_token()
        self.scheduler = scheduler
        self.live_due = due
        self.live = token
        scheduler.schedule(due, self, token)

    def is_stale(self, token: int) -> bool:
        return token != self.live

    def fire(self, scheduler: Scheduler, token: int, now: float) -> Delivery | None:
        with _state_timer_lock:
            if token != self.live:
                return None  # superseded by another entry
            self.live = None
            gen = self.gen
            deadline = self.deadline
            if deadline is None:
                return None
            if deadline > now:
                self._push(scheduler, deadline)
                return None
        return self.mailbox, Envelope(StateTimeoutFired(gen))


class StateTimeoutFired:
    """Internal message: the state timeout of generation ``gen`` came due."""

    __slots__ = ("gen",)

    def __init__(self, gen: int) -> None:
        self.gen = gen


class NamedTimer:
    """A named timer of one FSM: single, fixed-delay or fixed-rate.

    A timer is its own mailbox envelope (``message`` is the timer itself, and
    nobody awaits a reply), so firing allocates nothing: a burst of 100,000
    timers does not feed the garbage collector 200,000 short-lived objects.
    The FSM hands ``payload`` to its handlers if the timer is still current.
    """

    __slots__ = ("cancelled", "due", "interval", "mailbox", "mode", "name", "payload", "scheduler")

    SINGLE = 0
    FIXED_DELAY = 1
    FIXED_RATE = 2
    reply_to: ClassVar[None] = None

    def __init__(
        self, mailbox: Mailbox, name: Hashable, payload: object, interval: float, mode: int
    ) -> None:
        self.mailbox = mailbox
        self.name = name
        self.payload = payload
        self.interval = interval
        self.mode = mode
        self.cancelled = False
        self.due = 0.0
        self.scheduler: Scheduler | None = None

    def start(self) -> None:
        """Arm the first firing, ``interval`` from now."""
        self.scheduler = scheduler = current()
        self.due = scheduler.now() + self.interval
        scheduler.schedule(self.due, self)

    def cancel(self) -> None:
        """Never deliver this timer again; its heap entry is dropped later."""
        self.cancelled = True
        if self.scheduler is not None:
            self.scheduler.note_cancelled()

    def is_stale(self, token: int) -> bool:
        return self.cancelled

    def fire(self, scheduler: Scheduler, token: int, now: float) -> Delivery | None:
        if self.cancelled:
            return None
        if self.mode == NamedTimer.FIXED_RATE:
            self.due += self.interval
            scheduler.schedule(self.due, self)
        elif self.mode == NamedTimer.FIXED_DELAY:
            self.due = now + self.interval
            scheduler.schedule(self.due, self)
        return self.mailbox, self

    @property
    def message(self) -> NamedTimer:
        """As an envelope, the timer carries itself."""
        return self

    def __repr__(self) -> str:
        return f"NamedTimer({self.name!r}, {self.payload!r}, every={self.interval})"


MIN_TIMER_INTERVAL = 0.001
"""Repeating timers fire at most this often (seconds): a shorter period would spin a core."""


class TimerMethods:
    """An FSM's timer API (mixed into :class:`~actorfsm.fsm.FSM`): Akka's named timers."""

    if TYPE_CHECKING:
        _timers: dict[Hashable, NamedTimer] | None
        _state_timer: StateTimer | None
        _started: bool
        _trace: bool
        actor_inbox: Any  # a Mailbox, where pykka's Actor declares a queue.Queue

    def start_single_timer(self, name: Hashable, msg: object, delay: Duration) -> None:
        """Send ``msg`` to this FSM once, after ``delay``; replaces a timer of that name."""
        self._start_timer(name, msg, to_seconds(delay, "timer delay"), NamedTimer.SINGLE)

    def start_timer_with_fixed_delay(self, name: Hashable, msg: object, delay: Duration) -> None:
        """Send ``msg`` repeatedly, ``delay`` after each previous sending."""
        self._start_timer(name, msg, _period(delay, "timer delay"), NamedTimer.FIXED_DELAY)

    def start_timer_at_fixed_rate(self, name: Hashable, msg: object, interval: Duration) -> None:
        """Send ``msg`` every ``interval``, catching up if the scheduler fell behind."""
        self._start_timer(name, msg, _period(interval, "timer interval"), NamedTimer.FIXED_RATE)

    def set_timer(
        self, name: Hashable, msg: object, interval: Duration, repeat: bool = False
    ) -> None:
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

    def _start_timer(self, name: Hashable, msg: object, interval: float, mode: int) -> None:
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


class _StateScoped:
    """The name of the state-scoped timeout among the named timers (see ``.for_state``)."""

    def __repr__(self) -> str:
        return "<state-scoped timeout>"


STATE_SCOPED = _StateScoped()


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
