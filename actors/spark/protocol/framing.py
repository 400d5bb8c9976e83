"""The framing layer of Controlbox v1: CRC8-checked binary chunks written as uppercase hex.

Every request and every response chunk is ``hex(payload + CRC8(payload))``. A chunk
is valid when the CRC8 over payload *and* CRC is 0, which is how both sides check
it. Decoding never raises on wire garbage: it returns a :class:`ProtocolError`
value, so a reader that meets a bad frame logs it and carries on.
"""

from __future__ import annotations

from dataclasses import dataclass


def _crc_table() -> tuple[int, ...]:
    """The 256 CRC8 values of Dallas/Maxim (reflected polynomial 0x8C, init 0)."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


# A table lookup per byte is about 8x faster than the bitwise loop.
_CRC_TABLE = _crc_table()


def crc8(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """Return the Dallas/Maxim CRC8 of ``data``, continuing from ``crc``.

    A frame that carries its own CRC as its last byte is valid when
    ``crc8(frame) == 0``.
    """
    table = _CRC_TABLE
    for byte in data:
        crc = table[crc ^ byte]
    return crc


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A frame or field that breaks the wire protocol, reported as a value.

    ``reason`` says what is wrong, ``text`` is the offending wire text, and
    ``request`` is the echoed request when a response line had a readable echo,
    so a connector can fail that pending command at once instead of letting it
    time out.
    """

    reason: str
    text: str = ""
    request: str | None = None


def normalize_hex(text: str) -> str:
    """Uppercase ``text`` and remove all whitespace, as a Controlbox receiver reads hex."""
    return "".join(text.split()).upper()


def encode_chunk(payload: bytes) -> str:
    """Return ``payload`` followed by its CRC8, as uppercase hex."""
    return (payload + bytes((crc8(payload),))).hex().upper()


def decode_hex(text: str) -> bytes | ProtocolError:
    """Return the bytes of a hex string, or a :class:`ProtocolError` if it is not hex."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return ProtocolError("not hex", text)


def decode_chunk(text: str) -> bytes | ProtocolError:
    """Return the payload of one hex chunk after checking and removing its CRC8."""
    raw = decode_hex(text)
    if isinstance(raw, ProtocolError):
        return raw
    if not raw:
        return ProtocolError("empty chunk", text)
    if crc8(raw) != 0:
        return ProtocolError("bad CRC", text)
    return raw[:-1]
