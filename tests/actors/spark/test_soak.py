"""The chaos soak: a short seeded run in CI, its command line, and the pieces it counts with.

The full soak (``make soak``: 1,000 faults) is a documented command, not part
of the suite; here 50 faults over a pty (and a dozen over TCP, through the
command line) must already show nothing lost, nothing answered wrongly, no
illegal phase change, every fault recovered from and at most two error lines
per failure streak.
"""

from __future__ import annotations

import json
import pathlib
import threading

import pytest
import structlog

from actors.spark.phase import Phase
from actors.spark.simulator import FaultKind
from actors.spark.soak import Figures, SoakOptions, main, problems, run, verdict
from actors.spark.soak.figures import (
    MAX_ERROR_LINES_PER_STREAK,
    CommandFigures,
    KindFigures,
    LogFigures,
    PhaseFigures,
    ResourceFigures,
)
from actors.spark.soak.logtally import LogTally
from actors.spark.soak.phases import PhaseLog
from actors.spark.soak.report import table
from actors.spark.soak.resources import Resources
from actors.spark.soak.schedule import episodes

D, C, A, S = Phase.DISCONNECTED, Phase.CONNECTED, Phase.ACKNOWLEDGED, Phase.SYNCHRONIZED


def assert_clean(figures: Figures) -> None:
    """Every must-be-zero figure is zero (the assertions name which one is not)."""
    assert figures.aborted is None
    assert figures.commands.lost == 0, figures.commands.examples
    assert figures.commands.answered_wrongly == 0, figures.commands.examples
    assert figures.commands.unclear == 0, figures.commands.examples
    assert figures.phases.illegal_applied == 0, figures.phases.examples
    assert figures.unrecovered == 0
    assert figures.incompatible_accepted == 0
    assert figures.logs.max_error_lines_per_streak <= MAX_ERROR_LINES_PER_STREAK
    assert problems(figures) == []


@pytest.mark.timeout(90)
def test_a_short_soak_over_a_pty_loses_nothing_and_recovers_from_every_fault() -> None:
    figures = run(SoakOptions(seed=3, faults=50, transport="pty"))
    assert_clean(figures)
    assert figures.injected == 50
    assert figures.commands.succeeded > 500
    assert figures.phases.changes > 0


@pytest.mark.timeout(60)
def test_the_command_line_runs_a_tiny_tcp_soak_and_writes_the_figures(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "soak.json"
    code = main(["--transport", "tcp", "--faults", "12", "--seed", "7", "--json", str(path)])
    table = capsys.readouterr().out
    written = json.loads(path.read_text())
    assert (code, written["problems"]) == (0, [])
    assert written["transport"] == "tcp"
    assert sum(kind["injected"] for kind in written["faults"].values()) == 12
    assert written["commands"]["lost"] == written["commands"]["answered_wrongly"] == 0
    assert "verdict: PASS" in table
    assert f"sent {written['commands']['sent']}" in table


def clean_figures() -> Figures:
    """Hand-made figures of a run where everything went right."""
    sample = Resources(threads=10, rss_kib=30_000, fds=12)
    return Figures(
        seed=1,
        transport="pty",
        clients=4,
        faults_requested=10,
        commands=CommandFigures(sent=100, succeeded=90, failed={"NotConnected": 10}),
        phases=PhaseFigures(changes=8),
        logs=LogFigures(streaks=3, error_lines=2, max_error_lines_per_streak=2),
        resources=ResourceFigures(
            before=sample, start=sample, halfway=sample, end=sample, after_stop=sample
        ),
    )


def test_the_verdict_passes_figures_with_every_must_be_zero_at_zero() -> None:
    assert (problems(clean_figures()), verdict(clean_figures())) == ([], 0)


def test_rss_growth_within_the_slack_passes_and_is_reported() -> None:
    figures = clean_figures()
    figures.resources.halfway = Resources(threads=10, rss_kib=28_000, fds=12)
    assert problems(figures) == []
    assert "RSS growth over the second half: +1.95 MiB (at most 2.0)" in table(figures)


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (lambda f: setattr(f.commands, "lost", 1), "commands lost: 1"),
        (lambda f: setattr(f.commands, "answered_wrongly", 2), "answered wrongly: 2"),
        (lambda f: setattr(f.commands, "unclear", 1), "unclear error: 1"),
        (lambda f: setattr(f.phases, "illegal_applied", 1), "illegal phase changes applied"),
        (lambda f: setattr(f, "unrecovered", 1), "faults not recovered from: 1"),
        (lambda f: setattr(f, "incompatible_accepted", 1), "incompatible controllers accepted"),
        (
            lambda f: f.faults.update(device_id=KindFigures(1, 1, 0.1, parks_expected=1)),
            "did not park the connector: 1",
        ),
        (lambda f: setattr(f.logs, "streaks_over_limit", 1), "more than 2 error lines"),
        (lambda f: setattr(f, "aborted", "the connector gave up"), "aborted"),
        (
            lambda f: setattr(f.resources, "end", Resources(threads=13, rss_kib=1, fds=12)),
            "threads grew during the run: 10 -> 13",
        ),
        (
            lambda f: setattr(f.resources, "after_stop", Resources(threads=10, rss_kib=1, fds=20)),
            "open file descriptors grew after the stop: 12 -> 20",
        ),
        (
            lambda f: setattr(
                f.resources, "halfway", Resources(threads=10, rss_kib=27_000, fds=12)
            ),
            "RSS grew 2.9 MiB over the second half",
        ),
    ],
)
def test_the_verdict_fails_on_any_must_be_zero_figure(spoil: object, problem: str) -> None:
    figures = clean_figures()
    spoil(figures)  # type: ignore[operator]
    found = problems(figures)
    assert len(found) == 1 and problem in found[0]
    assert verdict(figures) == 1


