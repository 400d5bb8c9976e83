"""A handler that blocks forever does not keep the process from exiting.

At interpreter exit (the main thread ends, or a program's SIGTERM handler
calls ``sys.exit``) the FSMs still running are asked to stop; one stuck in a
handler gets ``ACTORFSM_EXIT_GRACE`` seconds, is named in one
``fsm_still_running_at_exit`` line, and the process exits all the same, on the
shared pool and on dedicated (``pinned``) threads alike.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

GRACE = 1.0
"""The exit grace the scripts run with (seconds)."""

SLACK = 8.0
"""Seconds beyond the grace a script may take (start-up and imports on a busy machine)."""

STUCK_PROGRAM = """
import enum
import signal
import sys
import threading

from actorfsm import FSM, configure_dispatcher, stay

DISPATCHER = {dispatcher!r}
WEDGED = {wedged!r}
configure_dispatcher("default", workers=2)
entered = threading.Semaphore(0)


class S(enum.Enum):
    WAITING = 1


class Wedged(FSM):
    handler_warn_after = None
    if DISPATCHER:
        dispatcher = DISPATCHER

    def __init__(self):
        super().__init__()
        self.start_with(S.WAITING, None)
        self.when(S.WAITING, self.forever)

    def forever(self, event):
        entered.release()
        threading.Event().wait()  # never returns
        return stay()


class Fine(FSM):
    def __init__(self):
        super().__init__()
        self.start_with(S.WAITING, None)
        self.when(S.WAITING, lambda event: stay())

    def on_stop(self):
        print("fine stopped", file=sys.stderr, flush=True)


Fine.start()
for _ in range(WEDGED):
    Wedged.start().tell("block")
for _ in range(min(WEDGED, 2)):  # the pool's two workers, or one thread each
    assert entered.acquire(timeout=10)
if {on_sigterm!r}:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
print("blocked", flush=True)
if {on_sigterm!r}:
    while True:
        signal.pause()
"""


def run(
    dispatcher: str, *, on_sigterm: bool, env: dict[str, str], wedged: int = 1
) -> tuple[int, str, float]:
    """Run the program; end it by SIGTERM or let its main thread end; return code, log, seconds."""
    program = STUCK_PROGRAM.format(dispatcher=dispatcher, on_sigterm=on_sigterm, wedged=wedged)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ACTORFSM_")}
    environment |= {"ACTORFSM_EXIT_GRACE": str(GRACE), **env}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "blocked\n"
        if on_sigterm:
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=GRACE + SLACK)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err, time.monotonic() - started


@pytest.mark.parametrize(
    ("dispatcher", "env"),
    [
        ("", {}),
        ("pinned", {}),
        ("", {"ACTORFSM_DISPATCHER": "pinned"}),
    ],
    ids=["shared-pool", "pinned-class", "pinned-environment"],
)
@pytest.mark.parametrize("on_sigterm", [False, True], ids=["main-ends", "sigterm"])
def test_a_process_with_a_handler_blocked_forever_exits_after_the_grace_and_names_it(
    dispatcher: str, env: dict[str, str], on_sigterm: bool
) -> None:
    code, log, seconds = run(dispatcher, on_sigterm=on_sigterm, env=env)
    assert code == 0, log
    assert seconds < GRACE + SLACK
    stuck = [line for line in log.splitlines() if "fsm_still_running_at_exit" in line]
    assert len(stuck) == 1, log
    assert "Wedged (urn:uuid:" in stuck[0]
    assert "'block'" in stuck[0]  # the event it is stuck on
    assert "fine stopped" in log  # the FSM that was not stuck stopped in time, silently


def test_fsms_queued_behind_a_pool_whose_every_worker_is_stuck_still_stop_at_exit() -> None:
    """Three FSMs wedge a pool of two workers: a replacement worker stops the others in time."""
    code, log, seconds = run("", on_sigterm=False, env={"ACTORFSM_EXIT_GRACE": "3"}, wedged=3)
    assert code == 0, log
    assert seconds < 3 + SLACK
    stuck = [line for line in log.splitlines() if "fsm_still_running_at_exit" in line]
    assert len(stuck) == 3, log
    assert all("Wedged (urn:uuid:" in line for line in stuck)
    assert "fine stopped" in log
