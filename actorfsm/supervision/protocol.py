"""The protocol between a child and its supervisor: started, failed, forward.

A supervisor starts each incarnation of a child under ``fsm.supervised(...)``
with an :class:`Incarnation` as its hooks. Everything the child says to its
supervisor is a message posted from the child's own thread; the supervisor's
state changes only in the supervisor's thread:

- **started**: once the child's ``on_start`` has returned, the engine calls
  :meth:`Incarnation.started` on the child's thread, which posts
  :class:`ChildStarted`.
- **failed**: when a handler, hook or ``on_start`` raises, the engine runs the
  decider through :meth:`Incarnation.resume` and posts the report with
  :meth:`Incarnation.report` as :class:`ChildFailed`; a nested supervisor that
  gives up posts its own cause the same way (:meth:`Incarnation.gave_up`).
- **forward**: messages that reach the stopped incarnation go to its
  ``ChildRef``, for the next one (:meth:`Incarnation.forward`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pykka import ActorDeadError, ActorRef

from actorfsm.death_watch import Terminated
from actorfsm.messages import Failure
from actorfsm.pykka_seam import Envelope
from actorfsm.stopping import Stopping
from actorfsm.supervision.child_ref import ChildRef
from actorfsm.supervision.directive import Decider, Directive, decide


class Incarnation:
    """One incarnation of a child: its identity for the supervisor, and its hooks.

    ``resume``, ``report``, ``forward``, ``started`` and ``gave_up`` run in the
    child's thread and only post messages; nothing here is written by the
    supervisor after construction.
    """

    __slots__ = ("_decided", "child_ref", "decider", "name", "supervisor")

    def __init__(
        self, supervisor: ActorRef[Any], name: str, child_ref: ChildRef, decider: Decider
    ) -> None:
        self.supervisor = supervisor
        self.name = name
        self.child_ref = child_ref
        self.decider = decider
        self._decided: tuple[BaseException, Directive] | None = None  # resume() -> report()

    def __repr__(self) -> str:
        return f"<Incarnation of {self.name!r}>"

    # ------------------------------------------------------- the engine's hooks

    def resume(self, fsm: Stopping, exc: BaseException) -> bool:
        """Run the decider (the engine then reports the failure through :meth:`report`)."""
        directive = decide(self.decider, exc, self.name)
        self._decided = (exc, directive)
        return directive is Directive.RESUME

    def report(self, fsm: Stopping, exc: BaseException, fields: dict[str, object]) -> bool:
        """Post the failure report (``False``: the supervisor is gone, log it yourself)."""
        decided, self._decided = self._decided, None
        if decided is not None and decided[0] is exc:
            directive = decided[1]
        else:  # a start-up failure: the decider has not seen it yet
            directive = decide(self.decider, exc, self.name)
        return self._post(ChildFailed(self, exc, fields, directive))

    def forward(self, envelope: Envelope[object]) -> None:
        """Keep a message that reached the stopped incarnation, for the next one.

        This incarnation's own protocol, and news about the watches and
        children of *this* incarnation (a stopped supervisor's), mean nothing
        to the next one and are dropped.
        """
        message = envelope.message
        if isinstance(message, _ABOUT_THIS_INCARNATION):
            return
        self.child_ref._forward(envelope, self)

    # ----------------------------------------------------- the child's messages

    def started(self, fsm: Stopping) -> None:
        """Run by the child once ``on_start`` returned: post :class:`ChildStarted`."""
        self._post(ChildStarted(self))

    def gave_up(self, actor: str, cause: BaseException, logged: bool) -> None:
        """Run by a nested supervisor (``actor``) that is about to fail with ``cause``.

        ``logged`` says it reported ``cause`` itself (an escalated failure), so
        its own supervisor counts it without logging it again.
        """
        directive = decide(self.decider, cause, self.name)
        fields = bare_fields(actor)
        self._post(ChildFailed(self, cause, fields, directive, logged=logged))

    def _post(self, message: object) -> bool:
        try:
            self.supervisor.tell(message)
        except ActorDeadError:
            return False
        return True


@dataclass(frozen=True, slots=True, eq=False)
class ChildStarted:
    """Posted to the supervisor: the incarnation's ``on_start`` returned, it is RUNNING."""

    incarnation: Incarnation


@dataclass(frozen=True, slots=True, eq=False)
class ChildFailed:
    """Posted to the supervisor: ``incarnation`` failed with ``cause``, decided as ``directive``.

    ``fields`` are the failure report's (``actor``, ``state``, ``data``,
    ``fsm_event``, ``log``); the supervisor logs them once per streak, unless
    ``logged`` says the child already did.
    """

    incarnation: Incarnation
    cause: BaseException
    fields: dict[str, object]
    directive: Directive
    logged: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class ChildDown:
    """Posted by the supervisor to itself: an incarnation whose constructor raised is down."""

    incarnation: Incarnation
    reason: Failure


_ABOUT_THIS_INCARNATION = (Terminated, ChildFailed, ChildStarted, ChildDown)


def bare_fields(actor: str) -> dict[str, object]:
    """Report fields for a failure no running FSM described (a constructor, a self-stop)."""
    return {"actor": actor, "state": None, "data": None, "fsm_event": None, "log": []}
