"""The phases the connector goes through during a soak, as its subscribers see them.

A :class:`PhaseRecorder` actor is subscribed through the public API
(``SparkConnector.subscribe``) and passes every ``CurrentState`` and
``Transition`` to a :class:`PhaseLog`, which checks each transition against
the phase rules (one step forward, or back to DISCONNECTED) and keeps the phases
entered, in order, so the soak can wait for one without polling.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import pykka

from actorfsm import CurrentState, Transition
from actors.spark.phase import Phase

REFUSED = "phase_change_refused"
"""The PhaseTracker's warning for an illegal phase change request (refused, not applied)."""


class PhaseLog:
    """The phases entered since the last :meth:`forget`; counts changes and illegal ones.

    Thread-safe. Marks are positions in the whole run, so a wait still finds
    its place after older entries are forgotten; forgetting them at every
    fault episode keeps the log's memory bounded however long the soak runs.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.entered: list[Phase] = []
        self._forgotten = 0
        self.changes: collections.Counter[str] = collections.Counter()
        self.illegal: list[str] = []
        self._last: dict[Any, Phase] = {}

    def current(self, tracker: Any, phase: Phase) -> None:
        """A (re)subscription told the phase: no change, but the next transition starts here."""
        with self._changed:
            self._last[tracker] = phase
            self._enter(phase)

    def transition(self, tracker: Any, old: Phase, new: Phase) -> None:
        """A change: legal when the phase rules allow it, starting where the tracker last was."""
        with self._changed:
            last = self._last.get(tracker, old)
            if not old.may_become(new) or last is not old:
                self.illegal.append(f"{last.name}: {old.name} -> {new.name}")
            self._last[tracker] = new
            self.changes[new.name] += 1
            self._enter(new)

    def _enter(self, phase: Phase) -> None:
        self.entered.append(phase)
        self._changed.notify_all()

    def forget(self) -> None:
        """Drop the phases entered so far (marks taken before become the start)."""
        with self._changed:
            self._forgotten += len(self.entered)
            self.entered.clear()

    def mark(self) -> int:
        """A position in the log: the waits look only at phases entered after it."""
        with self._changed:
            return self._forgotten + len(self.entered)

    def since(self, mark: int) -> list[Phase]:
        """The phases entered after ``mark``, in order."""
        with self._changed:
            return self._after(mark)

    def _after(self, mark: int) -> list[Phase]:
        """The entries after ``mark`` still kept (lock held)."""
        return self.entered[max(0, mark - self._forgotten) :]

    def wait(self, phase: Phase, since: int, timeout: float) -> bool:
        """Block until ``phase`` is entered after position ``since``; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while phase not in self._after(since):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True


class PhaseRecorder(pykka.ThreadingActor):
    """Subscribed to the connector's phase: hands each message to the :class:`PhaseLog`."""

    def __init__(self, phases: PhaseLog) -> None:
        super().__init__()
        self.phases = phases

    def on_receive(self, message: Any) -> None:
        match message:
            case CurrentState(tracker, Phase() as phase):
                self.phases.current(tracker, phase)
            case Transition(tracker, Phase() as old, Phase() as new):
                self.phases.transition(tracker, old, new)
