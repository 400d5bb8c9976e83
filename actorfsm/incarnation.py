"""The child's side of supervision: the hooks one incarnation of a child runs in its thread.

A supervisor starts each incarnation of a child under ``fsm.supervised(...)``
with an :class:`Incarnation` as its hooks. When the child fails, the engine
calls them in the *child's* thread: they run the decider and post what
happened to the supervisor (:class:`ChildFailed`); they never touch the
supervisor's state, which only its own thread changes. Messages that reach the
stopped child go to its ``ChildRef``, for the next incarnation.
"""

from __future__ import annotations

import contextlib
from typing import Any

import structlog
from pykka import ActorDeadError, ActorRef

from actorfsm.child_ref import ChildRef
from actorfsm.death_watch import Terminated
from actorfsm.fsm import FSM
from actorfsm.pykka_seam import Envelope
from actorfsm.strategy import Decider, Directive, decide
from actorfsm.supervision_messages import ChildDown, ChildFailed, ChildStarted

log = structlog.get_logger("actorfsm.supervision")


class Incarnation:
    """One incarnation of a child, and its supervision hooks (``fsm.SupervisionHooks``).

    ``resume``, ``report`` and ``forward`` run in the child's thread. The
    attributes below ``ref`` belong to the supervisor's thread.
    """

    __slots__ = (
        "child_ref",
        "decided",
        "decider",
        "logged_cause",
        "name",
        "ref",
        "reported",
        "reported_cause",
        "supervisor",
    )

    def __init__(
        self, supervisor: ActorRef[Any], name: str, child_ref: ChildRef, decider: Decider
    ) -> None:
        self.supervisor = supervisor
        self.name = name
        self.child_ref = child_ref
        self.decider = decider
        self.decided: tuple[BaseException, Directive] | None = None
        self.ref: ActorRef[Any] | None = None
        """The incarnation's ``ActorRef`` (``None`` while constructing, or if that failed)."""
        self.reported_cause: BaseException | None = None
        """The failure the supervisor was told about, and its directive."""
        self.reported: Directive | None = None
        self.logged_cause: object = None
        """A failure this incarnation (a supervisor) logged itself before failing with it."""

    def resume(self, fsm: FSM[Any, Any], exc: BaseException) -> bool:
        """Run the decider (the engine then reports the failure through :meth:`report`)."""
        directive = decide(self.decider, exc, self.name)
        self.decided = (exc, directive)
        return directive is Directive.RESUME

    def report(self, fsm: FSM[Any, Any], exc: BaseException, fields: dict[str, Any]) -> bool:
        """Hand the failure report to the supervisor (``False``: it is gone, log it yourself)."""
        decided = self.decided
        if decided is not None and decided[0] is exc:
            directive = decided[1]
        else:  # a start-up failure: the decider has not seen it yet
            directive = decide(self.decider, exc, self.name)
        return self.post(ChildFailed(self, exc, fields, directive))

    def forward(self, envelope: Envelope[Any]) -> None:
        """Keep a message that reached the stopped incarnation, for the next one.

        News about the watches and children of *this* incarnation (a stopped
        supervisor's) means nothing to the next one and is dropped.
        """
        if isinstance(envelope.message, _ABOUT_THIS_INCARNATION):
            return
        self.child_ref._forward(envelope, self)

    def post(self, message: Any) -> bool:
        """Tell the supervisor; ``False`` if it is dead."""
        try:
            self.supervisor.tell(message)
        except ActorDeadError:
            return False
        return True


class StartedSignal:
    """Stands in as the reply future of the supervisor's ``Watch`` request to an incarnation.

    The engine answers that request only when it handles it, that is once the
    child's ``on_start`` has returned: the answer tells the supervisor the child
    is RUNNING. A child that dies first never answers; its death watch sends
    ``Terminated`` instead. One message thus both watches and signals the start.
    """

    __slots__ = ("incarnation",)

    def __init__(self, incarnation: Incarnation) -> None:
        self.incarnation = incarnation

    def set(self, value: Any = None) -> None:
        with contextlib.suppress(ActorDeadError):
            self.incarnation.supervisor.tell(ChildStarted(self.incarnation))

    def set_exception(self, exc_info: Any = None) -> None:
        """Never called for a ``Watch`` request; present to look like a future."""


_ABOUT_THIS_INCARNATION = (Terminated, ChildFailed, ChildStarted, ChildDown)


def bare_fields(actor: str) -> dict[str, Any]:
    """Report fields for a failure no running FSM described (a constructor, a self-stop)."""
    return {"actor": actor, "state": None, "data": None, "fsm_event": None, "log": []}
