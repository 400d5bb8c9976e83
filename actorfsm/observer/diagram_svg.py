"""Drawing an FSM's mermaid ``stateDiagram-v2`` text (from ``actorfsm.diagram``) as SVG.

The observer page must work offline, so it ships no diagram library: this
module reads the few line shapes ``diagram`` writes (``[*] --> A``, ``A``,
``A --> B: 3``, ``state "label" as s1``) and lays the states out in rows by
their distance from the initial state along the observed transitions. Each
transition is a curved arrow labelled with its count (``A --> B`` and
``B --> A`` bend to opposite sides); a self-transition is a loop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html import escape

_INITIAL = re.compile(r"^\[\*\] --> (\S+)$")
_EDGE = re.compile(r"^(\S+) --> (\S+): (\d+)$")
_ALIAS = re.compile(r'^state "(.*)" as (\S+)$')
_STATE = re.compile(r"^(\S+)$")

ROW = 90
GAP = 40
BOX_HEIGHT = 34
CHAR_WIDTH = 8
MARGIN = 30
DETOUR = 50
"""How far right of the boxes a transition that skips rows bends (it must not cross them)."""


@dataclass
class Chart:
    """The states and transitions read from mermaid text (ids, with display labels)."""

    initial: str | None = None
    states: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, int]] = field(default_factory=list)

    def add_state(self, state_id: str) -> None:
        if state_id not in self.states:
            self.states.append(state_id)


def parse(mermaid: str) -> Chart:
    """Read the lines ``actorfsm.diagram`` writes; other lines are ignored."""
    chart = Chart()
    for raw in mermaid.splitlines()[1:]:
        line = raw.strip()
        if match := _INITIAL.match(line):
            chart.initial = match[1]
            chart.add_state(match[1])
        elif match := _EDGE.match(line):
            chart.add_state(match[1])
            chart.add_state(match[2])
            chart.edges.append((match[1], match[2], int(match[3])))
        elif match := _ALIAS.match(line):
            chart.labels[match[2]] = match[1]
        elif match := _STATE.match(line):
            chart.add_state(match[1])
    return chart


def _rows(chart: Chart) -> list[list[str]]:
    """States by breadth-first distance from the initial one; unreachable ones last."""
    depth: dict[str, int] = {}
    frontier = [chart.initial] if chart.initial is not None else []
    for state in frontier:
        depth[state] = 0
    while frontier:
        following = []
        for state in frontier:
            for source, target, _count in chart.edges:
                if source == state and target not in depth:
                    depth[target] = depth[state] + 1
                    following.append(target)
        frontier = following
    last = max(depth.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(last + 1)]
    for state in chart.states:
        rows[depth.get(state, last)].append(state)
    return [row for row in rows if row]


def render(mermaid: str, current: str | None = None) -> str:
    """An ``<svg>`` element for ``mermaid``; the state labelled ``current`` is highlighted."""
    chart = parse(mermaid)
    label = {state: chart.labels.get(state, state) for state in chart.states}
    width = {state: max(70, CHAR_WIDTH * len(label[state]) + 24) for state in chart.states}
    rows = _rows(chart)
    row_widths = [sum(width[s] for s in row) + GAP * (len(row) - 1) for row in rows]
    total_width = max(row_widths, default=100) + 2 * MARGIN + 2 * DETOUR
    centre: dict[str, tuple[float, float]] = {}
    row_of = {state: index for index, row in enumerate(rows) for state in row}
    for index, row in enumerate(rows):
        x = (total_width - row_widths[index]) / 2
        y = MARGIN + 30 + index * ROW + BOX_HEIGHT / 2
        for state in row:
            centre[state] = (x + width[state] / 2, y)
            x += width[state] + GAP
    height = 2 * MARGIN + 30 + (len(rows) - 1) * ROW + BOX_HEIGHT
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fsm-diagram" role="img" '
        f'viewBox="0 0 {total_width:.0f} {height:.0f}" width="{total_width:.0f}" '
        f'height="{height:.0f}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#4a5568"/></marker></defs>',
    ]
    if chart.initial is not None and chart.initial in centre:
        x, y = centre[chart.initial]
        top = y - BOX_HEIGHT / 2
        parts.append(f'<circle cx="{x:.1f}" cy="{top - 24:.1f}" r="6" fill="#1a202c"/>')
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 18:.1f}" x2="{x:.1f}" y2="{top - 2:.1f}" '
            'stroke="#4a5568" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for source, target, count in chart.edges:
        if abs(row_of[source] - row_of[target]) > 1:
            parts.append(_detour(centre, width, source, target, count))
        else:
            parts.append(_edge(centre[source], centre[target], width[source], count))
    for state in chart.states:
        x, y = centre[state]
        active = label[state] == current
        fill, stroke = ("#2b6cb0", "#1a365d") if active else ("#edf2f7", "#4a5568")
        text = "#ffffff" if active else "#1a202c"
        parts.append(
            f'<g class="state{" current" if active else ""}" data-state="{escape(label[state])}">'
            f'<rect x="{x - width[state] / 2:.1f}" y="{y - BOX_HEIGHT / 2:.1f}" '
            f'width="{width[state]}" height="{BOX_HEIGHT}" rx="10" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
            f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" fill="{text}" '
            f'font-family="sans-serif" font-size="13">{escape(label[state])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _edge(start: tuple[float, float], end: tuple[float, float], box: float, count: int) -> str:
    """One transition: a loop for a self-transition, else a bent arrow between box edges."""
    (x1, y1), (x2, y2) = start, end
    if (x1, y1) == (x2, y2):
        right = x1 + box / 2
        path = f"M{right:.1f},{y1 - 8:.1f} C{right + 40:.1f},{y1 - 30:.1f} "
        path += f"{right + 40:.1f},{y1 + 30:.1f} {right:.1f},{y1 + 8:.1f}"
        return _arrow(path, right + 36, y1 + 4, count)
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    shrink = BOX_HEIGHT / 2 + 2 if abs(uy) > 0.5 else 40
    sx, sy = x1 + ux * shrink, y1 + uy * shrink
    ex, ey = x2 - ux * shrink, y2 - uy * shrink
    bend = 22
    cx, cy = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
    path = f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"
    mid_x, mid_y = (sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4
    return _arrow(path, mid_x, mid_y, count)


def _detour(
    centre: dict[str, tuple[float, float]],
    width: dict[str, int],
    source: str,
    target: str,
    count: int,
) -> str:
    """A transition that skips rows: out of the source's right side, around, into the target's."""
    (x1, y1), (x2, y2) = centre[source], centre[target]
    sx, tx = x1 + width[source] / 2, x2 + width[target] / 2
    rows_between = [
        x + width[s] / 2 for s, (x, y) in centre.items() if min(y1, y2) < y < max(y1, y2)
    ]
    side = max([sx, tx, *rows_between]) + DETOUR
    path = f"M{sx:.1f},{y1:.1f} C{side:.1f},{y1:.1f} {side:.1f},{y2:.1f} {tx + 2:.1f},{y2:.1f}"
    return _arrow(path, 0.125 * (sx + tx) + 0.75 * side, (y1 + y2) / 2, count)


def _arrow(path: str, label_x: float, label_y: float, count: int) -> str:
    digits = len(str(count))
    return (
        f'<g class="transition"><path d="{path}" fill="none" stroke="#4a5568" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>'
        f'<rect x="{label_x - 4 - 4 * digits:.1f}" y="{label_y - 9:.1f}" '
        f'width="{8 + 8 * digits}" height="16" rx="4" fill="#fffbea" stroke="#d69e2e"/>'
        f'<text x="{label_x:.1f}" y="{label_y + 3:.1f}" text-anchor="middle" '
        f'font-family="sans-serif" font-size="11" fill="#744210">{count}</text></g>'
    )
