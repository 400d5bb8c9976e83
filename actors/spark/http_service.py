"""Running the HTTP API: an aiohttp server on its own thread and event loop.

``HttpService.start(connector, feed, host, port)`` binds (port 0: any free
port, see :attr:`HttpService.port`), serves until :meth:`HttpService.stop`,
and raises ``OSError`` at once if it cannot bind. Blocking work of the
handlers runs in a small executor owned by the service. Stopping ends the
event streams, closes the listening socket, waits (bounded) for requests in
flight and joins the thread and the executor, so nothing outlives it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from aiohttp import web

from actors.spark.feed import ConnectorFeed
from actors.spark.http_api import SparkApi, build_app
from actors.spark.http_guards import is_loopback

log = structlog.get_logger("actors.spark.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000

START_TIMEOUT = 10.0
"""Seconds ``start`` waits for the server to bind."""

STOP_TIMEOUT = 5.0
"""Seconds ``stop`` waits for requests in flight and for the thread."""

EXECUTOR_THREADS = 4
"""Threads for the handlers' blocking work (SQLite, reads of actor state)."""


def parse_listen(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a pair, or None for ``off``; else ValueError."""
    if text == "off":
        return None
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or int(port) > 0xFFFF:
        raise ValueError(f"not HOST:PORT or 'off': {text!r}")
    return host, int(port)


def _started_pool(threads: int) -> ThreadPoolExecutor:
    """A pool whose threads all run from the start, so their number stays flat while serving."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="spark-http-io")
    everyone = threading.Barrier(threads)
    for waiting in [pool.submit(everyone.wait) for _ in range(threads)]:
        waiting.result()
    return pool


class HttpService:
    """The HTTP API of one connector, served on its own thread."""

    def __init__(self, connector: Any, feed: ConnectorFeed, token: str | None) -> None:
        self._connector = connector
        self._feed = feed
        self._token = token
        self._loop = asyncio.new_event_loop()
        self._executor = _started_pool(EXECUTOR_THREADS)
        self._thread = threading.Thread(target=self._serve, name="spark-http", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._api: SparkApi | None = None
        self.host = DEFAULT_HOST
        self.port = 0
        """The port it listens on (the one chosen when asked for 0)."""

    @classmethod
    def start(
        cls,
        connector: Any,
        feed: ConnectorFeed,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
    ) -> HttpService:
        """Serve the API on ``host:port``; ``OSError`` if it cannot bind. Beyond loopback there
        is a ``token``: :class:`~actors.spark.service.ServiceOptions` refuses it otherwise."""
        service = cls(connector, feed, token)
        service.host = host
        service.port = port
        service._thread.start()
        if not service._ready.wait(START_TIMEOUT):
            service.stop()
            raise OSError(f"the HTTP server did not start within {START_TIMEOUT} s")
        if service._failure is not None:
            service._thread.join(STOP_TIMEOUT)
            service._executor.shutdown(wait=True)
            raise service._failure
        log.info(
            "http_listening",
            host=service.host,
            port=service.port,
            url=service.url,
            token_required=bool(token),
        )
        return service

    def names(self) -> dict[int, str]:
        """The current controller's block names as the API knows them (never blocks)."""
        return self._api.cached_names() if self._api is not None else {}

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._bind())
        except BaseException as error:
            self._failure = error
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
            self._loop.close()

    async def _bind(self) -> None:
        self._api = SparkApi(self._connector, self._feed, self._executor)
        app = build_app(self._api, self._token, loopback=is_loopback(self.host))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=STOP_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            self._api.detach()
            await self._runner.cleanup()
            raise
        sockets = [s for s in self._runner.addresses if isinstance(s, tuple)]
        if sockets:
            self.port = int(sockets[0][1])

    async def _close(self) -> None:
        if self._api is not None:
            self._api.detach()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving; join the thread and the executor."""
        if self._thread.is_alive() and not self._loop.is_closed():
            closing = asyncio.run_coroutine_threadsafe(self._close(), self._loop)
            try:
                closing.result(STOP_TIMEOUT * 2)
            except Exception as error:  # a stop must finish; say what went wrong once
                log.warning("http_stop_failed", error=repr(error))
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT)
        self._executor.shutdown(wait=True)
        log.info("http_stopped", url=self.url)
