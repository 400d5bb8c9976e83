"""The connection phase and its rules, owned by one FSM.

DISCONNECTED → CONNECTED → ACKNOWLEDGED → SYNCHRONIZED. Any phase may drop to
DISCONNECTED; otherwise a phase only advances one step. Other actors *ask* the
:class:`PhaseTracker` to change (``RequestPhase``) and subscribe to it for
``Transition``s; an illegal request is refused, logged and counted, never
applied. Every change is logged as ``phase_changed`` with ``old`` and ``new``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

import structlog

from actorfsm import FSM, Event, NextState, goto, stay

log = structlog.get_logger("actors.spark.phase")


class Phase(enum.Enum):
    """How far the connection to the controller has come."""

    DISCONNECTED = 0
    CONNECTED = 1
    ACKNOWLEDGED = 2
    SYNCHRONIZED = 3

    def may_become(self, new: Phase) -> bool:
        """The phase rule: back to DISCONNECTED at any time, otherwise exactly one step forward."""
        return new is Phase.DISCONNECTED or new.value == self.value + 1


@dataclass(frozen=True, slots=True)
class RequestPhase:
    """Ask the tracker to move to ``phase``; the answer is ``True`` if it did (or was there)."""

    phase: Phase
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PhaseStats:
    """What the tracker counts: changes applied and illegal requests refused."""

    changes: int = 0
    refused: int = 0


class PhaseTracker(FSM[Phase, PhaseStats]):
    """Owns the phase: applies legal requests, refuses and logs illegal ones."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with(Phase.DISCONNECTED, PhaseStats())
        for phase in Phase:
            self.when(phase, self.request)
        self.on_transition(self.changed)

    def request(self, event: Event) -> NextState | None:
        match event:
            case Event(RequestPhase(new, _), _) if new is self.state_name:
                return stay().replying(new is Phase.DISCONNECTED)
            case Event(RequestPhase(new, reason), PhaseStats() as stats):
                if self.state_name.may_become(new):
                    return goto(new).using(replace(stats, changes=stats.changes + 1)).replying(True)
                log.warning(
                    "phase_change_refused",
                    old=self.state_name.name,
                    requested=new.name,
                    reason=reason,
                )
                return stay().using(replace(stats, refused=stats.refused + 1)).replying(False)
        return None

    def changed(self, old: Phase, new: Phase) -> None:
        log.info("phase_changed", old=old.name, new=new.name)


def phase_of(ref: Any) -> Phase:
    """The current phase of a running tracker (a proxy read, not an event)."""
    phase: Phase = ref.proxy().state_name.get(timeout=5)
    return phase
