"""The messages an FSM serves itself: they never reach handlers nor cancel the state timeout.

Timers and state timeouts (checked against their generation), pykka's stop
request and proxy calls, transition subscriptions, death watch, the test
kit's settle marker and the first turn's ``on_start``. The engine dispatches
them through :data:`SYSTEM_MESSAGES`, one dict lookup per message.

Each handler is guarded, because each can run user code or carry a user
object: a subscription or watch request that cannot be served (a subscriber
or watcher that is no ref, or whose first ``tell`` raises) is *refused*: one
``system_message_refused`` warning, its asker gets the error, the FSM goes
on. Anything else raised while serving an internal message (a proxied method
raising ``SystemExit``, a timer name whose ``__eq__`` raises) *fails the FSM*
as a handler failure does: one failure report, askers answered, watchers
told. Never a dead worker thread or a hanging ``ask``.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import time
from collections.abc import Callable, Hashable
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
from actorfsm.recipient import Ref
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

    from actorfsm.messages import Reason
    from actorfsm.stopping import ReplyTo
    from actorfsm.timers import StateTimer

log = structlog.get_logger("actorfsm")

_STATE_TIMEOUT = StateTimeout()


class SystemMessages:
    """The engine's handlers for internal messages (mixed into :class:`~actorfsm.fsm.FSM`)."""

    class Start:
        """Internal message: the FSM's first turn, which runs ``on_start``."""

        __slots__ = ()

    if TYPE_CHECKING:
        _state_timer: StateTimer | None
        _timers: dict[Hashable, NamedTimer] | None
        _subscribers: Listeners | None
        _watchers: Listeners | None
        _current_msg: object
        _busy_since: float | None
        _terminated: bool
        actor_ref: pykka.ActorRef[Any]

        @property
        def state_name(self) -> Hashable: ...
        def _handle_event(self, message: object, reply_to: ReplyTo) -> None: ...
        def _terminate(
            self, reason: Reason, reply_to: ReplyTo, reply: object, exc: BaseException | None
        ) -> None: ...
        def _fail(
            self, exc: BaseException, message: object, reply_to: ReplyTo, *, resumable: bool = True
        ) -> None: ...

    def _on_stop_request(self, envelope: Envelope[ActorStop]) -> None:
        self._terminate(Shutdown(), envelope.reply_to, None, None)

    def _on_state_timeout(self, envelope: Envelope[StateTimeoutFired]) -> None:
        fired = envelope.message
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

    def _on_proxy(self, envelope: Envelope[ProxyCall | ProxyGetAttr | ProxySetAttr]) -> None:
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

    def _on_subscribe(self, envelope: Envelope[SubscribeTransitionCallBack]) -> None:
        subscriber = _checked_ref(envelope.message.subscriber, envelope.message)
        try:
            subscriber.tell(CurrentState(self.actor_ref, self.state_name))
        except ActorDeadError:
            self._warn_dead([subscriber])
        else:
            if self._subscribers is None:
                self._subscribers = Listeners()
            self._subscribers.add(subscriber)
        _answer(envelope.reply_to)

    def _on_unsubscribe(self, envelope: Envelope[UnsubscribeTransitionCallBack]) -> None:
        if self._subscribers is not None:
            self._subscribers.remove(envelope.message.subscriber)
        _answer(envelope.reply_to)

    def _warn_dead(self, subscribers: list[Ref]) -> None:
        for subscriber in subscribers:
            log.warning(
                "transition_subscriber_dead", actor=str(self), subscriber=safe_repr(subscriber)
            )

    def _on_watch(self, envelope: Envelope[death_watch.Watch]) -> None:
        request = envelope.message
        if request.watching:
            watcher = _checked_ref(request.watcher, request)
            if self._watchers is None:
                self._watchers = Listeners()
            self._watchers.add(watcher)
        elif self._watchers is not None:
            self._watchers.remove(request.watcher)
        _answer(envelope.reply_to)

    def _on_settle(self, envelope: Envelope[Settle]) -> None:
        envelope.message.future.set_result(None)

    def _refuse(self, envelope: Envelope[object], exc: Exception) -> None:
        """An internal request that cannot be served: one warning, the asker gets ``exc``."""
        log.warning(
            "system_message_refused",
            actor=str(self),
            message=safe_repr(envelope.message),
            error=safe_repr(exc),
        )
        _answer_with(envelope, exc)

    def _internal_failed(self, envelope: Envelope[object], exc: BaseException) -> None:
        """Serving an internal message raised: fail the FSM as a handler failure would."""
        self._busy_since = None
        if not self._terminated:
            self._fail(exc, envelope.message, envelope.reply_to)
            return
        # Raised while stopping or after: the FSM is stopped already, say so once.
        log.error(
            "system_message_failed",
            actor=str(self),
            message=safe_repr(envelope.message),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        _answer_with(envelope, exc)


def _checked_ref(ref: object, request: object) -> Ref:
    """``ref``, the subscriber or watcher in ``request``; ``TypeError`` if it has no ``tell``."""
    if not isinstance(ref, Ref) or not callable(ref.tell):
        msg = f"{type(request).__name__} needs an actor ref (with tell), got {safe_repr(ref)}"
        raise TypeError(msg)
    return ref


def _answer(reply_to: ReplyTo) -> None:
    if reply_to is not None:
        reply_to.set(None)


def _answer_with(envelope: Envelope[object], exc: BaseException) -> None:
    """Fail the envelope's ask with ``exc``, unless it was answered already."""
    reply_to = envelope.reply_to
    if reply_to is not None:
        with contextlib.suppress(queue.Full):
            reply_to.set_exception((type(exc), exc, exc.__traceback__))


Served = Callable[[Any, Any], None]
"""An engine method serving an internal message: ``(fsm, envelope)`` (a timer is its envelope).

Each method types its own envelope (``Envelope[Watch]``...) and the engine's
``on_start`` turn takes an ``FSM``: :data:`SYSTEM_MESSAGES` picks the method by
the message's type, which no static type can express.
"""


def _guarded(serve: Served, *, refusable: bool = False) -> Served:
    """``serve`` with the guard every internal message gets (see the module docstring).

    ``refusable``: an ``Exception`` refuses the request instead of failing the FSM.
    """

    def guarded(fsm: SystemMessages, envelope: Envelope[object]) -> None:
        try:
            serve(fsm, envelope)
        except Exception as exc:
            if refusable:
                fsm._refuse(envelope, exc)
            else:
                fsm._internal_failed(envelope, exc)
        except BaseException as exc:
            fsm._internal_failed(envelope, exc)

    guarded.__qualname__ = serve.__qualname__
    guarded.__doc__ = serve.__doc__
    return guarded


SYSTEM_MESSAGES: dict[type, Served] = {
    ActorStop: _guarded(SystemMessages._on_stop_request),
    StateTimeoutFired: _guarded(SystemMessages._on_state_timeout),
    NamedTimer: _guarded(SystemMessages._on_timer),
    ProxyCall: _guarded(SystemMessages._on_proxy),
    ProxyGetAttr: _guarded(SystemMessages._on_proxy),
    ProxySetAttr: _guarded(SystemMessages._on_proxy),
    SubscribeTransitionCallBack: _guarded(SystemMessages._on_subscribe, refusable=True),
    UnsubscribeTransitionCallBack: _guarded(SystemMessages._on_unsubscribe, refusable=True),
    death_watch.Watch: _guarded(SystemMessages._on_watch, refusable=True),
    Settle: _guarded(SystemMessages._on_settle),
}
"""Messages that are not events, and the (guarded) engine method that serves each."""