def test_a_seed_names_one_schedule_of_every_kind() -> None:
    first, again = list(episodes(1, 200)), list(episodes(1, 200))
    assert first == again
    assert first != list(episodes(2, 200))
    faults = [fault for episode in first for fault in episode.faults]
    assert len(faults) == 200
    assert {fault.kind for fault in faults} == set(FaultKind)


def test_the_phase_log_counts_a_skipped_step_as_illegal() -> None:
    phases = PhaseLog()
    tracker = object()
    phases.current(tracker, D)
    for old, new in [(D, C), (C, A), (A, S), (S, D), (D, C), (C, S)]:
        phases.transition(tracker, old, new)
    assert phases.illegal == ["CONNECTED: CONNECTED -> SYNCHRONIZED"]
    assert phases.changes == {
        "CONNECTED": 2,
        "ACKNOWLEDGED": 1,
        "SYNCHRONIZED": 2,
        "DISCONNECTED": 1,
    }


def test_the_phase_log_forgets_old_entries_but_marks_still_find_their_place() -> None:
    phases = PhaseLog()
    tracker = object()
    phases.current(tracker, D)
    phases.transition(tracker, D, C)
    early = phases.mark()
    phases.transition(tracker, C, A)
    phases.forget()
    assert phases.entered == []
    late = phases.mark()
    phases.transition(tracker, A, S)
    assert phases.since(early) == [S]  # A was forgotten; what came after the forget is kept
    assert phases.since(late) == [S]
    assert phases.wait(S, late, timeout=0.1)
    assert not phases.wait(D, late, timeout=0.1)
    assert phases.changes == {"CONNECTED": 1, "ACKNOWLEDGED": 1, "SYNCHRONIZED": 1}


def test_the_phase_log_counts_a_transition_from_elsewhere_as_illegal() -> None:
    phases = PhaseLog()
    tracker = object()
    phases.current(tracker, D)
    phases.transition(tracker, C, A)  # legal on its own, but the tracker was DISCONNECTED
    assert phases.illegal == ["DISCONNECTED: CONNECTED -> ACKNOWLEDGED"]


def test_the_log_tally_counts_error_lines_from_any_thread_and_restores_structlog() -> None:
    before = structlog.get_config()
    log = structlog.get_logger("test")
    with LogTally(echo=None) as tally:
        mark = tally.mark()
        log.info("ignored")
        log.warning("bad_line", line="x")
        worker = threading.Thread(target=lambda: log.error("fsm_failed", actor="A", cause="c"))
        worker.start()
        worker.join()
        assert tally.mark() == mark + 1
        assert tally.errors == {"fsm_failed": 1}
        assert tally.warnings == {"bad_line": 1}
    assert structlog.get_config() == before
