"""The faults a simulated controller can be told to show, at run time.

Each kind is one failure a real controller or its cable shows. Some set a state
that lasts until ``Simulator.clear_faults()``; the others act once, when
injected. A soak test can pick ``Fault(random.choice(list(FaultKind)))``: every
kind has a default argument.

=================  ==========  ==============================================
kind (CLI name)    lasts       argument (default)
=================  ==========  ==============================================
silent             until clear none. Reads and discards every request, sends
                               nothing, no handshake either: an unplugged USB
                               cable, whose writes still succeed.
drop               once        none. Hangs up the current connections: TCP
                               closes the client socket; the pty is replaced by
                               a new one behind the same path (the client's
                               reads fail; reopening the path works).
refuse             until clear none. The controller is unreachable: current
                               connections are dropped, TCP connects are refused
                               (the listening socket is closed) and the pty path
                               does not exist; clearing restores both.
garbage            once        bytes (64, at most 1 MiB): a line of that many
                               random printable non-annotation characters,
                               then ``\\n``.
bad-crc            until clear none. Every response line's last CRC is wrong.
delay              until clear milliseconds (1000): each reply waits this long;
                               the controller is busy meanwhile, on both ports
                               (requests queue up and are answered in order,
                               each this long after the one before).
firmware-version   until clear version (``0badc0de0``), from the next handshake
                               and SysInfo on.
proto-version      until clear version (``0badc0d``), from the next handshake on.
device-id          until clear 24 hex digits (``0BADC0DE0BADC0DE0BADC0DE``),
                               from the next handshake and SysInfo on.
setup-mode         once        none. Sends ``<!SETUP_MODE>`` then goes silent
                               (until clear).
restart            once        reset reason (0x14, PIN_RESET). Reboots: the
                               connections drop, millisSinceBoot and the trace
                               start over, the next handshake carries the
                               reason (reset data 00). Objects stay stored.
cbox-error         once        errcode (0x01): sends ``<!CBOXERROR:XX>``.
flood              once        bytes (1 MiB, at most 1 GiB): that many bytes of
                               ``<!CBOXERROR:43>`` events, as fast as the client
                               takes them (a controller gone haywire).
=================  ==========  ==============================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from actors.spark.protocol import Errcode, ResetReason
from actors.spark.simulator.firmware import check_device_id


class FaultKind(enum.StrEnum):
    """What goes wrong; the value is the name the command line uses."""

    SILENT = "silent"
    DROP = "drop"
    REFUSE = "refuse"
    GARBAGE = "garbage"
    BAD_CRC = "bad-crc"
    DELAY = "delay"
    FIRMWARE_VERSION = "firmware-version"
    PROTO_VERSION = "proto-version"
    DEVICE_ID = "device-id"
    SETUP_MODE = "setup-mode"
    RESTART = "restart"
    CBOX_ERROR = "cbox-error"
    FLOOD = "flood"


_NUMBER_DEFAULTS: dict[FaultKind, int] = {
    FaultKind.GARBAGE: 64,
    FaultKind.DELAY: 1000,
    FaultKind.RESTART: ResetReason.PIN_RESET,
    FaultKind.CBOX_ERROR: Errcode.UNKNOWN_ERROR,
    FaultKind.FLOOD: 1 << 20,
}
_TEXT_DEFAULTS: dict[FaultKind, str] = {
    FaultKind.FIRMWARE_VERSION: "0badc0de0",
    FaultKind.PROTO_VERSION: "0badc0d",
    FaultKind.DEVICE_ID: "0BADC0DE0BADC0DE0BADC0DE",
}
_NUMBER_LIMITS: dict[FaultKind, int] = {
    FaultKind.GARBAGE: 1 << 20,  # beyond a reader's 64 KiB line limit
    FaultKind.DELAY: 60_000,
    FaultKind.RESTART: 0xFF,
    FaultKind.CBOX_ERROR: 0xFF,
    FaultKind.FLOOD: 1 << 30,
}

LASTING = frozenset(
    {
        FaultKind.SILENT,
        FaultKind.REFUSE,
        FaultKind.BAD_CRC,
        FaultKind.DELAY,
        FaultKind.FIRMWARE_VERSION,
        FaultKind.PROTO_VERSION,
        FaultKind.DEVICE_ID,
    }
)
"""The kinds that last until ``clear_faults()``; the others act once."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to inject: its kind and, for kinds that take one, an argument.

    The argument is an int for garbage, delay, restart, cbox-error and flood, a str for
    the versions and the device id, and None for the rest; None means the
    default (see the module's table). A wrong argument raises ValueError.
    """

    kind: FaultKind
    arg: int | str | None = None

    def __post_init__(self) -> None:
        match self.arg:
            case None:
                pass
            case int() if self.kind in _NUMBER_DEFAULTS:
                limit = _NUMBER_LIMITS[self.kind]
                if not 0 <= self.arg <= limit:
                    raise ValueError(f"{self.kind} takes 0..{limit}, not {self.arg}")
            case str() if self.kind in _TEXT_DEFAULTS:
                if self.kind is FaultKind.DEVICE_ID:
                    check_device_id(self.arg)
            case _:
                raise ValueError(f"{self.kind} does not take {self.arg!r}")

    @property
    def number(self) -> int:
        """The int argument, or its default; only for kinds that take an int."""
        return self.arg if isinstance(self.arg, int) else _NUMBER_DEFAULTS[self.kind]

    @property
    def text(self) -> str:
        """The str argument, or its default; only for kinds that take a str."""
        return self.arg if isinstance(self.arg, str) else _TEXT_DEFAULTS[self.kind]

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Read a command-line spec: ``kind`` or ``kind=arg`` (ints in decimal or ``0x`` hex)."""
        name, _, value = spec.strip().partition("=")
        try:
            kind = FaultKind(name.strip().lower())
        except ValueError:
            names = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault {name!r}; one of: {names}") from None
        value = value.strip()
        if not value:
            return cls(kind)
        if kind in _NUMBER_DEFAULTS:
            return cls(kind, int(value, 0))
        return cls(kind, value)
