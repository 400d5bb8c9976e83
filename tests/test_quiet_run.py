"""A test run is quiet: what tests and their threads log never lands in pytest's output."""

from __future__ import annotations

import pathlib

import pytest

CONFTEST = pathlib.Path(__file__).with_name("conftest.py")

LOGGING_TESTS = """
import threading
import time

import structlog

log = structlog.get_logger("actors.spark")


def test_a_thread_logs_after_the_test_ended():
    def later():
        time.sleep(0.5)  # after the last test: while pytest reports, or at exit
        log.error("supervisor_gave_up", supervisor="sup")
        log.info("client_connected", port="tcp")
        log.info("watchdog_check", timed_out="0100")

    threading.Thread(target=later).start()


def test_one_logs_while_it_runs():
    log.warning("bad_line", line="garbage")


def test_another_ends_before_the_thread_logs():
    time.sleep(0.1)
"""


@pytest.mark.timeout(120)
def test_a_quiet_run_prints_no_log_lines(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_logging_threads=LOGGING_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    output = result.stdout.str() + result.stderr.str()
    for event in ("supervisor_gave_up", "client_connected", "watchdog_check", "bad_line"):
        assert event not in output, output
