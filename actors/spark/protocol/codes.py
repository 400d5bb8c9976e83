"""The numbers of the Controlbox v1 protocol: opcodes, errcodes and reset causes."""

from __future__ import annotations

import enum


class Opcode(enum.IntEnum):
    """The command a request asks for (the byte after the msgId)."""

    NONE = 0
    READ_OBJECT = 1
    WRITE_OBJECT = 2
    CREATE_OBJECT = 3
    DELETE_OBJECT = 4
    LIST_OBJECTS = 5
    READ_STORED_OBJECT = 6
    LIST_STORED_OBJECTS = 7
    CLEAR_OBJECTS = 8
    REBOOT = 9
    FACTORY_RESET = 10
    LIST_COMPATIBLE_OBJECTS = 11
    DISCOVER_OBJECTS = 12


class Errcode(enum.IntEnum):
    """The status byte that starts every response (values of the firmware's ``CboxError``)."""

    OK = 0
    UNKNOWN_ERROR = 1

    # object creation
    INSUFFICIENT_HEAP = 4

    # generic stream errors
    STREAM_ERROR_UNSPECIFIED = 8
    OUTPUT_STREAM_WRITE_ERROR = 9
    INPUT_STREAM_READ_ERROR = 10
    INPUT_STREAM_DECODING_ERROR = 11
    OUTPUT_STREAM_ENCODING_ERROR = 12

    # storage errors
    INSUFFICIENT_PERSISTENT_STORAGE = 16
    PERSISTED_OBJECT_NOT_FOUND = 17
    INVALID_PERSISTED_BLOCK_TYPE = 18
    COULD_NOT_READ_PERSISTED_BLOCK_SIZE = 19
    PERSISTED_BLOCK_STREAM_ERROR = 20
    PERSISTED_STORAGE_WRITE_ERROR = 21
    CRC_ERROR_IN_STORED_OBJECT = 22

    # invalid actions
    OBJECT_NOT_WRITABLE = 32
    OBJECT_NOT_READABLE = 33
    OBJECT_NOT_CREATABLE = 34
    OBJECT_NOT_DELETABLE = 35

    # invalid parameters
    INVALID_COMMAND = 63
    INVALID_OBJECT_ID = 64
    INVALID_OBJECT_TYPE = 65
    INVALID_OBJECT_GROUPS = 66
    CRC_ERROR_IN_COMMAND = 67
    OBJECT_DATA_NOT_ACCEPTED = 68

    # "freak events that should not be possible" in the firmware's words
    WRITE_TO_INACTIVE_OBJECT = 200


class ResetReason(enum.IntEnum):
    """Why the controller last booted: the handshake's ``reset_reason_hex`` (Particle's codes)."""

    NONE = 0x00
    UNKNOWN = 0x0A
    PIN_RESET = 0x14
    POWER_MANAGEMENT = 0x1E
    POWER_DOWN = 0x28
    POWER_BROWNOUT = 0x32
    WATCHDOG = 0x3C
    UPDATE = 0x46
    UPDATE_ERROR = 0x50
    UPDATE_TIMEOUT = 0x5A
    FACTORY_RESET = 0x64
    SAFE_MODE = 0x6E
    DFU_MODE = 0x78
    PANIC = 0x82
    USER = 0x8C


class ResetData(enum.IntEnum):
    """The firmware's detail for a USER reset: the handshake's ``reset_data_hex``."""

    NOT_SPECIFIED = 0x00
    WATCHDOG = 0x01
    CBOX_RESET = 0x02
    CBOX_FACTORY_RESET = 0x03
    FIRMWARE_UPDATE_FAILED = 0x04
    LISTENING_MODE_EXIT = 0x05
    FIRMWARE_UPDATE_SUCCESS = 0x06
    OUT_OF_MEMORY = 0x07


def hex_name(enum_type: type[enum.IntEnum], hex_text: str) -> str:
    """Name the member of ``enum_type`` whose value ``hex_text`` spells, else the hex itself.

    Unknown or unreadable codes come back as the uppercased hex, so a handshake
    from newer firmware never fails to describe itself.
    """
    try:
        return enum_type(int(hex_text, 16)).name
    except ValueError:
        return hex_text.upper()
