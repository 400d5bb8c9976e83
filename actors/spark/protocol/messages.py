"""Requests and responses: typed values and their Controlbox v1 text lines.

A request line is ``hex([msgId u16 LE][opcode u8][args...][CRC8])``. The response
line echoes the request as received (uppercased, spaces removed), then ``|``,
then ``hex([errcode u8][fields...][CRC8])``; list results follow as further
``,``-separated chunks, each with its own CRC8. The echoed request is the key a
connector matches a response to its pending request by.

Both directions are here: a connector encodes requests and decodes responses, a
controller (the simulator) decodes requests and encodes responses. Decoding never
raises on wire garbage; it returns a :class:`ProtocolError` (responses) or a
:class:`RejectedRequest` (requests) value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from actors.spark.protocol.codes import Errcode, Opcode
from actors.spark.protocol.framing import (
    ProtocolError,
    crc8,
    decode_chunk,
    decode_hex,
    encode_chunk,
    normalize_hex,
)
from actors.spark.protocol.objects import DiscoveredObject, SparkObject

RESPONSE_SEPARATOR = "|"
LIST_SEPARATOR = ","
MSG_ID_LIMIT = 0xFFFF
"""msgIds count up modulo this (the firmware's and the Brewblox service's rule)."""

_T = TypeVar("_T")
_U16 = struct.Struct("<H")
_DISCOVERED = struct.Struct("<HH")
_FRAME_HEADER = struct.Struct("<HB")


def next_msg_id(msg_id: int) -> int:
    """Return the msgId after ``msg_id`` (counting modulo 0xFFFF)."""
    return (msg_id + 1) % MSG_ID_LIMIT


# --- requests ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Noop:
    """A ping: the controller answers OK and sends its handshake again."""

    OPCODE: ClassVar[Opcode] = Opcode.NONE


@dataclass(frozen=True, slots=True)
class ReadObject:
    """Read one active object."""

    OPCODE: ClassVar[Opcode] = Opcode.READ_OBJECT
    object_id: int


@dataclass(frozen=True, slots=True)
class WriteObject:
    """Write an existing object's groups and data; the reply is the object as written."""

    OPCODE: ClassVar[Opcode] = Opcode.WRITE_OBJECT
    obj: SparkObject


@dataclass(frozen=True, slots=True)
class CreateObject:
    """Create an object; ``object_id`` 0 lets the controller assign one."""

    OPCODE: ClassVar[Opcode] = Opcode.CREATE_OBJECT
    obj: SparkObject


@dataclass(frozen=True, slots=True)
class DeleteObject:
    """Delete an object and its stored copy."""

    OPCODE: ClassVar[Opcode] = Opcode.DELETE_OBJECT
    object_id: int


@dataclass(frozen=True, slots=True)
class ListObjects:
    """List every active object."""

    OPCODE: ClassVar[Opcode] = Opcode.LIST_OBJECTS


@dataclass(frozen=True, slots=True)
class ReadStoredObject:
    """Read an object as persisted in the controller's storage."""

    OPCODE: ClassVar[Opcode] = Opcode.READ_STORED_OBJECT
    object_id: int


@dataclass(frozen=True, slots=True)
class ListStoredObjects:
    """List every persisted object."""

    OPCODE: ClassVar[Opcode] = Opcode.LIST_STORED_OBJECTS


@dataclass(frozen=True, slots=True)
class ClearObjects:
    """Delete every user object."""

    OPCODE: ClassVar[Opcode] = Opcode.CLEAR_OBJECTS


@dataclass(frozen=True, slots=True)
class Reboot:
    """Reboot the controller after answering."""

    OPCODE: ClassVar[Opcode] = Opcode.REBOOT


@dataclass(frozen=True, slots=True)
class FactoryReset:
    """Erase storage and reboot after answering."""

    OPCODE: ClassVar[Opcode] = Opcode.FACTORY_RESET


