"""The Spark connector's HTTP API: its routes and their handlers.

Built on aiohttp (the real Brewblox service's stack). :func:`build_app` makes
the ``web.Application``; :class:`~actors.spark.http_service.HttpService` runs
it on its own thread and event loop. A handler never blocks that loop:
commands go to the Commander as ``Execute`` messages whose reply lands in an
asyncio future (:class:`LoopFuture`), and what blocks (SQLite, reads of an
actor's state) runs in the service's executor.

Errors a client can act on (:mod:`actors.spark.http_errors` answers them,
:mod:`actors.spark.http_guards` adds the token and browser guards), each one
JSON body ``{"error", "message", ...}`` and one log line, never a traceback:
not synchronized within the request's timeout → 503 ``NotConnected``
(``ConnectionLost`` when the link dropped after sending); incompatible
firmware → 409; unknown block → 404; bad JSON or a wrong field → 400 naming
the ``field``; no answer in time → 504 ``CommandTimeout``; the controller
refused (an error code) → 422 ``CommandFailed`` with its ``errcode``; a broken
answer → 502; a body over :data:`MAX_BODY` → 413; a missing or wrong token on
a mutating request → 401; a request a web page of another site made a
browser send → 403.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import pykka
import structlog
from aiohttp import web

from actors.spark.blocks import (
    BadField,
    BlockFields,
    block_json,
    merged,
    new_object,
    parse_block_fields,
    parse_block_ref,
)
from actors.spark.commander import Execute
from actors.spark.connection import Close
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    NotConnected,
    ProtocolFault,
)
from actors.spark.events import EventHub, call_soon, timestamp
from actors.spark.feed import ConnectorFeed, FeedEvent, PhaseChanged
from actors.spark.http_errors import ApiError, failures
from actors.spark.http_guards import bearer_guard, browser_guard
from actors.spark.names import NameBook, NameTaken
from actors.spark.openapi import openapi
from actors.spark.phase import Phase
from actors.spark.protocol import (
    Ack,
    CreateObject,
    DeleteObject,
    Errcode,
    Handshake,
    ListObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    ReadObject,
    Reboot,
    Reply,
    Request,
    SparkObject,
    WriteObject,
)

log = structlog.get_logger("actors.spark.http")

MAX_BODY = 16 * 1024
"""The largest request body accepted (bytes); a larger one is answered 413."""

MAX_TIMEOUT = 300.0
"""The longest ``?timeout=`` a request may ask for (seconds)."""

RESPONSE_GRACE = 0.5
"""Seconds past its timeout a request waits for the Commander before answering 504."""

STATE_READ_TIMEOUT = 2.0
"""Seconds to wait for an actor's state when building the status."""

KEEPALIVE = 15.0
"""Seconds between comment lines on an idle event stream (they also notice gone clients)."""

_T = TypeVar("_T")


class LoopFuture(pykka.Future[Any]):
    """A pykka future the Commander answers, which settles an asyncio future on its loop.

    ``set`` and ``set_exception`` are called in the Commander's thread; they
    only schedule the result onto the loop, so neither side waits.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, target: asyncio.Future[Any]) -> None:
        super().__init__()
        self._loop = loop
        self._target = target

    def set(self, value: Any = None) -> None:
        self._loop.call_soon_threadsafe(self._settle, value, None)

    def set_exception(self, exc_info: Any = None) -> None:
        error = exc_info[1] if exc_info is not None else RuntimeError("no exception given")
        self._loop.call_soon_threadsafe(self._settle, None, error)

    def _settle(self, value: Any, error: BaseException | None) -> None:
        if self._target.done():
            return  # the request gave up waiting already
        if error is None:
            self._target.set_result(value)
        else:
            self._target.set_exception(error)


def _expire(answer: asyncio.Future[Any], timeout: float) -> None:
    """The request's own deadline: no answer from the Commander in time."""
    if not answer.done():
        answer.set_exception(CommandTimeout(f"no answer within {timeout} s; it may have run"))


def request_timeout(request: web.Request, default: float) -> float:
    """The request's ``?timeout=`` in seconds, or ``default``."""
    text = request.query.get("timeout")
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadField("timeout", f"not a number of seconds: {text!r}") from None
    if not 0 < value <= MAX_TIMEOUT:
        raise BadField("timeout", f"must be > 0 and <= {MAX_TIMEOUT} seconds, not {text}")
    return value


