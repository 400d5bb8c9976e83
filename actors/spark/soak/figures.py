"""The figures a soak reports, and the verdict on them.

:class:`Figures` is plain data (it becomes the ``--json`` file as it is);
:func:`problems` lists every figure that broke its bound, in words, and a run
passes when that list is empty. The bounds are the issue's: nothing lost,
nothing answered wrongly, no illegal phase change applied, no incompatible
controller accepted (each parks the connector at ACKNOWLEDGED), every fault
recovered from, at most
:data:`MAX_ERROR_LINES_PER_STREAK` error lines per failure streak, no error
that is not a ``SparkError``, and no threads or file descriptors left behind.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from dataclasses import dataclass, field
from typing import Any

from actors.spark.soak.resources import Resources

MAX_ERROR_LINES_PER_STREAK = 2
"""The goal for one failure streak: its first error line and a summary."""

THREAD_SLACK = 2
"""Threads the process may hold beyond the comparison point (a reader thread still closing)."""

FD_SLACK = 4
"""File descriptors likewise (a closing reader's port, SQLite's journal)."""

RSS_SLACK_MIB = 2.0
"""MiB resident memory may grow over the second half of a run: allocator noise, not a leak.

By half-way the process has met every fault and its allocator its high-water
marks; a leak of one small object per command would exceed this within
minutes of commands."""


@dataclass
class KindFigures:
    """One fault kind: how often it was injected and recovered from, and how slowly.

    For the incompatible identity kinds: ``parks_expected`` single faults
    should have parked the connector at ACKNOWLEDGED, ``parked`` did, and
    ``self_recovered`` of those synchronized after the switch back without a
    reconnect (the others were given one: a restart, as a reflash does).
    """

    injected: int = 0
    recovered: int = 0
    slowest_recovery_s: float = 0.0
    parks_expected: int = 0
    parked: int = 0
    self_recovered: int = 0


@dataclass
class CommandFigures:
    """The clients' (and the soak's recovery probes') commands, by outcome."""

    sent: int = 0
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    unclear: int = 0
    lost: int = 0
    answered_wrongly: int = 0
    slowest_client_response_s: float = 0.0
    examples: list[str] = field(default_factory=list)


@dataclass
class PhaseFigures:
    """Phase changes seen by a subscriber, by phase entered; illegal ones applied and refused."""

    changes: int = 0
    entered: dict[str, int] = field(default_factory=dict)
    illegal_applied: int = 0
    illegal_refused: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class LogFigures:
    """Error-level lines per failure streak (one fault episode each), and warnings by event
    (the first few of each kept whole)."""

    streaks: int = 0
    error_lines: int = 0
    max_error_lines_per_streak: int = 0
    streaks_over_limit: int = 0
    errors_by_event: dict[str, int] = field(default_factory=dict)
    warnings_by_event: dict[str, int] = field(default_factory=dict)
    warning_samples: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ResourceFigures:
    """Samples: before the soak started anything, at the first steady SYNCHRONIZED with the
    clients running, when half the faults were injected, at the last steady SYNCHRONIZED,
    and after everything stopped."""

    before: Resources | None = None
    start: Resources | None = None
    halfway: Resources | None = None
    end: Resources | None = None
    after_stop: Resources | None = None


@dataclass
class Figures:
    """Everything a soak run reports."""

    seed: int
    transport: str
    clients: int
    faults_requested: int
    elapsed_s: float = 0.0
    episodes: int = 0
    faults: dict[str, KindFigures] = field(default_factory=dict)
    unrecovered: int = 0
    slowest_recovery_s: float = 0.0
    incompatible_accepted: int = 0
    commands: CommandFigures = field(default_factory=CommandFigures)
    phases: PhaseFigures = field(default_factory=PhaseFigures)
    logs: LogFigures = field(default_factory=LogFigures)
    resources: ResourceFigures = field(default_factory=ResourceFigures)
    aborted: str | None = None
    via: str = "api"
    """How the clients sent their commands: ``api`` (in-process) or ``http`` (the HTTP API)."""

    @property
    def injected(self) -> int:
        """Faults injected in all."""
        return sum(kind.injected for kind in self.faults.values())

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-ready data, with the verdict."""
        return {**dataclasses.asdict(self), "problems": problems(self)}

    def write_json(self, path: pathlib.Path) -> None:
        """Write :meth:`to_json` to ``path``, indented."""
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")


def problems(figures: Figures) -> list[str]:
    """Every must-be-zero figure that is not, and every bound broken, in words."""
    found: list[str] = []
    if figures.aborted:
        found.append(f"the run was aborted: {figures.aborted}")
    counts = {
        "commands lost": figures.commands.lost,
        "commands answered wrongly": figures.commands.answered_wrongly,
        "commands failed with an unclear error": figures.commands.unclear,
        "illegal phase changes applied": figures.phases.illegal_applied,
        "faults not recovered from": figures.unrecovered,
        "incompatible controllers accepted": figures.incompatible_accepted,
        "incompatible controllers that did not park the connector": sum(
            kind.parks_expected - kind.parked for kind in figures.faults.values()
        ),
        f"failure streaks with more than {MAX_ERROR_LINES_PER_STREAK} error lines": (
            figures.logs.streaks_over_limit
        ),
    }
    found += [f"{name}: {count}" for name, count in counts.items() if count]
    found += _leaks(figures.resources)
    return found


def _leaks(resources: ResourceFigures) -> list[str]:
    """Threads or descriptors that grew with the run or outlived the stop; memory that
    still grew in the run's second half."""
    found: list[str] = []
    pairs = (
        ("during the run", resources.start, resources.end),
        ("after the stop", resources.before, resources.after_stop),
    )
    for when, first, last in pairs:
        if first is None or last is None:
            continue
        if last.threads > first.threads + THREAD_SLACK:
            found.append(f"threads grew {when}: {first.threads} -> {last.threads}")
        if last.fds > first.fds + FD_SLACK:
            found.append(f"open file descriptors grew {when}: {first.fds} -> {last.fds}")
    if (growth := rss_growth_mib(resources)) is not None and growth > RSS_SLACK_MIB:
        found.append(f"RSS grew {growth:.1f} MiB over the second half (at most {RSS_SLACK_MIB})")
    return found


def rss_growth_mib(resources: ResourceFigures) -> float | None:
    """How many MiB the resident set grew from half-way to the end (None: not sampled)."""
    if resources.halfway is None or resources.end is None:
        return None
    return (resources.end.rss_kib - resources.halfway.rss_kib) / 1024
