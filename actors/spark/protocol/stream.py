"""The incremental parser that splits the controller's text stream into annotations and data.

Annotations are ``<...>``; they may appear anywhere, also inside a data line, and
may nest: the innermost one is taken out first, so each is reported when its
``>`` arrives, in stream order. An annotation whose text starts with ``!`` is an
event, any other is a firmware log line. What remains is data, split on ``\\n``,
trailing whitespace stripped, empty lines dropped. Events and data may span
chunks; the items depend only on the stream, never on how it was cut.

Rules for malformed input (the parser's contract, checked by property tests):

- A ``>`` with no open ``<`` is a data character.
- A ``\\n`` ends the line: annotations still open at that point were never
  closed, so their text, ``<`` included, stays in the data line (which then
  fails to decode and is reported as a protocol error instead of vanishing).
- Nothing ever raises: bytes are read as Latin-1 (one character per byte), so
  any byte is a character.
- Memory is bounded: at most ``max_buffer`` characters (default 64 KiB) of the
  current line and its open annotations are held. One more drops them all,
  yields one :class:`BufferOverflow` (its owner reports it: a flood of long
  lines is summarised there, not logged line by line), and everything up to
  the next ``\\n`` is discarded; parsing resumes after it.
- Bytes lost in the stream (:meth:`StreamParser.resync`): what was held is
  dropped, and so is what follows up to the next ``<`` or ``\\n``, whichever
  comes first: parsing resumes at that annotation, or after that newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain

MAX_BUFFER = 64 * 1024
"""Characters the parser holds before it drops an unterminated line."""

_SPECIAL = re.compile("[<>\n]")
_RESUME = re.compile("[<\n]")
_ASCII_WHITESPACE = " \t\r\n\x0b\x0c"


@dataclass(frozen=True, slots=True)
class EventAnnotation:
    """An event ``<!text>``; ``text`` is without the ``!`` (see ``decode_event``)."""

    text: str


@dataclass(frozen=True, slots=True)
class LogAnnotation:
    """A firmware log annotation such as ``<INFO: ...>``; log it at debug level."""

    text: str


@dataclass(frozen=True, slots=True)
class DataLine:
    """A data line with annotations removed; normally a response (``decode_response``)."""

    text: str


@dataclass(frozen=True, slots=True)
class BufferOverflow:
    """The current line outgrew ``limit`` characters and was dropped up to the next ``\\n``."""

    limit: int


ParsedItem = EventAnnotation | LogAnnotation | DataLine | BufferOverflow


class StreamParser:
    """Turns chunks of the controller's stream into :data:`ParsedItem` values.

    Not thread-safe: one reader (or the one actor that owns it) feeds it.
    """

    def __init__(self, max_buffer: int = MAX_BUFFER) -> None:
        if max_buffer < 1:
            raise ValueError("max_buffer must be positive")
        self._max = max_buffer
        # Level 0 holds the data line; each open annotation adds a level whose
        # first fragment is its "<".
        self._levels: list[list[str]] = [[]]
        self._sizes: list[int] = [0]
        self._size = 0
        self._discarding = False
        self._resyncing = False

    @property
    def max_buffer(self) -> int:
        """The most characters the parser holds."""
        return self._max

    @property
    def buffered(self) -> int:
        """Characters held now: the unfinished line and its open annotations."""
        return self._size

    def feed(self, chunk: str | bytes) -> list[ParsedItem]:
        """Parse one chunk; return the items it completed, in stream order."""
        text = chunk.decode("latin-1") if isinstance(chunk, bytes) else chunk
        if self._resyncing:
            resume = _RESUME.search(text)
            if resume is None:
                return []
            self._resyncing = False
            text = text[resume.end() if resume.group() == "\n" else resume.start() :]
        items: list[ParsedItem] = []
        start = 0
        for match in _SPECIAL.finditer(text):
            end = match.start()
            if end > start:
                self._hold(text[start:end], items)
            self._special(text[end], items)
            start = end + 1
        if start < len(text):
            self._hold(text[start:], items)
        return items

    def _hold(self, fragment: str, items: list[ParsedItem]) -> None:
        if self._discarding:
            return
        if self._size + len(fragment) > self._max:
            self._overflow(items)
            return
        self._levels[-1].append(fragment)
        self._sizes[-1] += len(fragment)
        self._size += len(fragment)

    def _special(self, char: str, items: list[ParsedItem]) -> None:
        if char == "\n":
            if not self._discarding:
                line = "".join(chain.from_iterable(self._levels)).rstrip(_ASCII_WHITESPACE)
                if line:
                    items.append(DataLine(line))
            self._reset()
        elif self._discarding:
            return
        elif char == "<":
            if self._size >= self._max:
                self._overflow(items)
                return
            self._levels.append(["<"])
            self._sizes.append(1)
            self._size += 1
        elif len(self._levels) > 1:
            text = "".join(self._levels.pop())[1:]
            self._size -= self._sizes.pop()
            if text.startswith("!"):
                items.append(EventAnnotation(text[1:]))
            else:
                items.append(LogAnnotation(text))
        else:
            self._hold(">", items)

    def resync(self) -> None:
        """Bytes were lost before the next chunk: drop what is held, resume at the next
        ``<`` or after the next ``\\n``."""
        self._reset()
        self._resyncing = True

    def _overflow(self, items: list[ParsedItem]) -> None:
        items.append(BufferOverflow(self._max))
        self._reset()
        self._discarding = True

    def _reset(self) -> None:
        self._levels = [[]]
        self._sizes = [0]
        self._size = 0
        self._discarding = False