@dataclass(frozen=True, slots=True)
class ListCompatibleObjects:
    """List the ids of the objects that implement ``interface`` (an object type)."""

    OPCODE: ClassVar[Opcode] = Opcode.LIST_COMPATIBLE_OBJECTS
    interface: int


@dataclass(frozen=True, slots=True)
class DiscoverObjects:
    """Scan the buses for new devices, create objects for them and list them."""

    OPCODE: ClassVar[Opcode] = Opcode.DISCOVER_OBJECTS


Request = (
    Noop
    | ReadObject
    | WriteObject
    | CreateObject
    | DeleteObject
    | ListObjects
    | ReadStoredObject
    | ListStoredObjects
    | ClearObjects
    | Reboot
    | FactoryReset
    | ListCompatibleObjects
    | DiscoverObjects
)

_NO_ARGS: dict[Opcode, Request] = {
    Opcode.NONE: Noop(),
    Opcode.LIST_OBJECTS: ListObjects(),
    Opcode.LIST_STORED_OBJECTS: ListStoredObjects(),
    Opcode.CLEAR_OBJECTS: ClearObjects(),
    Opcode.REBOOT: Reboot(),
    Opcode.FACTORY_RESET: FactoryReset(),
    Opcode.DISCOVER_OBJECTS: DiscoverObjects(),
}


def _request_args(request: Request) -> bytes:
    match request:
        case ReadObject(object_id) | DeleteObject(object_id) | ReadStoredObject(object_id):
            return _U16.pack(object_id)
        case ListCompatibleObjects(interface):
            return _U16.pack(interface)
        case WriteObject(obj) | CreateObject(obj):
            return obj.encode()
        case _:
            return b""


def encode_request(msg_id: int, request: Request) -> str:
    """Return the request line (without the ``\\n`` that ends it on the wire).

    >>> encode_request(1, Noop())
    '010000AB'
    """
    if not 0 <= msg_id <= MSG_ID_LIMIT:
        raise ValueError(f"msgId {msg_id} is not a u16")
    return encode_chunk(_FRAME_HEADER.pack(msg_id, request.OPCODE) + _request_args(request))


@dataclass(frozen=True, slots=True)
class RequestFrame:
    """A request as a controller received it: the echo text, msgId and typed request."""

    text: str
    msg_id: int
    request: Request


@dataclass(frozen=True, slots=True)
class RejectedRequest:
    """A request line a controller cannot run, with the errcode it answers.

    ``text`` is the echo (the line uppercased, spaces removed); ``msg_id`` and
    ``opcode`` (the raw byte) are given when the line had them.
    """

    text: str
    errcode: Errcode
    reason: str
    msg_id: int | None = None
    opcode: int | None = None


_ID_REQUESTS: dict[Opcode, Callable[[int], Request]] = {
    Opcode.READ_OBJECT: ReadObject,
    Opcode.DELETE_OBJECT: DeleteObject,
    Opcode.READ_STORED_OBJECT: ReadStoredObject,
    Opcode.LIST_COMPATIBLE_OBJECTS: ListCompatibleObjects,
}


def _decode_args(opcode: Opcode, args: bytes) -> Request | None:
    """Return the typed request, or None when ``args`` are too short for ``opcode``."""
    match opcode:
        case Opcode.WRITE_OBJECT | Opcode.CREATE_OBJECT:
            obj = SparkObject.decode(args)
            if isinstance(obj, ProtocolError):
                return None
            return WriteObject(obj) if opcode is Opcode.WRITE_OBJECT else CreateObject(obj)
        case _ if opcode in _ID_REQUESTS:
            if len(args) < _U16.size:
                return None
            return _ID_REQUESTS[opcode](_U16.unpack_from(args)[0])
        case _:
            return _NO_ARGS[opcode]


def _opcode(value: int) -> Opcode | None:
    try:
        return Opcode(value)
    except ValueError:
        return None


