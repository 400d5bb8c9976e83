"""The simulated controller's firmware: its objects, storage, clock and trace.

This is the part that answers requests, with no I/O: give it a request line, get
the response line. The data layouts of the system objects and the errcode rules
below are *ours*; the framing is byte-compatible with Controlbox v1.

Errcodes, checked in this order for each opcode:

- any request: not hex → INPUT_STREAM_DECODING_ERROR, too short →
  INPUT_STREAM_READ_ERROR, bad CRC → CRC_ERROR_IN_COMMAND, unknown opcode →
  INVALID_COMMAND (see ``decode_request``).
- READ_OBJECT: no such object → INVALID_OBJECT_ID.
- WRITE_OBJECT: no such object → INVALID_OBJECT_ID; another type →
  INVALID_OBJECT_TYPE; a user object in the system group →
  INVALID_OBJECT_GROUPS; system data that does not fit its layout →
  OBJECT_DATA_NOT_ACCEPTED. Ticks takes ``[millis u32][seconds u32]`` and sets
  the seconds; SysInfo takes ``[2]`` and answers with the trace.
- CREATE_OBJECT: an id below 100 or in use → INVALID_OBJECT_ID; type 0 →
  INVALID_OBJECT_TYPE; a system type → OBJECT_NOT_CREATABLE; the system group →
  INVALID_OBJECT_GROUPS; no free id left → INSUFFICIENT_HEAP.
- DELETE_OBJECT: a system object → OBJECT_NOT_DELETABLE; no such object →
  INVALID_OBJECT_ID.
- READ_STORED_OBJECT: not stored (system objects never are) →
  PERSISTED_OBJECT_NOT_FOUND.
- LIST_*, CLEAR_OBJECTS, REBOOT, FACTORY_RESET, DISCOVER_OBJECTS: OK. The
  simulator has no buses, so discovery finds nothing.

User objects are stored as they are created or written and survive a restart;
CLEAR_OBJECTS and FACTORY_RESET erase them. The trace holds the last 10
requests that decoded, each as (opcode, object id, object type) from the
request as it came in (a CREATE with id 0 is traced with id 0); a restart
clears it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from actors.spark.protocol import (
    SYSINFO_ID,
    SYSINFO_TYPE,
    SYSTEM_GROUP_MASK,
    TICKS_ID,
    TICKS_TYPE,
    USER_START_ID,
    Ack,
    ClearObjects,
    CreateObject,
    DeleteObject,
    DiscoverObjects,
    DiscoveryReply,
    Errcode,
    FactoryReset,
    Handshake,
    IdListReply,
    ListCompatibleObjects,
    ListObjects,
    ListStoredObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    Opcode,
    ProtocolError,
    ReadObject,
    ReadStoredObject,
    Reboot,
    RejectedRequest,
    Reply,
    Request,
    RequestFrame,
    SparkObject,
    SysInfoCommand,
    SysInfoData,
    TicksData,
    TraceEntry,
    WriteObject,
    decode_request,
    encode_response,
    encode_trace,
)
from actors.spark.protocol.codes import hex_name
from actors.spark.protocol.objects import DEVICE_ID_SIZE, TRACE_SIZE

DEFAULT_HANDSHAKE = Handshake(
    firmware_version="ed70d66f0",
    proto_version="3f2243a",
    firmware_date="2019-06-18",
    proto_date="2019-06-18",
    system_version="1.2.1-rc.2",
    platform="p1",
    reset_reason_hex="78",
    reset_data_hex="0A",
    device_id="C0FFEE0123456789ABCDEF01",
)
"""A Spark firmware's handshake, with a 12-byte device id."""

_MAX_ID = 0xFFFF
_SYSTEM_TYPES = frozenset({SYSINFO_TYPE, TICKS_TYPE})

