"""StopSignal: every SIGTERM wakes the main thread, whichever thread the kernel picked.

The regression behind it: ``spark-connector`` sometimes ignored SIGTERM for
good, because the signal landed on an actor thread and the main thread slept in
``Event.wait()``, which only a signal delivered to the main thread interrupts.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from actors.stop_signal import StopSignal


def _deliver_to_worker(signum: signal.Signals) -> None:
    """Send ``signum`` to a thread other than the main one (as the kernel may)."""
    worker = threading.Thread(target=lambda: signal.pthread_kill(threading.get_ident(), signum))
    worker.start()
    worker.join(5)


def test_a_sigterm_delivered_to_another_thread_wakes_the_main_thread() -> None:
    with StopSignal() as stop:
        assert not stop.wait(0.01)
        _deliver_to_worker(signal.SIGTERM)
        assert stop.wait(5), "SIGTERM sent to a worker thread did not wake the main thread"
        assert stop.wait(0), "a stop request stays set once raised"


def test_the_handler_records_which_signal_asked_to_stop() -> None:
    with StopSignal() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.wait(5)
        assert stop.received is signal.SIGINT


def test_set_from_another_thread_wakes_the_waiter_without_a_signal() -> None:
    with StopSignal() as stop:
        threading.Thread(target=stop.set).start()
        assert stop.wait(5)
        assert stop.received is None


def test_closing_restores_the_previous_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with StopSignal():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


SIGNAL_IN_A_WEAKREF_CALLBACK = """
import os, signal, sys, weakref
from actors.stop_signal import exit_on_stop_signals

exit_on_stop_signals()


class Module:
    pass


def callback(_: object) -> None:  # as importlib's module-lock callback: exceptions are dropped
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(1000):
        pass


module = Module()
watch = weakref.ref(module, callback)
del module
print("ran on after SIGTERM", flush=True)
sys.exit(3)
"""


def test_a_stop_signal_before_the_program_runs_ends_it_even_inside_a_weakref_callback() -> None:
    """The TERM landed inside a callback whose exceptions Python drops: the program must still
    end with exit code 0 (a raised ``SystemExit`` was printed as "Exception ignored" and lost)."""
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_A_WEAKREF_CALLBACK],
        capture_output=True,
        check=False,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert "Exception ignored" not in done.stderr