def decode_request(line: str) -> RequestFrame | RejectedRequest:
    """Read a request line as a controller does, in the order the firmware checks.

    Not hex → INPUT_STREAM_DECODING_ERROR; shorter than msgId, opcode and CRC →
    INPUT_STREAM_READ_ERROR; bad CRC → CRC_ERROR_IN_COMMAND (for every opcode, as
    the protocol asks); unknown opcode → INVALID_COMMAND; arguments too short →
    INPUT_STREAM_READ_ERROR. Bytes after the arguments are ignored, as the
    firmware spools them.
    """
    text = normalize_hex(line)
    raw = decode_hex(text)
    if isinstance(raw, ProtocolError):
        return RejectedRequest(text, Errcode.INPUT_STREAM_DECODING_ERROR, "not hex")
    if len(raw) < _FRAME_HEADER.size + 1:
        return RejectedRequest(text, Errcode.INPUT_STREAM_READ_ERROR, "no msgId and opcode")
    msg_id, opcode_byte = _FRAME_HEADER.unpack_from(raw)
    if crc8(raw) != 0:
        return RejectedRequest(text, Errcode.CRC_ERROR_IN_COMMAND, "bad CRC", msg_id, opcode_byte)
    opcode = _opcode(opcode_byte)
    if opcode is None:
        return RejectedRequest(text, Errcode.INVALID_COMMAND, "unknown opcode", msg_id, opcode_byte)
    request = _decode_args(opcode, raw[_FRAME_HEADER.size : -1])
    if request is None:
        return RejectedRequest(
            text, Errcode.INPUT_STREAM_READ_ERROR, "arguments too short", msg_id, opcode_byte
        )
    return RequestFrame(text, msg_id, request)


# --- responses --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    """The reply of the opcodes that answer with the errcode alone."""


@dataclass(frozen=True, slots=True)
class ObjectReply:
    """One object: READ, WRITE, CREATE and READ_STORED answer with it."""

    obj: SparkObject


@dataclass(frozen=True, slots=True)
class ObjectListReply:
    """Objects, one chunk each: LIST_OBJECTS and LIST_STORED_OBJECTS."""

    objects: tuple[SparkObject, ...]


@dataclass(frozen=True, slots=True)
class IdListReply:
    """Object ids, one chunk each: LIST_COMPATIBLE_OBJECTS."""

    object_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DiscoveryReply:
    """New objects as ``[id][type]``, one chunk each: DISCOVER_OBJECTS."""

    objects: tuple[DiscoveredObject, ...]


Reply = Ack | ObjectReply | ObjectListReply | IdListReply | DiscoveryReply


@dataclass(frozen=True, slots=True)
class Response:
    """A decoded response line.

    ``request`` is the echoed request text (the key to match a pending request
    by); ``reply`` carries the fields and is None unless ``errcode`` is OK.
    """

    request: str
    msg_id: int
    opcode: Opcode
    errcode: Errcode
    reply: Reply | None


def encode_response(request: str, errcode: Errcode, reply: Reply | None = None) -> str:
    """Return the response line (without ``\\n``) for the echoed ``request`` text.

    >>> encode_response('010000AB', Errcode.OK, Ack())
    '010000AB|0000'
    """
    status = bytes((errcode,))
    items: list[bytes] = []
    match reply:
        case ObjectReply(obj):
            status += obj.encode()
        case ObjectListReply(objects):
            items = [obj.encode() for obj in objects]
        case IdListReply(object_ids):
            items = [_U16.pack(object_id) for object_id in object_ids]
        case DiscoveryReply(found):
            items = [_DISCOVERED.pack(d.object_id, d.object_type) for d in found]
        case Ack() | None:
            pass
    chunks = LIST_SEPARATOR.join(encode_chunk(payload) for payload in [status, *items])
    return f"{request}{RESPONSE_SEPARATOR}{chunks}"


def _decode_id(payload: bytes) -> int | ProtocolError:
    if len(payload) != _U16.size:
        return ProtocolError("object id is not 2 bytes", payload.hex().upper())
    return int(_U16.unpack(payload)[0])


