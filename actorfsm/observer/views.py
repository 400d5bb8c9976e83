"""What the observer page shows, as JSON-ready dicts: the FSM list, one FSM, the trees.

Every user value (state data, events, failures) goes through
:func:`actorfsm.rendering.safe_repr`, as in the failure report: a broken or
huge ``repr`` cannot break or flood the page.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, TypeAlias

from actorfsm import census
from actorfsm.fsm import FSM
from actorfsm.introspection import diagram, inspect
from actorfsm.observer.diagram_svg import render
from actorfsm.rendering import safe_repr, state_label
from actorfsm.supervision import Supervisor

JSON: TypeAlias = str | int | float | bool | list["JSON"] | dict[str, "JSON"] | None
"""What a view returns: a value ``json.dumps`` writes as is."""

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def fsm_page(
    fsms: list[FSM[Any, Any]], query: str = "", page: int = 0, size: int = PAGE_SIZE
) -> dict[str, JSON]:
    """One page of the FSMs whose class, state or name contains every word of ``query``.

    Words may be qualified, ``class:Worker state:IDLE name:reader``; matching
    ignores case. Class and state are judged once per (class, state) pair and
    names only where those did not decide, and only the page's rows are
    rendered: a page of 100,000 FSMs costs one pass of dict lookups.
    """
    size = max(1, min(size, MAX_PAGE_SIZE))
    filters = _filters(query)
    matched = _matching(fsms, filters) if filters else fsms
    pages = max(1, -(-len(matched) // size))
    page = max(0, min(page, pages - 1))
    rows: list[JSON] = [
        {
            "id": census.fsm_id(fsm),
            "name": census.fsm_name(fsm),
            "class": type(fsm).__name__,
            "state": state_label(fsm._state),
            "queued": census.mailbox_depth(fsm),
            "busy": fsm._busy_since is not None,
        }
        for fsm in matched[page * size : (page + 1) * size]
    ]
    return {"total": len(fsms), "matched": len(matched), "page": page, "pages": pages, "rows": rows}


def _filters(query: str) -> list[tuple[str, str]]:
    filters = []
    for word in query.lower().split():
        field, _, text = word.rpartition(":")
        filters.append((field if field in ("class", "state", "name") else "", text))
    return filters


def _matching(fsms: list[FSM[Any, Any]], filters: list[tuple[str, str]]) -> list[FSM[Any, Any]]:
    """The FSMs that match every filter, judging each (class, state) pair once.

    Verdicts are keyed by the state's ``id`` (an enum member hashes through
    Python code) and checked by identity, so a state object that died and
    whose id was reused is judged afresh.
    """
    verdicts: dict[tuple[type, int], tuple[Any, list[str] | bool]] = {}
    named: dict[str, set[str]] = {}  # per word: the urns of the FSMs whose names hold it
    matched: list[FSM[Any, Any]] = []
    append = matched.append
    for fsm in fsms:
        state = fsm._state
        key = (fsm.__class__, id(state))
        known = verdicts.get(key)
        if known is None or known[0] is not state:
            known = verdicts[key] = (state, _verdict(filters, key[0].__name__, state))
        verdict = known[1]
        if verdict is True:
            append(fsm)
        elif verdict:
            urn = fsm.actor_urn
            for word in verdict:
                urns = named.get(word)
                if urns is None:
                    urns = named[word] = _NAMES.holding(word, fsms)
                if urn not in urns:
                    break
            else:
                append(fsm)
    return matched


def _verdict(filters: list[tuple[str, str]], cls: str, state: Any) -> list[str] | bool:
    """Whether FSMs of this class and state match: yes, no, or if their names hold these words."""
    label = state_label(state).lower()
    cls = cls.lower()
    names = []
    for field, text in filters:
        if field in ("", "class") and text in cls:
            continue
        if field in ("", "state") and text in label:
            continue
        if field not in ("", "name"):
            return False
        names.append(text)
    return names or True


class _LoweredNames:
    """FSM names in lower case by actor urn: a name never changes, so searches reuse them.

    A word is looked up in one pass over the names (a tight loop of substring
    tests), not FSM by FSM. Rebuilt when it holds twice as many names as FSMs
    run, so stopped FSMs do not accumulate.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def holding(self, word: str, fsms: list[FSM[Any, Any]]) -> set[str]:
        """The urns of the FSMs among ``fsms`` (and recently stopped ones) named with ``word``."""
        names = self._names
        if len(names) > 2 * len(fsms) + 1000:
            names = self._names = {}
        for fsm in fsms:
            urn = fsm.actor_urn
            if urn not in names:
                names[urn] = census.fsm_name(fsm).lower()
        return {urn for urn, name in names.items() if word in name}