async def json_body(request: web.Request) -> Any:
    """The request's JSON body; :class:`BadField` ``body`` if there is none or it is not JSON."""
    raw = await request.read()
    if not raw:
        raise BadField("body", "a JSON body is required")
    try:
        return json.loads(raw)
    except ValueError as error:
        raise BadField("body", f"not valid JSON: {error}") from None


def expect(reply: Reply | None, kind: type[_T]) -> _T:
    """``reply`` if it is a ``kind``; otherwise the controller answered out of protocol."""
    if not isinstance(reply, kind):
        raise ProtocolFault(f"expected {kind.__name__}, the controller answered {reply!r}")
    return reply


class SparkApi:
    """The handlers: one running connector, reached by messages and executor calls."""

    def __init__(self, connector: Any, feed: ConnectorFeed, executor: Executor) -> None:
        self.config = connector.config
        self.connector = connector
        self.feed = feed
        self.executor = executor
        self.names = NameBook(connector.datastore)
        refs = connector.refs
        self._commander = refs["commander"]
        self._connection = refs["connection"]
        self._synchronizer = refs["synchronizer"]
        self._device: str | None = None
        self._synchronized = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.hub = EventHub(self._loop, self.cached_names)
        self._phase_now(feed.add_listener(self._follow))
        feed.add_listener(self.hub.listener)

    # ----------------------------------------------------------- plumbing

    def _follow(self, event: FeedEvent) -> None:
        """The feed's listener (its thread): pass phase changes to the loop."""
        if isinstance(event, PhaseChanged):
            call_soon(self._loop, self._phase_now, event)

    def _phase_now(self, event: PhaseChanged) -> None:
        if event.new is Phase.SYNCHRONIZED:
            self._synchronized.set()
        else:
            self._synchronized.clear()
            if event.new is Phase.DISCONNECTED:
                self._device = None  # the next link may be another controller

    def detach(self) -> None:
        """Stop listening to the feed and end the event streams (the server is stopping)."""
        self.feed.remove_listener(self._follow)
        self.feed.remove_listener(self.hub.listener)
        self.hub.close_all()

    async def blocking(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run ``function`` in the executor (it may block), not on the loop."""
        return await self._loop.run_in_executor(self.executor, function, *args)

    async def run(self, request: Request, timeout: float, *, block: int | None = None) -> Any:
        """Run ``request`` through the Commander; its reply, or the failure as an ApiError.

        The Commander waits up to ``timeout`` for SYNCHRONIZED and as long for
        the answer; this request waits ``timeout`` plus :data:`RESPONSE_GRACE`
        in all and then answers 504. ``block`` is the id the command is about:
        the controller not knowing it is a 404.
        """
        answer: asyncio.Future[Reply | None] = self._loop.create_future()
        self._commander.tell(Execute(request, LoopFuture(self._loop, answer), timeout))
        expiry = self._loop.call_later(timeout + RESPONSE_GRACE, _expire, answer, timeout)
        try:
            return await answer
        except CommandFailed as error:
            if block is not None and error.errcode is Errcode.INVALID_OBJECT_ID:
                raise ApiError(
                    404,
                    "UnknownBlock",
                    f"the controller has no block {block}",
                    errcode=error.errcode.name,
                ) from None
            raise
        finally:
            expiry.cancel()

    async def device_id(self, timeout: float) -> str:
        """The controller's device id (names are kept per device); waits for SYNCHRONIZED."""
        if self.config.device_id:
            return str(self.config.device_id).lower()
        while self._device is None:
            if not self._synchronized.is_set():
                try:
                    await asyncio.wait_for(self._synchronized.wait(), timeout)
                except TimeoutError:
                    raise NotConnected(f"not synchronized within {timeout} s") from None
            handshake = await self.blocking(self._handshake)
            if handshake is not None:
                self._device = handshake.device_id.lower()
        return self._device

    def cached_names(self) -> dict[int, str]:
        """The current controller's block names if known (never blocks; for events)."""
        device = self.config.device_id or self._device
        return (self.names.cached(device) if device else None) or {}

    async def current_names(self, timeout: float) -> dict[int, str]:
        """The current controller's block names (the first time: once it is synchronized)."""
        device = self.config.device_id or self._device
        cached = self.names.cached(device) if device else None
        if cached is not None:
            return cached
        return await self.blocking(self.names.names, await self.device_id(timeout))

    async def object_id(self, text: str, timeout: float) -> int:
        """The id of the block ``text`` names (an id or a name); 404 for an unknown name."""
        ref = parse_block_ref(text)
        if isinstance(ref, int):
            return ref
        for object_id, name in (await self.current_names(timeout)).items():
            if name == ref:
                return object_id
        raise ApiError(404, "UnknownBlock", f"no block is called {ref!r}")

    async def block(self, obj: SparkObject, timeout: float) -> dict[str, Any]:
        """The JSON of ``obj`` with its name."""
        names = await self.current_names(timeout)
        return block_json(obj, names.get(obj.object_id))

    def _handshake(self) -> Handshake | None:
        data = self._synchronizer.proxy().state_data.get(timeout=STATE_READ_TIMEOUT)
        handshake: Handshake | None = getattr(data, "handshake", None)
        return handshake

    def _status_parts(self) -> tuple[Handshake | None, str | None, str, bool]:
        """What the status needs from the actors and the datastore (blocking)."""
        handshake = self._handshake()
        connection = self._connection.proxy()
        url: str | None = connection.state_data.get(timeout=STATE_READ_TIMEOUT).url
        state = connection.state_name.get(timeout=STATE_READ_TIMEOUT)
        return handshake, url, state.name, self.connector.datastore.autoconnecting

    # ----------------------------------------------------------- routes

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi())

    async def get_status(self, request: web.Request) -> web.Response:
        current = self.feed.current()
        try:
            handshake, url, link, autoconnecting = await self.blocking(self._status_parts)
        except pykka.Timeout:
            raise ApiError(503, "Busy", "the connector's actors did not answer in time") from None
        controller = None
        if handshake is not None:
            controller = {
                "firmware_version": handshake.firmware_version,
                "proto_version": handshake.proto_version,
                "firmware_date": handshake.firmware_date,
                "proto_date": handshake.proto_date,
                "system_version": handshake.system_version,
                "platform": handshake.platform,
                "device_id": handshake.device_id,
                "reset_reason": handshake.reset_reason,
                "reset_data": handshake.reset_data,
            }
        address = url or self.config.device_url
        return web.json_response(
            {
                "phase": current.new.name,
                "since": timestamp(current.at),
                "in_phase_s": round(time.time() - current.at, 3),
                "autoconnecting": autoconnecting,
                "connection": {
                    "kind": connection_kind(address),
                    "address": address or self.connector.target,
                    "state": link,
                },
                "controller": controller,
                "service": {
                    "proto_version": self.config.proto_version,
                    "device_id": self.config.device_id or None,
                },
            }
        )

    async def post_ping(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        started = time.monotonic()
        expect(await self.run(Noop(), timeout), Ack)
        elapsed = round((time.monotonic() - started) * 1000, 3)
        return web.json_response({"ok": True, "round_trip_ms": elapsed})

    async def post_reconnect(self, request: web.Request) -> web.Response:
        self._connection.tell(Close("reconnect requested over HTTP"))
        log.info("reconnect_requested")
        return web.json_response({"reconnecting": True}, status=202)

    async def post_reboot(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        expect(await self.run(Reboot(), timeout), Ack)
        log.info("reboot_requested")
        return web.json_response({"rebooting": True}, status=202)

    async def get_autoconnecting(self, request: web.Request) -> web.Response:
        enabled = await self.blocking(lambda: self.connector.datastore.autoconnecting)
        return web.json_response({"enabled": enabled})

    async def put_autoconnecting(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        enabled = body.get("enabled") if isinstance(body, dict) else None
        if not isinstance(enabled, bool):
            raise BadField("enabled", "must be true or false")
        self.connector.set_autoconnecting(enabled)
        return web.json_response({"enabled": enabled})

    async def get_blocks(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        reply = expect(await self.run(ListObjects(), timeout), ObjectListReply)
        names = await self.current_names(timeout)
        return web.json_response(
            [block_json(obj, names.get(obj.object_id)) for obj in reply.objects]
        )

    async def post_block(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        fields = parse_block_fields(await json_body(request))
        obj = new_object(fields)
        if fields.name is not None:
            device = await self.device_id(timeout)
            owner = await self.blocking(self.names.id_of, device, fields.name)
            if owner is not None:
                raise NameTaken(fields.name, owner)
        try:
            reply = expect(await self.run(CreateObject(obj), timeout), ObjectReply)
        except CommandFailed as error:
            if error.errcode is not Errcode.INVALID_OBJECT_ID:
                raise
            raise ApiError(
                409,
                "BlockExists",
                f"the controller has a block {obj.object_id} already",
                errcode=error.errcode.name,
            ) from None
        return web.json_response(await self.named(reply.obj, fields, timeout), status=201)

    async def get_block(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        object_id = await self.object_id(request.match_info["id"], timeout)
        reply = expect(await self.run(ReadObject(object_id), timeout, block=object_id), ObjectReply)
        return web.json_response(await self.block(reply.obj, timeout))

    async def put_block(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        fields = parse_block_fields(await json_body(request))
        object_id = await self.object_id(request.match_info["id"], timeout)
        if fields.object_id is not None and fields.object_id != object_id:
            raise BadField("id", "a block's id cannot change")
        changes = (fields.object_type, fields.groups, fields.data)
        if None in changes:  # the rest is as the controller has it
            read = await self.run(ReadObject(object_id), timeout, block=object_id)
            current = expect(read, ObjectReply).obj
        else:
            current = SparkObject(object_id, 0, 0)
        obj = current
        if changes != (None, None, None):
            write = WriteObject(merged(current, fields))
            obj = expect(await self.run(write, timeout, block=object_id), ObjectReply).obj
        return web.json_response(await self.named(obj, fields, timeout))

    async def delete_block(self, request: web.Request) -> web.Response:
        timeout = request_timeout(request, self.config.command_timeout)
        object_id = await self.object_id(request.match_info["id"], timeout)
        expect(await self.run(DeleteObject(object_id), timeout, block=object_id), Ack)
        await self.blocking(self.names.forget, await self.device_id(timeout), object_id)
        return web.json_response({"deleted": object_id})

    async def named(self, obj: SparkObject, fields: BlockFields, timeout: float) -> dict[str, Any]:
        """Give ``obj`` the name ``fields`` asks for (if any); its JSON."""
        if fields.name is not None:
            device = await self.device_id(timeout)
            await self.blocking(self.names.rename, device, obj.object_id, fields.name)
        return await self.block(obj, timeout)

    async def get_events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue = self.hub.open()
        try:
            await response.write(self.hub.message(self.feed.current()))
            if self.feed.blocks is not None:
                await response.write(self.hub.message(self.feed.blocks))
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if message is None:
                    break
                await response.write(message)
        except (ConnectionResetError, ConnectionError):
            pass  # the client left
        finally:
            self.hub.close(queue)
        return response


def connection_kind(address: str | None) -> str:
    """``tcp`` for ``socket://`` URLs, ``serial`` for device paths, ``discovery`` before one."""
    if address is None:
        return "discovery"
    return "tcp" if address.startswith("socket://") else "serial"


def build_app(api: SparkApi, token: str | None = None, loopback: bool = True) -> web.Application:
    """The application: the routes of :class:`SparkApi`, errors as JSON, the browser and
    token guards (``loopback``: the service listens on loopback only)."""
    middlewares = [failures, browser_guard(loopback)]
    if token:
        middlewares.append(bearer_guard(token))
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    app.add_routes(
        [
            web.get("/openapi.json", api.get_openapi),
            web.get("/spark/status", api.get_status),
            web.post("/spark/ping", api.post_ping),
            web.post("/spark/reconnect", api.post_reconnect),
            web.post("/spark/reboot", api.post_reboot),
            web.get("/spark/autoconnecting", api.get_autoconnecting),
            web.put("/spark/autoconnecting", api.put_autoconnecting),
            web.get("/spark/blocks", api.get_blocks),
            web.post("/spark/blocks", api.post_block),
            web.get("/spark/blocks/{id}", api.get_block),
            web.put("/spark/blocks/{id}", api.put_block),
            web.delete("/spark/blocks/{id}", api.delete_block),
            web.get("/spark/events", api.get_events),
        ]
    )
    return app


__all__ = ["LoopFuture", "SparkApi", "build_app"]
