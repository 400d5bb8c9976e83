"""Live events for the service's clients: the feed's news as JSON, fanned out to SSE streams.

:func:`phase_payload` and :func:`blocks_payload` are the JSON both the HTTP
events and MQTT publish. An :class:`EventHub` lives on the HTTP server's event
loop: the feed's listener hands each event over with ``call_soon_threadsafe``
(the feed's thread never waits), the hub encodes it once and puts it on every
open stream's bounded queue. A client too slow to keep up is dropped (its
stream ends, logged once) rather than let its queue grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
from collections.abc import Callable
from typing import Any

import structlog

from actors.spark.blocks import block_json
from actors.spark.feed import BlocksRead, FeedEvent, PhaseChanged

log = structlog.get_logger("actors.spark.events")

QUEUE_SIZE = 256
"""Events a stream may have waiting before its client counts as too slow."""

Names = Callable[[], dict[int, str]]
"""Gives the block names to show with broadcast values (never blocks)."""


def call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any], *args: Any) -> None:
    """Run ``callback(*args)`` on ``loop`` soon (from any thread); nothing once it has closed."""
    with contextlib.suppress(RuntimeError):  # the loop has closed: the server is stopping
        loop.call_soon_threadsafe(callback, *args)


def timestamp(at: float) -> str:
    """``at`` (epoch seconds) in ISO 8601, UTC."""
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="milliseconds")


def phase_payload(event: PhaseChanged) -> dict[str, Any]:
    """The JSON of a phase change."""
    return {
        "phase": event.new.name,
        "old": None if event.old is None else event.old.name,
        "at": timestamp(event.at),
    }


def blocks_payload(event: BlocksRead, names: dict[int, str]) -> dict[str, Any]:
    """The JSON of a broadcast: every block as read, with its name."""
    return {
        "at": timestamp(event.at),
        "blocks": [block_json(obj, names.get(obj.object_id)) for obj in event.objects],
    }


def sse_message(event: FeedEvent, names: Names) -> bytes:
    """One server-sent event: ``event: phase`` or ``event: blocks``, its JSON as data."""
    if isinstance(event, PhaseChanged):
        kind, payload = "phase", phase_payload(event)
    else:
        kind, payload = "blocks", blocks_payload(event, names())
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n".encode()


class EventHub:
    """The open event streams of one server; lives on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, names: Names) -> None:
        self._loop = loop
        self._names = names
        self._streams: set[asyncio.Queue[bytes | None]] = set()

    def listener(self, event: FeedEvent) -> None:
        """The feed's listener: hand ``event`` to the loop (called in the feed's thread)."""
        if self._streams:
            call_soon(self._loop, self._fan_out, event)

    def open(self) -> asyncio.Queue[bytes | None]:
        """A new stream's queue (None on it means: end the stream)."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_SIZE)
        self._streams.add(queue)
        return queue

    def close(self, queue: asyncio.Queue[bytes | None]) -> None:
        """Forget a stream (its client left)."""
        self._streams.discard(queue)

    def close_all(self) -> None:
        """End every stream (the server is stopping)."""
        for queue in list(self._streams):
            self._end(queue)
        self._streams.clear()

    def message(self, event: FeedEvent) -> bytes:
        """``event`` as a server-sent event."""
        return sse_message(event, self._names)

    def _fan_out(self, event: FeedEvent) -> None:
        if not self._streams:
            return
        message = self.message(event)
        for queue in list(self._streams):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("events_client_too_slow", waiting=queue.qsize())
                self._streams.discard(queue)
                self._end(queue)

    @staticmethod
    def _end(queue: asyncio.Queue[bytes | None]) -> None:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
