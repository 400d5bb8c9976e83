"""The soak's figures as a table for people (the same numbers as the JSON file)."""

from __future__ import annotations

from actors.spark.soak.figures import (
    MAX_ERROR_LINES_PER_STREAK,
    RSS_SLACK_MIB,
    Figures,
    problems,
    rss_growth_mib,
)
from actors.spark.soak.phases import REFUSED
from actors.spark.soak.resources import Resources


def _counts(counts: dict[str, int], limit: int = 8) -> str:
    shown = sorted(counts.items(), key=lambda item: -item[1])
    text = ", ".join(f"{name} {count}" for name, count in shown[:limit] if count)
    more = len([c for c in counts.values() if c]) - limit
    return text + (f", ... ({more} more)" if more > 0 else "") if text else "none"


def _faults(figures: Figures) -> list[str]:
    lines = [
        f"  {'fault':<17}{'injected':>9}{'recovered':>10}{'slowest s':>10}"
        f"{'parked':>9}{'self-recovered':>16}"
    ]
    for name, kind in figures.faults.items():
        parked = f"{kind.parked}/{kind.parks_expected}" if kind.parks_expected else ""
        healed = str(kind.self_recovered) if kind.parks_expected else ""
        lines.append(
            f"  {name:<17}{kind.injected:>9}{kind.recovered:>10}"
            f"{kind.slowest_recovery_s:>10.2f}{parked:>9}{healed:>16}"
        )
    recovered = sum(kind.recovered for kind in figures.faults.values())
    lines.append(
        f"  {'all':<17}{figures.injected:>9}{recovered:>10}{figures.slowest_recovery_s:>10.2f}"
    )
    return lines


def _resources(figures: Figures) -> list[str]:
    lines = [f"  {'resources':<13}{'threads':>8}{'RSS MiB':>9}{'fds':>6}"]
    samples: list[tuple[str, Resources | None]] = [
        ("before", figures.resources.before),
        ("start", figures.resources.start),
        ("halfway", figures.resources.halfway),
        ("end", figures.resources.end),
        ("after stop", figures.resources.after_stop),
    ]
    for name, sample in samples:
        if sample is not None:
            lines.append(
                f"  {name:<13}{sample.threads:>8}{sample.rss_kib / 1024:>9.1f}{sample.fds:>6}"
            )
    if (growth := rss_growth_mib(figures.resources)) is not None:
        lines.append(
            f"  RSS growth over the second half: {growth:+.2f} MiB (at most {RSS_SLACK_MIB})"
        )
    return lines


def table(figures: Figures) -> str:
    """The figures and the verdict, as lines of text."""
    commands, phases, logs = figures.commands, figures.phases, figures.logs
    found = problems(figures)
    lines = [
        f"Spark connector soak: seed {figures.seed}, {figures.injected}/"
        f"{figures.faults_requested} faults in {figures.episodes} episodes over "
        f"{figures.transport}, {figures.clients} clients via {figures.via}, "
        f"{figures.elapsed_s:.1f} s",
        "",
        *_faults(figures),
        f"  not recovered {figures.unrecovered}, incompatible controllers accepted "
        f"{figures.incompatible_accepted}",
        "",
        f"  commands: sent {commands.sent}, succeeded {commands.succeeded}, "
        f"failed {sum(commands.failed.values())}, lost {commands.lost}, "
        f"answered wrongly {commands.answered_wrongly}, unclear errors {commands.unclear}",
        f"    failed by error: {_counts(commands.failed)}",
        f"    slowest client response {commands.slowest_client_response_s:.2f} s",
        *(f"    {example}" for example in commands.examples),
        f"  phase changes: {phases.changes} ({_counts(phases.entered)}); illegal applied "
        f"{phases.illegal_applied}, illegal refused {phases.illegal_refused}",
        *(f"    illegal: {example}" for example in phases.examples),
        *(f"    refused: {sample}" for sample in logs.warning_samples.get(REFUSED, [])),
        f"  error lines: {logs.error_lines} in {logs.streaks} streaks, at most "
        f"{logs.max_error_lines_per_streak} per streak (goal <= {MAX_ERROR_LINES_PER_STREAK}, "
        f"over it: {logs.streaks_over_limit})",
        f"    errors by event: {_counts(logs.errors_by_event)}",
        f"    warnings by event: {_counts(logs.warnings_by_event)}",
        "",
        *_resources(figures),
        "",
        "verdict: " + ("PASS" if not found else "FAIL"),
        *(f"  - {problem}" for problem in found),
    ]
    return "\n".join(lines)
