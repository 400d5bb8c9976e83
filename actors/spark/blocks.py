"""Blocks as the service shows them: controller objects with names, to and from JSON.

A block is a controller object (:class:`~actors.spark.protocol.SparkObject`)
plus the name the datastore keeps for it. In JSON it is ``{"id", "name",
"type", "groups", "data"}`` with ``data`` in hex. Everything that comes from a
client is checked here and a wrong value raises :class:`BadField`, which names
the field, so the client knows what to fix and nothing reaches the controller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from actors.spark.protocol import SparkObject

NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\- ]{0,62}[A-Za-z0-9_.\-]|[A-Za-z_]")
"""A block name: 1-64 characters, letters, digits, ``_ . -`` and inner spaces; it starts
with a letter or ``_`` (so it never reads as an id) and holds no ``/``."""

MAX_DATA_BYTES = 2048
"""The most data bytes a block written through the service may hold."""

U16 = 0xFFFF


class BadField(ValueError):
    """A value from a client is wrong; ``field`` names it (``body`` for the whole body)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class BlockFields:
    """What a create or write asks for; None leaves a field as the controller has it."""

    object_id: int | None = None
    object_type: int | None = None
    groups: int | None = None
    data: bytes | None = None
    name: str | None = None


def block_json(obj: SparkObject, name: str | None) -> dict[str, Any]:
    """The JSON of a block."""
    return {
        "id": obj.object_id,
        "name": name,
        "type": obj.object_type,
        "groups": obj.groups,
        "data": obj.data.hex(),
    }


def check_name(name: Any, field: str = "name") -> str:
    """Return ``name`` if it is a valid block name; else :class:`BadField`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadField(
            field,
            "a name is 1-64 letters, digits, '_', '.', '-' or inner spaces, "
            "starting with a letter or '_'",
        )
    return name


def parse_block_ref(text: str) -> int | str:
    """A block's id (digits, 0-65535) or its name, as the URL gives it."""
    if text.isdigit():
        value = int(text)
        if value > U16:
            raise BadField("id", f"an id is 0-{U16}, not {value}")
        return value
    return check_name(text, "id")


def _integer(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadField(field, f"must be a whole number {low}-{high}, not {value!r}")
    return value


def _data(body: dict[str, Any]) -> bytes | None:
    value = body.get("data")
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadField("data", "must be a string of hex digits")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise BadField("data", "must be an even number of hex digits") from None
    if len(raw) > MAX_DATA_BYTES:
        raise BadField("data", f"at most {MAX_DATA_BYTES} bytes, not {len(raw)}")
    return raw


KNOWN_FIELDS = frozenset({"id", "name", "type", "groups", "data"})


def parse_block_fields(body: Any) -> BlockFields:
    """Read a create or write body (a JSON object); unknown fields are refused."""
    if not isinstance(body, dict):
        raise BadField("body", "must be a JSON object")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise BadField(unknown[0], f"unknown field; known: {', '.join(sorted(KNOWN_FIELDS))}")
    name = body.get("name")
    return BlockFields(
        object_id=_integer(body, "id", 0, U16),
        object_type=_integer(body, "type", 1, U16),
        groups=_integer(body, "groups", 0, 0xFF),
        data=_data(body),
        name=None if name is None else check_name(name),
    )


def merged(obj: SparkObject, fields: BlockFields) -> SparkObject:
    """``obj`` with what ``fields`` sets."""
    return SparkObject(
        obj.object_id,
        obj.groups if fields.groups is None else fields.groups,
        obj.object_type if fields.object_type is None else fields.object_type,
        obj.data if fields.data is None else fields.data,
    )


def new_object(fields: BlockFields) -> SparkObject:
    """The object a create asks for (``type`` is required; id 0 lets the controller choose)."""
    if fields.object_type is None:
        raise BadField("type", "required to create a block")
    return SparkObject(
        fields.object_id or 0,
        1 if fields.groups is None else fields.groups,
        fields.object_type,
        fields.data or b"",
    )
