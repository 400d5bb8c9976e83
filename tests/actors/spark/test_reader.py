"""The reader thread's bound: past MAX_BACKLOG unparsed bytes it drops, says so once, resumes."""

from __future__ import annotations

from structlog.testing import capture_logs

from actorfsm.testing import Probe
from actors.spark.reader import MAX_BACKLOG, PortReader, Received


def test_a_sink_that_does_not_keep_up_makes_the_reader_drop_with_one_warning(
    probe: Probe,
) -> None:
    reader = PortReader("socket://127.0.0.1:1", 1, probe.ref, sinks=(probe.ref,))
    chunk = b"x" * 65_536
    with capture_logs() as logs:
        for _ in range(MAX_BACKLOG // len(chunk) + 10):  # the sink never parses: past the bound
            reader._deliver(chunk)
    delivered = []
    while True:
        try:
            delivered.append(probe.receive(timeout=0.2))
        except AssertionError:
            break
    assert all(isinstance(item, Received) for item in delivered)
    assert len(delivered) == MAX_BACKLOG // len(chunk) + 1  # up to the bound, then dropped
    assert [e["event"] for e in logs].count("input_dropped") == 1
    backlog = delivered[-1].backlog
    assert backlog is not None
    assert all(backlog.is_stale(item.sequence) for item in delivered)  # queued ones dropped too
    for item in delivered:
        backlog.taken(len(item.chunk))  # the sink skips them, counting them off
    reader._deliver(chunk)  # caught up: delivered again, with the gap said
    resumed = probe.receive(timeout=3)
    assert isinstance(resumed, Received) and resumed.gap
