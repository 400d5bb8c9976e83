"""How an FSM is declared (Akka's DSL) and what it reads of itself (state, data, hooks).

Mixed into :class:`~actorfsm.fsm.FSM`. These run in ``__init__`` (and may run
again from handlers, e.g. ``when_unhandled``); they only record what the
engine (:mod:`actorfsm.fsm`) then applies.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from actorfsm.dsl import UNSET, NextState, Unset
from actorfsm.durations import Duration, to_optional_timeout
from actorfsm.messages import Event, StopEvent

if TYPE_CHECKING:
    from actorfsm.listeners import Listeners
    from actorfsm.recipient import Ref
    from actorfsm.stopping import SupervisionHooks

S = TypeVar("S", bound=Hashable)
D = TypeVar("D")

Handler = Callable[[Event], NextState | None]
TransitionHandler = Callable[[S, S], object]


class Declarations(Generic[S, D]):
    """``start_with``, ``when``, ``when_unhandled``, ``on_transition``, ``on_termination``."""

    if TYPE_CHECKING:
        _handlers: dict[S, tuple[Handler, ...]]
        _timeouts: dict[S, float | None] | None
        _unhandled: Handler | None
        _transition_handlers: tuple[TransitionHandler[S], ...]
        _termination_handler: Callable[[StopEvent], object] | None
        _initial: tuple[S, D, float | Unset | None] | None
        _state: S
        _current_handlers: tuple[Handler, ...]
        _current_timeout: float | None
        _started: bool
        _terminated: bool

        _next_data: D | Unset
        _data: D
        _supervision: SupervisionHooks | None
        _subscribers: Listeners | None

        def _arm_state_timeout(self, timeout: float | Unset | None) -> None: ...
        def _warn_dead(self, subscribers: list[Ref]) -> None: ...

    def start_with(self, state: S, data: D, timeout: Duration | None = None) -> None:
        """Declare the initial state and data; ``timeout`` overrides the state's default once.

        As in Akka, ``None`` keeps the state's default and ``float("inf")``
        cancels it for the initial entry.
        """
        _check_hashable(state)
        seconds = UNSET if timeout is None else to_optional_timeout(timeout, "start_with timeout")
        self._initial = (state, data, seconds)

    def when(
        self, state: S, handler: Handler, state_timeout: Duration | Unset | None = UNSET
    ) -> None:
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

    def set_state_timeout(self, state: S, timeout: Duration | None) -> None:
        """Change ``state``'s default timeout (``None`` for none) from now on."""
        _check_hashable(state)
        self._set_timeout(state, to_optional_timeout(timeout, "state timeout"))
        self._refresh_current()

    def _set_timeout(self, state: S, seconds: float | None) -> None:
        if self._timeouts is None:
            self._timeouts = {}
        self._timeouts[state] = seconds

    def when_unhandled(self, handler: Handler) -> None:
        """Set the handler for events no ``when`` handler took (replaces the previous one)."""
        self._unhandled = handler

    def on_transition(self, handler: TransitionHandler[S]) -> None:
        """Add ``handler(from_state, to_state)``, run on every real state change."""
        self._transition_handlers = (*self._transition_handlers, handler)

    def on_termination(self, handler: Callable[[StopEvent], object]) -> None:
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

    def tell_subscribers(self, message: object) -> None:
        """Tell every transition subscriber ``message``; dead ones are dropped with a warning."""
        if self._subscribers is not None:
            self._warn_dead(self._subscribers.tell_all(message))

    @property
    def state_name(self) -> S:
        """The current state."""
        return self._state

    @property
    def state_data(self) -> D:
        """The current state data (the old data while ``on_transition`` handlers run)."""
        return self._data

    @property
    def next_state_data(self) -> D:
        """The data of the state being entered; only valid inside ``on_transition``."""
        if self._next_data is UNSET:
            msg = "next_state_data is only available inside on_transition handlers"
            raise RuntimeError(msg)
        return self._next_data

    def _refresh_current(self) -> None:
        """Cache the current state's handlers and default timeout for the hot path."""
        self._current_handlers = self._handlers.get(self._state, ())
        timeouts = self._timeouts
        self._current_timeout = None if timeouts is None else timeouts.get(self._state)


def _check_hashable(state: object) -> None:
    try:
        hash(state)
    except TypeError:
        msg = f"FSM states must be hashable (an enum member is best), got {state!r}"
        raise TypeError(msg) from None
