"""Looking into a running FSM without sending it a message: snapshots and diagrams.

``inspect(ref)`` reads the actor's fields from the calling thread, so it works
while a handler is stuck (a message would wait behind it). Each field is one
atomic read; a snapshot is therefore consistent per field, not across fields,
which is what a debugging view needs. ``diagram`` renders the declared states
and the transitions observed so far as mermaid ``stateDiagram-v2`` text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import pykka

from actorfsm import scheduler
from actorfsm.fsm import FSM
from actorfsm.pykka_seam import actor_of
from actorfsm.rendering import state_label
from actorfsm.tracing import LogEntry

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class StateMetrics:
    """How often a state was entered and how long the FSM spent in it (seconds).

    The initial entry counts; the current state's time includes the stay so far.
    """

    entries: int
    total_time: float


@dataclass(frozen=True, slots=True)
class FSMSnapshot:
    """An immutable view of an FSM at one moment.

    ``timers`` maps each named timer to the seconds until it is due;
    ``state_timeout`` is the seconds until the state timeout (``None``: none);
    ``busy_for`` is how long the current event has been handled (``None``: idle).
    """

    state_name: Hashable
    state_data: object
    timers: dict[Hashable, float]
    log: tuple[LogEntry, ...]
    current_event: object
    busy_for: float | None
    metrics: dict[Hashable, StateMetrics]
    state_timeout: float | None
    alive: bool


def _fsm_of(ref_or_fsm: object) -> FSM[Any, Any]:
    if isinstance(ref_or_fsm, FSM):
        return ref_or_fsm
    if isinstance(ref_or_fsm, pykka.ActorRef):
        fsm = actor_of(ref_or_fsm)
        if isinstance(fsm, FSM):
            return fsm
        msg = f"{ref_or_fsm} is not an FSM that is still in memory"
        raise TypeError(msg)
    msg = f"expected an FSM's ActorRef, got {ref_or_fsm!r}"
    raise TypeError(msg)


def _copy(mapping: dict[K, V] | None) -> dict[K, V]:
    """Copy a dict the actor thread may be changing (retrying a concurrent resize)."""
    if mapping is None:
        return {}
    while True:
        try:
            return dict(mapping)
        except RuntimeError:
            continue


def inspect(ref: object) -> FSMSnapshot:
    """A snapshot of the FSM behind ``ref``, taken without sending it a message."""
    fsm = _fsm_of(ref)
    now = time.monotonic()
    clock = scheduler.current().now()
    state = fsm._state
    busy_since = fsm._busy_since
    current = fsm._current_msg if busy_since is not None else None
    state_timer = fsm._state_timer
    deadline = None if state_timer is None else state_timer.deadline
    timers = {name: max(0.0, timer.due - clock) for name, timer in _copy(fsm._timers).items()}
    times = _copy(fsm._state_time)
    entered_at = fsm._entered_at
    if fsm._started and not fsm._terminated:
        times[state] = times.get(state, 0.0) + now - entered_at
    entries = _copy(fsm._state_entries)
    if fsm._started and not entries and fsm._initial is not None:
        entries = {fsm._initial[0]: 1}  # no transition yet: the initial entry only
    metrics = {s: StateMetrics(count, times.get(s, 0.0)) for s, count in entries.items()}
    log = fsm._log.entries() if fsm._log is not None else ()
    return FSMSnapshot(
        state_name=state,
        state_data=fsm._data,
        timers=timers,
        log=log,
        current_event=current,
        busy_for=None if busy_since is None else now - busy_since,
        metrics=metrics,
        state_timeout=None if deadline is None else max(0.0, deadline - clock),
        alive=not fsm._terminated,
    )


def diagram(ref_or_class: object) -> str:
    """Mermaid ``stateDiagram-v2`` text: declared states, the initial one, observed transitions.

    Given a running FSM's ref, each observed transition is labelled with its
    count. Given a class, the machine is declared by constructing an instance
    without starting it (so the constructor must accept no arguments), and only
    the declared states are shown.
    """
    if isinstance(ref_or_class, type) and issubclass(ref_or_class, FSM):
        try:
            fsm = ref_or_class()
        except TypeError as exc:
            msg = f"diagram({ref_or_class.__name__}) needs a constructor without arguments: {exc}"
            raise TypeError(msg) from exc
        counts: dict[tuple[Hashable, Hashable], int] = {}
    else:
        fsm = _fsm_of(ref_or_class)
        counts = _copy(fsm._transition_counts)
    states = list(_copy(fsm._handlers))
    initial = fsm._initial[0] if fsm._initial is not None else None
    ids = _StateIds()
    lines = ["stateDiagram-v2"]
    if initial is not None:
        lines.append(f"    [*] --> {ids.of(initial)}")
    lines.extend(f"    {ids.of(state)}" for state in states)
    for (source, target), count in counts.items():
        lines.append(f"    {ids.of(source)} --> {ids.of(target)}: {count}")
    lines.extend(ids.declarations())
    return "\n".join(lines) + "\n"


class _StateIds:
    """Mermaid ids for states: the label itself when it is a plain identifier."""

    _PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

    def __init__(self) -> None:
        self._ids: dict[Hashable, str] = {}
        self._labels: dict[str, str] = {}

    def of(self, state: Hashable) -> str:
        known = self._ids.get(state)
        if known is not None:
            return known
        label = state_label(state)
        state_id = label if self._PLAIN.match(label) else f"s{len(self._ids)}"
        if state_id in self._labels or state_id in {"state", "note", "end"}:
            state_id = f"s{len(self._ids)}_{state_id}"
        self._ids[state] = state_id
        self._labels[state_id] = label
        return state_id

    def declarations(self) -> list[str]:
        """``state "label" as id`` lines for ids that differ from their labels."""
        return [
            f'    state "{label.replace(chr(34), chr(39))}" as {state_id}'
            for state_id, label in self._labels.items()
            if state_id != label
        ]
