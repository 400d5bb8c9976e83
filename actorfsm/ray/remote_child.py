"""Supervising an FSM that runs on the cluster: a local stand-in is the supervisor's child.

``remote_child(name, FSMClass, *args, resources=...)`` is a ``ChildSpec``
whose child is a :class:`RemoteChild`: a small local FSM that starts the real
FSM on the cluster, forwards every message to it in order (asks answered when
the remote reply arrives, never blocking), and stops with the remote FSM's
reason when it stops, fails, or its host or node dies. The supervisor then
restarts the stand-in by its strategy, limits and backoff, and the new one
starts a new remote FSM on a node that has the resources now; the child's
``ChildRef`` keeps working and what is sent meanwhile waits for it, in order.
When no node has the resources, the start fails with ``ResourcesUnavailable``,
a dependency error: restarts back off and the streak is logged once.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pykka import ActorDeadError, Future

from actorfsm.death_watch import Terminated, unwatch, watch
from actorfsm.dispatch import PINNED
from actorfsm.dsl import NextState, stop
from actorfsm.fsm import FSM
from actorfsm.mailbox import reject_envelope
from actorfsm.messages import Event, Reason, Shutdown, StopEvent
from actorfsm.pykka_seam import Envelope
from actorfsm.ray.placement import start
from actorfsm.ray.ref import CarriedAsk, RayFuture, RayRef
from actorfsm.supervision.child_spec import ChildSpec, Restart

if TYPE_CHECKING:
    from pykka._types import OptExcInfo


class _Phase(enum.Enum):
    FORWARDING = "forwarding"


@dataclass(frozen=True, slots=True)
class _RemoteDown:
    """The remote FSM stopped for ``reason``; ``tells`` are those it never handled."""

    reason: Reason
    tells: list[object]


class RemoteChild(FSM[_Phase, None]):
    """A supervisor's local stand-in for an FSM that runs on the cluster.

    Start it through :func:`remote_child`. ``remote`` is the current remote
    FSM's :class:`RayRef`. When the remote FSM stops, the tells it never
    handled are fetched from its host (numbered after every tell sent to it,
    so none is missed), and those, then what reached the stand-in meanwhile,
    are handed to the next incarnation in order; asks in flight to the
    stopped FSM fail with ``ActorDeadError``.
    """

    handler_warn_after = 60.0  # on_start waits for the remote start (a new host takes seconds)

    dispatcher = PINNED  # on_start and stopping wait on the cluster: on its own thread

    stop_timeout = 5.0
    """How long stopping the stand-in waits for the remote FSM to stop, in seconds."""

    def __init__(
        self,
        fsm_class: type[FSM[Any, Any]],
        args: tuple[object, ...],
        kwargs: Mapping[str, Any],
        resources: Mapping[str, float] | None,
    ) -> None:
        super().__init__()
        self._fsm_class = fsm_class
        self._args = args
        self._kwargs = dict(kwargs)
        self._resources = resources
        self.remote: RayRef | None = None
        """The remote FSM of this incarnation (``None`` until ``on_start`` started it)."""
        self._held: list[Envelope[object]] | None = None  # once the remote stopped: what came since
        self._asks: dict[int, Future[object]] = {}  # the reply futures of asks relayed, by tag
        self._next_tag = 0
        self.start_with(_Phase.FORWARDING, None)
        self.when(_Phase.FORWARDING, self._forwarding)
        self.on_termination(self._stop_remote)

    def on_start(self) -> None:
        """Start the remote FSM (in this stand-in's thread) and watch it."""
        self.remote = start(
            self._fsm_class, *self._args, resources=self._resources, quiet=True, **self._kwargs
        )
        watch(self.actor_ref, self.remote)

    def _handle_event(self, message: object, reply_to: Future[object] | None) -> None:
        """Forward every event to the remote FSM; handle only news about it.

        This overrides the engine's per-event entry point, because an ask is
        answered later, when the remote reply arrives, which a handler's
        ``replying`` cannot do.
        """
        remote = self.remote
        if remote is None or type(message) is _RemoteDown:
            super()._handle_event(message, reply_to)
        elif type(message) is Terminated and message.ref == remote:
            self._held = []
            reason = Shutdown() if message.reason is None else message.reason
            remote.leftovers().on_done(lambda done: self._collected(reason, done))
        elif self._held is not None:
            self._held.append(Envelope(message, reply_to=reply_to))
        elif reply_to is None:
            remote.tell(message)
        else:
            tag = self._next_tag
            self._next_tag += 1
            self._asks[tag] = reply_to
            remote.ask_into(message, _Answered(reply_to, tag, self._asks), tag)

    def _collected(self, reason: Reason, done: RayFuture) -> None:
        """The remote FSM's unhandled tells arrived (none if its host died): stop with them."""
        try:
            tells = done.get()
        except Exception:
            tells = []
        with contextlib.suppress(ActorDeadError):  # stopped from outside meanwhile
            self.actor_ref.tell(_RemoteDown(reason, tells))

    def _forwarding(self, event: Event) -> NextState | None:
        match event.event:
            case _RemoteDown(reason, tells):
                self._hand_over([self._envelope(message) for message in tells])
                self.remote = None
                return stop(reason)
        return None

    def _hand_over(self, carried: list[Envelope[object]]) -> None:
        """Give the next incarnation what the remote FSM never handled, then what came since."""
        hooks = self.supervision_hooks
        held, self._held = self._held or [], None
        for envelope in carried + held:
            if hooks is not None:
                hooks.forward(envelope)
            else:
                reject_envelope(envelope)

    def _envelope(self, message: object) -> Envelope[object]:
        """A leftover as the envelope it came in (a carried ask with its asker's future)."""
        if type(message) is CarriedAsk:
            return Envelope(message.message, reply_to=self._asks.pop(message.tag, None))
        return Envelope(message)

    def _stop_remote(self, stop_event: StopEvent) -> None:
        """Stopped from outside: stop the remote FSM too (what was held goes on, in order)."""
        self._hand_over([])
        remote = self.remote
        if remote is None:
            return
        unwatch(self.actor_ref, remote)
        with contextlib.suppress(Exception):
            remote.stop(block=True, timeout=self.stop_timeout)


class _Answered(Future[object]):
    """A relayed ask's future that forgets its tag once the remote FSM answered."""

    __slots__ = ("_asks", "_reply_to", "_tag")

    def __init__(self, reply_to: Future[object], tag: int, asks: dict[int, Future[object]]) -> None:
        super().__init__()
        self._reply_to = reply_to
        self._tag = tag
        self._asks = asks

    def set(self, value: object = None) -> None:
        self._asks.pop(self._tag, None)
        self._reply_to.set(value)

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        self._asks.pop(self._tag, None)
        self._reply_to.set_exception(exc_info)


def remote_child(
    name: str,
    fsm_class: type[FSM[Any, Any]],
    *args: Any,
    resources: Mapping[str, float] | None = None,
    restart: Restart = "permanent",
    **kwargs: Any,
) -> ChildSpec:
    """A ``ChildSpec`` for ``fsm_class(*args, **kwargs)`` on a cluster node with ``resources``."""
    return ChildSpec(name, RemoteChild, args=(fsm_class, args, kwargs, resources), restart=restart)
