"""The four lifecycle alert rules in examples/prometheus: valid, tested, and fed by our gauges."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

from actorfsm.census import ALERT_KINDS

pytestmark = pytest.mark.timeout(60)

RULES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: run `make system-tools` (Debian's prometheus package)")
    return found


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], check=False, cwd=RULES, capture_output=True, text=True
    )


def test_promtool_checks_the_rules() -> None:
    result = run_promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout


def test_each_rule_fires_on_its_gauge() -> None:
    result = run_promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_cover_the_four_alert_kinds_the_collector_exports() -> None:
    text = (RULES / "alerts.yml").read_text()
    kinds = re.findall(r'actorfsm_lifecycle_alerts\{alert="(\w+)"\} > 0', text)
    assert sorted(kinds) == sorted(ALERT_KINDS)
