"""The controller's events: ``<!...>`` annotations such as the handshake.

The stream parser hands over an event's text without its ``<!`` and ``>``;
:func:`decode_event` turns that text into one of the typed events below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from actors.spark.protocol.codes import Errcode, ResetData, ResetReason, hex_name

HANDSHAKE_PREFIX = "BREWBLOX"
SETUP_MODE = "SETUP_MODE"
CBOX_ERROR_PREFIX = "CBOXERROR:"
FIRMWARE_UPDATER_PREFIX = "FIRMWARE_UPDATER"
_ERROR_CODE = re.compile("[0-9A-Fa-f]{1,2}")


def annotation(event_text: str) -> str:
    """Return ``event_text`` as it goes on the wire: ``<!event_text>``."""
    return f"<!{event_text}>"


@dataclass(frozen=True, slots=True)
class Handshake:
    """The controller's welcome: ``<!BREWBLOX,firmware_version,...,device_id>``.

    Sent when a connection starts and after every Noop. Old firmware sends fewer
    fields; the missing trailing ones are empty strings.
    """

    firmware_version: str = ""
    proto_version: str = ""
    firmware_date: str = ""
    proto_date: str = ""
    system_version: str = ""
    platform: str = ""
    reset_reason_hex: str = ""
    reset_data_hex: str = ""
    device_id: str = ""

    @property
    def reset_reason(self) -> str:
        """The name of the reset reason (e.g. ``DFU_MODE`` for 78), or its hex if unknown."""
        return hex_name(ResetReason, self.reset_reason_hex)

    @property
    def reset_data(self) -> str:
        """The name of the reset data (e.g. ``CBOX_RESET`` for 02), or its hex if unknown."""
        return hex_name(ResetData, self.reset_data_hex)

    def event_text(self) -> str:
        """Return the event text (without ``<!`` and ``>``), all nine fields."""
        values = (getattr(self, f.name) for f in fields(self))
        return ",".join((HANDSHAKE_PREFIX, *values))


_HANDSHAKE_FIELDS = len(fields(Handshake))


def parse_handshake(event_text: str) -> Handshake | None:
    """Read a handshake event's text; None if the text is not a handshake.

    A leading ``!`` is accepted. Fewer fields than nine (old firmware) leave the
    rest empty; more fields (newer firmware) are ignored.
    """
    name, *values = event_text.removeprefix("!").split(",")
    if name != HANDSHAKE_PREFIX:
        return None
    return Handshake(*values[:_HANDSHAKE_FIELDS])


@dataclass(frozen=True, slots=True)
class SetupMode:
    """``<!SETUP_MODE>``: the controller entered listening mode and will go silent."""

    def event_text(self) -> str:
        """Return the event text (without ``<!`` and ``>``)."""
        return SETUP_MODE


@dataclass(frozen=True, slots=True)
class CboxErrorEvent:
    """``<!CBOXERROR:XX>``: a firmware error code, XX in hex."""

    code: int

    @property
    def name(self) -> str:
        """The errcode's name, or its hex if unknown."""
        return hex_name(Errcode, f"{self.code:02X}")

    def event_text(self) -> str:
        """Return the event text (without ``<!`` and ``>``)."""
        return f"{CBOX_ERROR_PREFIX}{self.code:02X}"


@dataclass(frozen=True, slots=True)
class FirmwareUpdater:
    """``<!FIRMWARE_UPDATER,...>``: the controller is in update mode and ignores commands."""

    text: str


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """Any other event; its text is kept to be logged."""

    text: str


ControllerEvent = Handshake | SetupMode | CboxErrorEvent | FirmwareUpdater | UnknownEvent


def decode_event(event_text: str) -> ControllerEvent:
    """Classify an event's text (without ``<!`` and ``>``); never raises."""
    text = event_text.removeprefix("!")
    handshake = parse_handshake(text)
    if handshake is not None:
        return handshake
    if text == SETUP_MODE:
        return SetupMode()
    if text.startswith(FIRMWARE_UPDATER_PREFIX):
        return FirmwareUpdater(text)
    if text.startswith(CBOX_ERROR_PREFIX):
        code = text.removeprefix(CBOX_ERROR_PREFIX)
        if _ERROR_CODE.fullmatch(code):
            return CboxErrorEvent(int(code, 16))
    return UnknownEvent(text)
