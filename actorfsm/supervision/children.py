"""The supervisor's records: one per child, the stop sequence in progress, and its timers.

Plain data touched only in the supervisor's thread; the supervisor's
handlers (:mod:`actorfsm.supervision.supervisor`) are the only writers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pykka import ActorRef

from actorfsm.messages import Reason
from actorfsm.supervision.budget import RestartBudget
from actorfsm.supervision.child_ref import ChildRef
from actorfsm.supervision.child_spec import ChildSpec
from actorfsm.supervision.directive import Directive
from actorfsm.supervision.lifecycle import LifecycleMonitor
from actorfsm.supervision.protocol import Incarnation
from actorfsm.supervision.streak_log import StreakLog


class Child:
    """The supervisor's record of one child."""

    __slots__ = (
        "actor",
        "budget",
        "ever_started",
        "incarnation",
        "last_reason",
        "monitor",
        "ref",
        "reported",
        "restart_at",
        "retired",
        "spec",
        "stop_requested",
        "streaks",
    )

    def __init__(
        self,
        spec: ChildSpec,
        ref: ChildRef,
        monitor: LifecycleMonitor,
        streaks: StreakLog,
        budget: RestartBudget,
    ) -> None:
        self.spec = spec
        self.ref = ref
        self.monitor = monitor
        self.streaks = streaks
        self.budget = budget
        """Its restarts: its own (``OneForOne``) or shared by all children."""
        self.incarnation: Incarnation | None = None
        self.actor: ActorRef[Any] | None = None
        """The current incarnation's ``ActorRef`` (``None`` while constructing or down)."""
        self.reported: tuple[BaseException, Directive] | None = None
        """The failure the current incarnation reported, and its directive."""
        self.ever_started = False
        self.stop_requested = False
        self.retired = False
        self.last_reason: Reason | None = None
        self.restart_at: float | None = None
        """When a restart waiting for its backoff is due (the scheduler's clock)."""

    @property
    def name(self) -> str:
        """The child's name in its spec."""
        return self.spec.name


@dataclass(frozen=True, slots=True)
class StopPlan:
    """STOPPING_CHILDREN's data: who is still to stop (the first is awaited), then what.

    With ``give_up`` set the supervisor then fails with it; without, it
    starts the children of ``restart`` in order after ``delay`` seconds
    (``backoff``: the wait is a backoff, so asks fail at once meanwhile).
    """

    remaining: tuple[str, ...]
    restart: tuple[str, ...] = ()
    give_up: BaseException | None = None
    delay: float = 0.0
    backoff: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Stable:
    """Timer: the incarnation ran long enough without failing to end its streak and backoff."""

    incarnation: Incarnation


@dataclass(frozen=True, slots=True)
class RestartDue:
    """Timer: the wait before restarting the children ``names`` (in order) is over."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertDue:
    """Timer: child ``name`` may have stayed too long in the state it entered as ``entry``."""

    name: str
    entry: int
