"""What the soak process holds: threads, resident memory and open file descriptors (Linux /proc)."""

from __future__ import annotations

import os
from dataclasses import dataclass


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
