"""Shared test set-up: every test's actors are stopped after it, no virtual clock leaks, and
what the tests log stays out of pytest's progress output."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pykka
import pytest
import structlog

from actorfsm import scheduler
from actorfsm.testing import stop_actors_started_since

pytest_plugins = ["pytester"]


def quiet_logging() -> None:
    """Send structlog's lines through stdlib logging, which pytest captures per test (and
    shows with a failure) instead of printing them.

    A line that a thread logs between tests (a client connecting, a supervisor giving up)
    then goes nowhere: the root logger's NullHandler keeps stdlib from printing it to
    stderr as its last resort. Tests that check what is logged use ``capture_logs``.
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # below the root logger's level: dropped here
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),  # capture_logs: all
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(logging.NullHandler())
    root.setLevel(logging.INFO)  # info lines reach pytest's capture, for a failure's report
    quiet_logging()


@pytest.fixture(autouse=True)
def _isolate_actors() -> Iterator[None]:
    before = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}
    installed = scheduler.current()
    yield
    stop_actors_started_since(before)
    assert scheduler.current() is installed, "a test left a virtual clock installed"
    quiet_logging()  # a test may have configured logging for a program of its own
