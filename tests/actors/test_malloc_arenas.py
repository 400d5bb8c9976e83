"""limit_malloc_arenas: eight threads alive at once share the capped arenas instead of one each.

Each scenario runs in a fresh interpreter: the cap is process-wide and only
affects arenas created after it. glibc's ``malloc_stats`` prints one
``Arena N:`` block per arena to stderr, which is what is counted.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the arena cap is a glibc tunable"
)

PROGRAM = """
import ctypes, sys, threading
from actors.malloc_arenas import limit_malloc_arenas
print(limit_malloc_arenas() if sys.argv[1] == "cap" else "no cap", flush=True)
barrier = threading.Barrier(8)
def work():
    barrier.wait()  # all eight alive: none can take over an arena another left
    [bytes(3000) for _ in range(10)]
    barrier.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def arenas(mode: str, **env: str) -> tuple[str, int]:
    """Run PROGRAM; return what it printed first and how many arenas glibc reported."""
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env,
        check=True,
    )
    count = sum(line.startswith("Arena ") for line in done.stderr.splitlines())
    return done.stdout.strip(), count


def test_the_cap_keeps_eight_threads_to_two_arenas() -> None:
    assert arenas("cap") == ("True", 2)


def test_without_the_cap_each_thread_gets_its_own_arena() -> None:
    printed, count = arenas("none")
    assert printed == "no cap"
    assert count > 2


def test_an_operator_s_malloc_arena_max_stands() -> None:
    assert arenas("cap", MALLOC_ARENA_MAX="4")[0] == "False"