Outcome = tuple[Errcode, Reply | None]


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` uppercased if it is 12 bytes of hex, else raise ValueError."""
    try:
        raw = bytes.fromhex(device_id)
    except ValueError:
        raw = b""
    if len(raw) != DEVICE_ID_SIZE or len(device_id) != 2 * DEVICE_ID_SIZE:
        raise ValueError(f"device id {device_id!r} is not 24 hex digits")
    return device_id.upper()


@dataclass(frozen=True, slots=True)
class Served:
    """The firmware's answer to one request line, with what a log line needs."""

    response: str
    msg_id: int | None
    opcode: int | None
    errcode: Errcode

    @property
    def opcode_name(self) -> str | None:
        """The opcode's name, its hex if unknown, None if the line had none."""
        return None if self.opcode is None else hex_name(Opcode, f"{self.opcode:02X}")


class Firmware:
    """A controller's state and request handling; not thread-safe (one caller at a time).

    ``handshake`` is the identity it announces, including the reset reason of
    its last boot. ``clock`` (seconds, monotonic) drives millisSinceBoot.
    """

    def __init__(self, handshake: Handshake, clock: Callable[[], float] = time.monotonic) -> None:
        self.handshake = replace(handshake, device_id=check_device_id(handshake.device_id))
        self._clock = clock
        self._stored: dict[int, SparkObject] = {}
        self._trace: deque[TraceEntry] = deque(maxlen=TRACE_SIZE)
        self._booted_at = clock()
        self._epoch = (0, self._booted_at)

    def restart(self, reset_reason: int, reset_data: int) -> None:
        """Reboot: the clock and trace start over and the next handshake says why."""
        self.handshake = replace(
            self.handshake,
            reset_reason_hex=f"{reset_reason:02X}",
            reset_data_hex=f"{reset_data:02X}",
        )
        self._booted_at = self._clock()
        self._epoch = (0, self._booted_at)
        self._trace.clear()

    def serve(self, line: str) -> Served:
        """Run one request line and return the response line (without ``\\n``)."""
        match decode_request(line):
            case RejectedRequest(text, errcode, _, msg_id, opcode):
                return Served(encode_response(text, errcode), msg_id, opcode, errcode)
            case RequestFrame(text, msg_id, request):
                self._trace.append(self._trace_entry(request))
                errcode, reply = self._run(request)
                return Served(
                    encode_response(text, errcode, reply), msg_id, request.OPCODE, errcode
                )

    def _run(self, request: Request) -> Outcome:
        match request:
            case Noop() | Reboot():
                return Errcode.OK, Ack()
            case ReadObject(object_id):
                obj = self._object(object_id)
                return (Errcode.OK, ObjectReply(obj)) if obj else (Errcode.INVALID_OBJECT_ID, None)
            case WriteObject(obj):
                return self._write(obj)
            case CreateObject(obj):
                return self._create(obj)
            case DeleteObject(object_id):
                return self._delete(object_id)
            case ListObjects():
                return Errcode.OK, ObjectListReply(self._objects())
            case ReadStoredObject(object_id):
                stored = self._stored.get(object_id)
                if stored is None:
                    return Errcode.PERSISTED_OBJECT_NOT_FOUND, None
                return Errcode.OK, ObjectReply(stored)
            case ListStoredObjects():
                return Errcode.OK, ObjectListReply(self._user_objects())
            case ClearObjects() | FactoryReset():
                self._stored.clear()
                return Errcode.OK, Ack()
            case ListCompatibleObjects(interface):
                ids = tuple(o.object_id for o in self._objects() if o.object_type == interface)
                return Errcode.OK, IdListReply(ids)
            case DiscoverObjects():
                return Errcode.OK, DiscoveryReply(())

    def _trace_entry(self, request: Request) -> TraceEntry:
        match request:
            case WriteObject(obj) | CreateObject(obj):
                return TraceEntry(request.OPCODE, obj.object_id, obj.object_type)
            case ReadObject(object_id) | DeleteObject(object_id) | ReadStoredObject(object_id):
                target = self._object(object_id)
                return TraceEntry(request.OPCODE, object_id, target.object_type if target else 0)
            case _:
                return TraceEntry(request.OPCODE, 0, 0)

    def _sysinfo(self) -> SparkObject:
        data = SysInfoData(bytes.fromhex(self.handshake.device_id), self.handshake.firmware_version)
        return SparkObject(SYSINFO_ID, SYSTEM_GROUP_MASK, SYSINFO_TYPE, data.encode())

    def _ticks(self) -> SparkObject:
        now = self._clock()
        epoch_base, epoch_set_at = self._epoch
        data = TicksData(
            int((now - self._booted_at) * 1000) & 0xFFFFFFFF,
            (epoch_base + int(now - epoch_set_at)) & 0xFFFFFFFF,
        )
        return SparkObject(TICKS_ID, SYSTEM_GROUP_MASK, TICKS_TYPE, data.encode())

    def _objects(self) -> tuple[SparkObject, ...]:
        return (self._sysinfo(), self._ticks(), *self._user_objects())

    def _user_objects(self) -> tuple[SparkObject, ...]:
        return tuple(self._stored[object_id] for object_id in sorted(self._stored))

    def _object(self, object_id: int) -> SparkObject | None:
        return next((o for o in self._objects() if o.object_id == object_id), None)

    def _write(self, obj: SparkObject) -> Outcome:
        current = self._object(obj.object_id)
        if current is None:
            return Errcode.INVALID_OBJECT_ID, None
        if current.object_type != obj.object_type:
            return Errcode.INVALID_OBJECT_TYPE, None
        if obj.object_id == SYSINFO_ID:
            if obj.data != bytes((SysInfoCommand.READ_AND_RESUME_TRACE,)):
                return Errcode.OBJECT_DATA_NOT_ACCEPTED, None
            trace = encode_trace(tuple(self._trace))
            return Errcode.OK, ObjectReply(replace(current, data=trace))
        if obj.object_id == TICKS_ID:
            ticks = TicksData.decode(obj.data)
            if isinstance(ticks, ProtocolError):
                return Errcode.OBJECT_DATA_NOT_ACCEPTED, None
            self._epoch = (ticks.seconds_since_epoch, self._clock())
            return Errcode.OK, ObjectReply(self._ticks())
        if obj.groups & SYSTEM_GROUP_MASK:
            return Errcode.INVALID_OBJECT_GROUPS, None
        self._stored[obj.object_id] = obj
        return Errcode.OK, ObjectReply(obj)

    def _create(self, obj: SparkObject) -> Outcome:
        if 0 < obj.object_id < USER_START_ID or obj.object_id in self._stored:
            return Errcode.INVALID_OBJECT_ID, None
        if obj.object_type == 0:
            return Errcode.INVALID_OBJECT_TYPE, None
        if obj.object_type in _SYSTEM_TYPES:
            return Errcode.OBJECT_NOT_CREATABLE, None
        if obj.groups & SYSTEM_GROUP_MASK:
            return Errcode.INVALID_OBJECT_GROUPS, None
        object_id = obj.object_id or self._free_id()
        if object_id is None:
            return Errcode.INSUFFICIENT_HEAP, None
        created = replace(obj, object_id=object_id)
        self._stored[object_id] = created
        return Errcode.OK, ObjectReply(created)

    def _free_id(self) -> int | None:
        return next((i for i in range(USER_START_ID, _MAX_ID + 1) if i not in self._stored), None)

    def _delete(self, object_id: int) -> Outcome:
        if object_id in (SYSINFO_ID, TICKS_ID):
            return Errcode.OBJECT_NOT_DELETABLE, None
        if self._stored.pop(object_id, None) is None:
            return Errcode.INVALID_OBJECT_ID, None
        return Errcode.OK, Ack()
