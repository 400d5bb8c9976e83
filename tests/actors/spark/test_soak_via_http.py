"""The chaos soak with its clients on the HTTP API (``--via http``): a short seeded run.

Every client command goes through a real HTTP server and client while faults
are injected; nothing may be lost (unanswered within its timeout + 1 s) or
answered wrongly, and the service's threads and descriptors stay flat.
"""

from __future__ import annotations

import pytest

from actors.spark.soak import SoakOptions, problems, run
from actors.spark.soak.runner import TIMINGS


@pytest.mark.timeout(120)
def test_a_short_soak_through_the_http_api_loses_nothing() -> None:
    figures = run(SoakOptions(seed=5, faults=40, transport="tcp", via="http"))
    assert figures.via == "http"
    assert figures.aborted is None
    assert figures.commands.lost == 0, figures.commands.examples
    assert figures.commands.answered_wrongly == 0, figures.commands.examples
    assert figures.commands.unclear == 0, figures.commands.examples
    assert figures.unrecovered == 0
    assert figures.commands.succeeded > 300
    assert figures.commands.slowest_client_response_s <= TIMINGS.command_timeout + 1.0
    assert problems(figures) == []
