"""Cap glibc's malloc arenas in a long-running threaded program, so its memory does not creep.

glibc gives threads their own malloc arenas, up to eight per core. A service
whose threads come and go (one reader thread per link) and allocate buffers
of every size leaves free memory scattered over many arenas, where no other
thread reuses it and the OS never gets it back: resident memory creeps up
with the run length. Capping the arenas (glibc's ``MALLOC_ARENA_MAX``
tunable, set here with ``mallopt`` before the program starts its threads)
lets every thread reuse what any thread freed, at a cost in allocator
contention that a program this size does not notice. An explicit
``MALLOC_ARENA_MAX`` in the environment wins; on other C libraries (musl,
macOS) nothing is done.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8
"""glibc's ``mallopt`` parameter number for the arena cap (``malloc.h``)."""

ARENAS = 2
"""The cap the programs use: what services commonly set ``MALLOC_ARENA_MAX`` to."""


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at ``arenas``; True if the cap was set.

    False when the environment sets ``MALLOC_ARENA_MAX`` (the operator's
    choice stands) or the C library has no such tunable. Call it before
    starting threads: arenas already created stay.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas) == 1)
