"""The messages a supervisor understands: the public queries and its internal protocol.

``GetChild`` and ``GetChildStatus`` are for users. The others are internal:
what a child's incarnation posts to its supervisor from its own thread
(``ChildFailed``, ``ChildStarted``), and the supervisor's own timer messages.
Like every message here they are small frozen dataclasses, matched with
``match``/``case`` in the supervisor's handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actorfsm.messages import Failure
from actorfsm.strategy import Directive

if TYPE_CHECKING:
    from actorfsm.incarnation import Incarnation


@dataclass(frozen=True, slots=True)
class GetChild:
    """Ask a supervisor for the :class:`ChildRef` of child ``name`` (``None`` if unknown)."""

    name: str


@dataclass(frozen=True, slots=True)
class GetChildStatus:
    """Ask a supervisor for the :class:`ChildStatus` of child ``name`` (``None`` if unknown)."""

    name: str


@dataclass(frozen=True, slots=True, eq=False)
class Stable:
    """Timer: the incarnation ran long enough without failing to end its streak and backoff."""

    incarnation: Incarnation


@dataclass(frozen=True, slots=True)
class RestartDue:
    """Timer: the backoff before restarting child ``name`` is over."""

    name: str


@dataclass(frozen=True, slots=True)
class RestartAllDue:
    """Timer: the backoff before restarting all children (``AllForOne``) is over."""


@dataclass(frozen=True, slots=True)
class AlertDue:
    """Timer: child ``name`` may have stayed too long in the state it entered as ``entry``."""

    name: str
    entry: int


@dataclass(frozen=True, slots=True, eq=False)
class ChildFailed:
    """Posted to the supervisor: ``incarnation`` failed with ``cause``, decided as ``directive``.

    ``fields`` are the failure report's (``actor``, ``state``, ``data``,
    ``fsm_event``, ``log``); the supervisor logs them once per streak.
    """

    incarnation: Incarnation
    cause: BaseException
    fields: dict[str, Any]
    directive: Directive


@dataclass(frozen=True, slots=True, eq=False)
class ChildDown:
    """Posted by the supervisor to itself: an incarnation whose constructor raised is down."""

    incarnation: Incarnation
    reason: Failure


@dataclass(frozen=True, slots=True, eq=False)
class ChildStarted:
    """Posted to the supervisor: the incarnation's ``on_start`` returned, it is RUNNING."""

    incarnation: Incarnation