def _decode_discovered(payload: bytes) -> DiscoveredObject | ProtocolError:
    if len(payload) != _DISCOVERED.size:
        return ProtocolError("discovered object is not 4 bytes", payload.hex().upper())
    return DiscoveredObject(*_DISCOVERED.unpack(payload))


def _decode_items(
    items: list[bytes], decode: Callable[[bytes], _T | ProtocolError]
) -> tuple[_T, ...] | ProtocolError:
    """Decode every list chunk, or return the first chunk's error."""
    decoded: list[_T] = []
    for item in items:
        value = decode(item)
        if isinstance(value, ProtocolError):
            return value
        decoded.append(value)
    return tuple(decoded)


_OBJECT_REPLIES = frozenset(
    {Opcode.READ_OBJECT, Opcode.WRITE_OBJECT, Opcode.CREATE_OBJECT, Opcode.READ_STORED_OBJECT}
)


def _decode_reply(opcode: Opcode, fields: bytes, items: list[bytes]) -> Reply | ProtocolError:
    """Read the fields of an OK response by the shape ``opcode`` answers with."""
    if opcode in _OBJECT_REPLIES:
        if items:
            return ProtocolError("list chunks after an object")
        obj = SparkObject.decode(fields)
        return obj if isinstance(obj, ProtocolError) else ObjectReply(obj)
    if fields:
        return ProtocolError("unexpected fields after the errcode", fields.hex().upper())
    match opcode:
        case Opcode.LIST_OBJECTS | Opcode.LIST_STORED_OBJECTS:
            objects = _decode_items(items, SparkObject.decode)
            return objects if isinstance(objects, ProtocolError) else ObjectListReply(objects)
        case Opcode.LIST_COMPATIBLE_OBJECTS:
            ids = _decode_items(items, _decode_id)
            return ids if isinstance(ids, ProtocolError) else IdListReply(ids)
        case Opcode.DISCOVER_OBJECTS:
            found = _decode_items(items, _decode_discovered)
            return found if isinstance(found, ProtocolError) else DiscoveryReply(found)
        case _:
            return ProtocolError("list chunks in a reply that has none") if items else Ack()


def decode_response(line: str) -> Response | ProtocolError:
    """Read a response data line; anything malformed is a :class:`ProtocolError` value.

    The echo's own CRC is not checked (a CRC_ERROR_IN_COMMAND reply echoes a bad
    frame); every response chunk's CRC is. When the echo is readable the error
    carries it in ``request`` so the matching command can be failed at once.
    """
    text = normalize_hex(line)
    parts = text.split(RESPONSE_SEPARATOR)
    if len(parts) != 2:
        return ProtocolError("not one '|' separator", line)
    echo, body = parts
    raw_echo = decode_hex(echo)
    if isinstance(raw_echo, ProtocolError) or len(raw_echo) < _FRAME_HEADER.size:
        return ProtocolError("echoed request is not a frame", line)
    msg_id, opcode_byte = _FRAME_HEADER.unpack_from(raw_echo)
    opcode = _opcode(opcode_byte)
    if opcode is None:
        return ProtocolError("unknown opcode in echo", line, echo)
    chunks: list[bytes] = []
    for chunk_text in body.split(LIST_SEPARATOR):
        chunk = decode_chunk(chunk_text)
        if isinstance(chunk, ProtocolError):
            return ProtocolError(f"response chunk: {chunk.reason}", line, echo)
        chunks.append(chunk)
    status = chunks[0]
    if not status:
        return ProtocolError("no errcode", line, echo)
    try:
        errcode = Errcode(status[0])
    except ValueError:
        return ProtocolError("unknown errcode", line, echo)
    if errcode is not Errcode.OK:
        return Response(echo, msg_id, opcode, errcode, None)
    reply = _decode_reply(opcode, status[1:], chunks[1:])
    if isinstance(reply, ProtocolError):
        return ProtocolError(reply.reason, line, echo)
    return Response(echo, msg_id, opcode, errcode, reply)
