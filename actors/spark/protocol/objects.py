"""Objects as the protocol carries them, and the data layouts of the system objects.

An object is ``[object_id u16 LE][groups u8][object_type u16 LE][data...]``. The
system objects (group 7) are SysInfo and Ticks; their data layouts are *ours*
(little-endian structs, where the firmware of the era used protobuf).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Self

from actors.spark.protocol.framing import ProtocolError

SYSTEM_GROUP = 7
"""The group of the controller's own objects; they are always active."""

SYSTEM_GROUP_MASK = 1 << SYSTEM_GROUP
"""The ``groups`` bit of the system group."""

SYSINFO_ID = 2
SYSINFO_TYPE = 256
TICKS_ID = 3
TICKS_TYPE = 257

USER_START_ID = 100
"""The first id the controller hands out to created objects; lower ids are its own."""

_HEADER = struct.Struct("<HBH")
_TICKS = struct.Struct("<II")
_TRACE_ENTRY = struct.Struct("<BHH")

DEVICE_ID_SIZE = 12
"""Bytes in a device id (24 hex characters in the handshake)."""

VERSION_SIZE = 20
"""Bytes of the NUL-padded ASCII version in SysInfo data."""

TRACE_SIZE = 10
"""Entries the controller keeps in its trace of operations."""


@dataclass(frozen=True, slots=True)
class SparkObject:
    """One controller object: its id, ``groups`` bitmask, type and opaque data."""

    object_id: int
    groups: int
    object_type: int
    data: bytes = b""

    def encode(self) -> bytes:
        """Return the object's wire bytes."""
        return _HEADER.pack(self.object_id, self.groups, self.object_type) + self.data

    @classmethod
    def decode(cls, raw: bytes) -> Self | ProtocolError:
        """Read an object from its wire bytes; too few bytes give a :class:`ProtocolError`."""
        if len(raw) < _HEADER.size:
            return ProtocolError("object shorter than its header", raw.hex().upper())
        object_id, groups, object_type = _HEADER.unpack_from(raw)
        return cls(object_id, groups, object_type, raw[_HEADER.size :])


@dataclass(frozen=True, slots=True)
class DiscoveredObject:
    """An object DISCOVER_OBJECTS found and created: ``[object_id u16][object_type u16]``."""

    object_id: int
    object_type: int


@dataclass(frozen=True, slots=True)
class TicksData:
    """Ticks data (*ours*): ``[millisSinceBoot u32][secondsSinceEpoch u32]``.

    A WRITE sets ``seconds_since_epoch``; ``millis_since_boot`` is read-only.
    """

    millis_since_boot: int
    seconds_since_epoch: int

    def encode(self) -> bytes:
        """Return the data bytes."""
        return _TICKS.pack(self.millis_since_boot, self.seconds_since_epoch)

    @classmethod
    def decode(cls, data: bytes) -> Self | ProtocolError:
        """Read Ticks data; any other length is a :class:`ProtocolError`."""
        if len(data) != _TICKS.size:
            return ProtocolError("Ticks data is not 8 bytes", data.hex().upper())
        return cls(*_TICKS.unpack(data))


@dataclass(frozen=True, slots=True)
class SysInfoData:
    """SysInfo READ data (*ours*): ``[deviceId 12 bytes][version 20 bytes ASCII, NUL-padded]``."""

    device_id: bytes
    version: str

    def encode(self) -> bytes:
        """Return the data bytes; a longer version is cut to 20 bytes."""
        version = self.version.encode("ascii", "replace")[:VERSION_SIZE]
        return self.device_id[:DEVICE_ID_SIZE].ljust(DEVICE_ID_SIZE, b"\0") + version.ljust(
            VERSION_SIZE, b"\0"
        )

    @classmethod
    def decode(cls, data: bytes) -> Self | ProtocolError:
        """Read SysInfo data; any other length is a :class:`ProtocolError`."""
        if len(data) != DEVICE_ID_SIZE + VERSION_SIZE:
            return ProtocolError("SysInfo data is not 32 bytes", data.hex().upper())
        version = data[DEVICE_ID_SIZE:].rstrip(b"\0").decode("ascii", "replace")
        return cls(data[:DEVICE_ID_SIZE], version)


class SysInfoCommand(enum.IntEnum):
    """The command byte of a WRITE to SysInfo (*ours*)."""

    READ_AND_RESUME_TRACE = 2


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One operation in the controller's trace: the opcode it ran and the object it touched."""

    action: int
    object_id: int
    object_type: int


def encode_trace(entries: tuple[TraceEntry, ...]) -> bytes:
    """Return the reply data of READ_AND_RESUME_TRACE: ``[2]`` then the entries, oldest first."""
    return bytes((SysInfoCommand.READ_AND_RESUME_TRACE,)) + b"".join(
        _TRACE_ENTRY.pack(e.action, e.object_id, e.object_type) for e in entries
    )


def decode_trace(data: bytes) -> tuple[TraceEntry, ...] | ProtocolError:
    """Read the reply data of READ_AND_RESUME_TRACE into its entries, oldest first."""
    if not data or data[0] != SysInfoCommand.READ_AND_RESUME_TRACE:
        return ProtocolError("not a trace reply", data.hex().upper())
    body = data[1:]
    if len(body) % _TRACE_ENTRY.size:
        return ProtocolError("trace is not whole entries", data.hex().upper())
    return tuple(TraceEntry(*fields) for fields in _TRACE_ENTRY.iter_unpack(body))
