"""The soak's fault schedule: which faults, with which arguments, held how long, drawn from a seed.

Everything random about the chaos comes from one ``random.Random(seed)``, so a
seed names a schedule: the same seed injects the same faults in the same order
with the same holds and gaps (the client threads' timing is of course not
reproducible). A schedule is a sequence of :class:`Episode` s: one fault, or a
burst of two or three injected a short gap apart, whose lasting faults are
held for a while and then cleared together.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from actors.spark.protocol import Errcode, ResetReason
from actors.spark.simulator import LASTING, Fault, FaultKind

HELD = LASTING | {FaultKind.SETUP_MODE}
"""Kinds whose effect lasts until cleared (setup mode leaves the controller silent)."""

IDENTITY = frozenset({FaultKind.FIRMWARE_VERSION, FaultKind.PROTO_VERSION, FaultKind.DEVICE_ID})
"""Kinds that change what the controller announces; a reflash (a restart) brings them up."""

INCOMPATIBLE = frozenset({FaultKind.PROTO_VERSION, FaultKind.DEVICE_ID})
"""Identity kinds the connector must refuse (it parks at ACKNOWLEDGED)."""

BURST_CHANCE = 0.25
"""How often an episode is a burst of two or three faults instead of one."""

HUGE_GARBAGE_CHANCE = 0.1
"""How often garbage is a line longer than the connector's 64 KiB line limit."""

LONG_HOLD_CHANCE = 0.05
"""How often a lasting fault is held long enough for the watchdog and handshake timeout to act."""


@dataclass(frozen=True, slots=True)
class Episode:
    """One round of chaos: ``faults`` injected ``gaps`` apart, held ``hold`` seconds, cleared.

    ``gaps[i]`` is the wait before ``faults[i + 1]`` (often the connector is
    still reconnecting then); ``pause`` is the quiet time of normal traffic
    before the episode starts.
    """

    faults: tuple[Fault, ...]
    gaps: tuple[float, ...]
    hold: float
    pause: float

    @property
    def kinds(self) -> frozenset[FaultKind]:
        """The kinds of fault in the episode."""
        return frozenset(fault.kind for fault in self.faults)

    @property
    def held(self) -> bool:
        """Whether some fault lasts until cleared."""
        return bool(self.kinds & HELD)


def random_fault(rng: random.Random) -> Fault:
    """Any kind, with an argument drawn for the kinds that take one.

    The versions and device id start with ``0``, so they never equal the
    service's protocol version (``3f2243a``) or the simulator's device id.
    """
    kind = rng.choice(list(FaultKind))
    match kind:
        case FaultKind.GARBAGE:
            big = rng.random() < HUGE_GARBAGE_CHANCE
            return Fault(kind, rng.randint(65_000, 200_000) if big else rng.randint(1, 300))
        case FaultKind.DELAY:
            return Fault(kind, rng.randint(20, 800))
        case FaultKind.RESTART:
            return Fault(kind, int(rng.choice(list(ResetReason))))
        case FaultKind.CBOX_ERROR:
            return Fault(kind, int(rng.choice(list(Errcode))))
        case FaultKind.FIRMWARE_VERSION:
            return Fault(kind, "0" + rng.randbytes(4).hex())
        case FaultKind.PROTO_VERSION:
            return Fault(kind, "0" + rng.randbytes(3).hex())
        case FaultKind.DEVICE_ID:
            return Fault(kind, ("0" + rng.randbytes(12).hex()[1:]).upper())
    return Fault(kind)


def episodes(seed: int, faults: int) -> Iterator[Episode]:
    """The schedule of ``seed``: episodes holding ``faults`` faults in all."""
    rng = random.Random(seed)
    left = faults
    while left > 0:
        size = min(left, rng.choice((2, 3))) if rng.random() < BURST_CHANCE else 1
        drawn = tuple(random_fault(rng) for _ in range(size))
        gaps = tuple(rng.uniform(0.0, 0.5) for _ in range(size - 1))
        long = rng.random() < LONG_HOLD_CHANCE
        hold = rng.uniform(1.0, 2.5) if long else rng.uniform(0.05, 0.8)
        yield Episode(drawn, gaps, hold, pause=rng.uniform(0.0, 0.2))
        left -= size
