"""The messages an FSM serves itself: they never reach handlers nor cancel the state timeout.

Timers and state timeouts (checked against their generation), pykka's stop
request and proxy calls, transition subscriptions, death watch, the test
kit's settle marker and the first turn's ``on_start``. The engine dispatches
them through :data:`SYSTEM_MESSAGES`, one dict lookup per message.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from pykka import ActorDeadError

from actorfsm import death_watch
from actorfsm.listeners import Listeners
from actorfsm.messages import Shutdown, StateTimeout
from actorfsm.pykka_seam import (
    ActorStop,
    Envelope,
    ProxyCall,
    ProxyGetAttr,
    ProxySetAttr,
    get_attr_directly,
)
from actorfsm.rendering import safe_repr
from actorfsm.scheduler import Settle
from actorfsm.subscribers import (
    CurrentState,
    SubscribeTransitionCallBack,
    UnsubscribeTransitionCallBack,
)
from actorfsm.timers import NamedTimer, StateTimeoutFired

if TYPE_CHECKING:
    import pykka

    from actorfsm.timers import StateTimer

log = structlog.get_logger("actorfsm")

_STATE_TIMEOUT = StateTimeout()


class SystemMessages:
    """The engine's handlers for internal messages (mixed into :class:`~actorfsm.fsm.FSM`)."""

    class Start:
        """Internal message: the FSM's first turn, which runs ``on_start``."""

        __slots__ = ()

    if TYPE_CHECKING:
        _state: Any
        _state_timer: StateTimer | None
        _timers: dict[Any, NamedTimer] | None
        _subscribers: Listeners | None
        _watchers: Listeners | None
        _current_msg: Any
        _busy_since: float | None
        actor_ref: pykka.ActorRef[Any]

        def _handle_event(self, message: Any, reply_to: Any) -> None: ...
        def _terminate(self, reason: Any, reply_to: Any, reply: Any, exc: Any) -> None: ...
        def _fail(
            self, exc: BaseException, message: Any, reply_to: Any, *, resumable: bool = True
        ) -> None: ...

    def _on_stop_request(self, envelope: Envelope[Any]) -> None:
        self._terminate(Shutdown(), envelope.reply_to, None, None)

    def _on_state_timeout(self, envelope: Envelope[Any]) -> None:
        fired: StateTimeoutFired = envelope.message
        timer = self._state_timer
        if timer is not None and fired.gen == timer.gen and timer.deadline is not None:
            self._handle_event(_STATE_TIMEOUT, None)

    def _on_timer(self, timer: NamedTimer) -> None:
        """A named timer fired (the timer is its own envelope)."""
        timers = self._timers
        if timers is None or timers.get(timer.name) is not timer:
            return  # cancelled or replaced after it fired
        if timer.mode == NamedTimer.SINGLE:
            del timers[timer.name]
        self._handle_event(timer.payload, None)

    def _on_proxy(self, envelope: Envelope[Any]) -> None:
        """Serve a pykka proxy call or attribute access (not an FSM event)."""
        message = envelope.message
        self._current_msg = message
        self._busy_since = time.monotonic()
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
            if self._subscribers is None:
                self._subscribers = Listeners()
            self._subscribers.add(subscriber)
        _answer(envelope)

    def _on_unsubscribe(self, envelope: Envelope[Any]) -> None:
        if self._subscribers is not None:
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
            if self._watchers is None:
                self._watchers = Listeners()
            self._watchers.add(request.watcher)
        elif self._watchers is not None:
            self._watchers.remove(request.watcher)
        _answer(envelope)

    def _on_settle(self, envelope: Envelope[Any]) -> None:
        envelope.message.future.set_result(None)


def _answer(envelope: Envelope[Any]) -> None:
    if envelope.reply_to is not None:
        envelope.reply_to.set(None)


SYSTEM_MESSAGES: dict[type, Callable[[Any, Any], None]] = {
    ActorStop: SystemMessages._on_stop_request,
    StateTimeoutFired: SystemMessages._on_state_timeout,
    NamedTimer: SystemMessages._on_timer,
    ProxyCall: SystemMessages._on_proxy,
    ProxyGetAttr: SystemMessages._on_proxy,
    ProxySetAttr: SystemMessages._on_proxy,
    SubscribeTransitionCallBack: SystemMessages._on_subscribe,
    UnsubscribeTransitionCallBack: SystemMessages._on_unsubscribe,
    death_watch.Watch: SystemMessages._on_watch,
    Settle: SystemMessages._on_settle,
}
"""Messages that are not events, and the engine method that serves each."""