_NAMES = _LoweredNames()


def fsm_detail(fsm: FSM[Any, Any]) -> dict[str, JSON]:
    """One FSM: state, data, timers, state timeout, log (newest first), event in progress."""
    snapshot = inspect(fsm)
    state = state_label(snapshot.state_name)
    timeout = snapshot.state_timeout
    stuck = census.is_stuck(fsm) or (
        snapshot.busy_for is not None
        and fsm.handler_warn_after is not None
        and snapshot.busy_for > fsm.handler_warn_after
    )
    return {
        "id": census.fsm_id(fsm),
        "name": census.fsm_name(fsm),
        "class": type(fsm).__name__,
        "alive": snapshot.alive,
        "state": state,
        "data": safe_repr(snapshot.state_data),
        "timers": [
            {"name": safe_repr(name), "seconds_left": round(left, 3)}
            for name, left in sorted(snapshot.timers.items(), key=lambda item: item[1])
        ],
        "state_timeout": None if timeout is None else round(timeout, 3),
        "current_event": None if snapshot.busy_for is None else safe_repr(snapshot.current_event),
        "busy_for": None if snapshot.busy_for is None else round(snapshot.busy_for, 3),
        "stuck": stuck,
        "stack": _stack(fsm) if stuck else None,
        "queued": census.mailbox_depth(fsm),
        "log": [
            {
                "at": entry.at,
                "state": state_label(entry.state_name),
                "event": safe_repr(entry.event),
                "data": safe_repr(entry.state_data),
            }
            for entry in reversed(snapshot.log)
        ],
        "states": {
            state_label(s): {"entries": m.entries, "seconds": round(m.total_time, 3)}
            for s, m in snapshot.metrics.items()
        },
        "diagram": render(diagram(fsm), current=state),
    }


def _stack(fsm: FSM[Any, Any]) -> str | None:
    """The stack of the thread running ``fsm``'s stuck call, innermost last."""
    ident = census.running_thread(fsm)
    frame = None if ident is None else sys._current_frames().get(ident)
    return None if frame is None else "".join(traceback.format_stack(frame))


def trees() -> list[JSON]:
    """Every supervision tree, from its top-level supervisor down."""
    return [_tree(sup) for sup in census.live_supervisors() if census.is_top_level(sup)]


def _tree(supervisor: Supervisor) -> dict[str, JSON]:
    children: list[JSON] = []
    for child in census.children(supervisor):
        actor = child.fsm
        children.append(
            {
                "name": child.name,
                "class": child.actor_class,
                "lifecycle": child.state.name,
                "in_state_for": round(child.in_state_for, 1),
                "restarts": child.restarts,
                "errors": child.errors,
                "failure_streak": child.failure_streak,
                "dead_letters": child.dead_letters,
                "alerts": list(child.alerts),
                "last_failure": None
                if child.last_failure is None
                else safe_repr(child.last_failure, 200),
                "restart_in": None if child.restart_in is None else round(child.restart_in, 1),
                "fsm": None if actor is None else census.fsm_id(actor),
                "tree": _tree(actor) if isinstance(actor, Supervisor) else None,
            }
        )
    return {
        "id": census.fsm_id(supervisor),
        "name": census.fsm_name(supervisor),
        "class": type(supervisor).__name__,
        "state": state_label(supervisor.state_name),
        "children": children,
    }
