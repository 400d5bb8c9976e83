"""What the soak process holds: threads, resident memory and open file descriptors (Linux /proc).

actorfsm's process-wide threads (the dispatcher's workers, the timer
scheduler, the stuck-handler watcher) live as long as the process, as Akka's
dispatcher threads do: :func:`start_shared_threads` starts them before the
first sample, so they are not counted as the run's growth, and
:func:`settled_sample` gives a replacement worker the pool started for a
blocked handler the time it takes to retire.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass

from actorfsm import FSM, Event, NextState, stay


@dataclass(frozen=True, slots=True)
class Resources:
    """A sample of the process: OS threads, resident set size (KiB) and open file descriptors."""

    threads: int
    rss_kib: int
    fds: int

    @classmethod
    def sample(cls) -> Resources:
        """Read the numbers now from ``/proc/self``."""
        fields: dict[str, str] = {}
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        return cls(
            threads=int(fields["Threads"]),
            rss_kib=int(fields["VmRSS"].split()[0]),
            fds=len(os.listdir("/proc/self/fd")),
        )


class _Warm(enum.Enum):
    UP = 1


class _Warmer(FSM[_Warm, None]):
    """Answers ``"warm"`` after arming a timer: a worker, the scheduler and the watcher run."""

    def __init__(self) -> None:
        super().__init__()
        self.start_with(_Warm.UP, None)
        self.when(_Warm.UP, self.up)

    def up(self, event: Event[None]) -> NextState | None:
        match event.event:
            case "warm":
                self.start_single_timer("warm", "warmed", 60.0)
                return stay().replying(True)
        return None


def start_shared_threads() -> None:
    """Start actorfsm's process-wide threads (one FSM asked once, then stopped)."""
    ref = _Warmer.start()
    ref.ask("warm", timeout=10)
    ref.stop()


def settled_sample(threads_at_most: int, within: float = 5.0) -> Resources:
    """A sample once the thread count is down to ``threads_at_most``, or after ``within`` s.

    A pool's replacement worker retires a second after the blocked handler it
    stood in for returned; a stop can end just before that.
    """
    deadline = time.monotonic() + within
    while (sample := Resources.sample()).threads > threads_at_most:
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return sample
