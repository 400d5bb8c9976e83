"""A client of the connector's HTTP API, for operators' tools, the soak and the benchmark.

:class:`SparkClient` is a small blocking client (``http.client``, one kept-alive
connection, so a thread should have its own): JSON in and out, an answer of
400 or more raises :class:`ApiFailure` with the service's error body.
:class:`HttpCommands` runs protocol requests (``Noop``, ``ReadObject``...)
through the API with the in-process API's signature, and turns the answers
back into replies and :class:`~actors.spark.errors.SparkError` s, so the same
checks judge both paths.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any

import pykka

from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
    SparkError,
)
from actors.spark.protocol import (
    Ack,
    CreateObject,
    DeleteObject,
    Errcode,
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

DEFAULT_URL = "http://127.0.0.1:5000"

TIMEOUT_MARGIN = 1.0
"""Seconds a client waits past a request's own timeout before it gives up on the answer."""


class ApiFailure(Exception):
    """The service answered with an error: its status and JSON body (``error``, ``message``)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.error = str(body.get("error", "HTTPError"))
        super().__init__(f"{status} {self.error}: {body.get('message', '')}")


class SparkClient:
    """Calls the API at ``url`` (``http://host:port``); not shared between threads."""

    def __init__(self, url: str = DEFAULT_URL, token: str | None = None, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not an http://host:port URL: {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.token = token
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send one request; its JSON answer, or :class:`ApiFailure`.

        ``timeout`` (seconds) is passed as ``?timeout=`` and the client waits
        that plus :data:`TIMEOUT_MARGIN`; an ``OSError`` (``TimeoutError``
        included) means no answer came.
        """
        if timeout is not None:
            path += ("&" if "?" in path else "?") + f"timeout={timeout:g}"
        wait = self.timeout if timeout is None else timeout + TIMEOUT_MARGIN
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        reused = self._connection is not None
        try:
            status, raw = self._exchange(method, path, payload, headers, wait)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not (reused and method == "GET"):
                raise
            # The server closed the kept-alive connection while it was idle; a read
            # is safe to send again, once, on a fresh one.
            status, raw = self._exchange(method, path, payload, headers, wait)
        answer = json.loads(raw) if raw else None
        if status >= 400:
            raise ApiFailure(status, answer if isinstance(answer, dict) else {})
        return answer

    def _exchange(
        self, method: str, path: str, payload: bytes | None, headers: dict[str, str], wait: float
    ) -> tuple[int, bytes]:
        """One request and its answer on the kept-alive connection (opened if need be)."""
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, timeout=wait)
        connection = self._connection
        connection.timeout = wait
        if connection.sock is not None:
            connection.sock.settimeout(wait)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()  # the next request starts on a fresh connection
            raise

    def status(self) -> Any:
        """``GET /spark/status``."""
        return self.request("GET", "/spark/status")

    def ping(self, timeout: float | None = None) -> Any:
        """``POST /spark/ping``."""
        return self.request("POST", "/spark/ping", timeout=timeout)

    def blocks(self, timeout: float | None = None) -> Any:
        """``GET /spark/blocks``."""
        return self.request("GET", "/spark/blocks", timeout=timeout)

    def read(self, block: str | int, timeout: float | None = None) -> Any:
        """``GET /spark/blocks/{block}`` (a name or an id)."""
        return self.request("GET", block_path(block), timeout=timeout)

    def write(self, block: str | int, fields: dict[str, Any], timeout: float | None = None) -> Any:
        """``PUT /spark/blocks/{block}`` with ``fields`` (data, type, groups, name)."""
        return self.request("PUT", block_path(block), fields, timeout=timeout)

    def create(self, fields: dict[str, Any], timeout: float | None = None) -> Any:
        """``POST /spark/blocks``."""
        return self.request("POST", "/spark/blocks", fields, timeout=timeout)

    def delete(self, block: str | int, timeout: float | None = None) -> Any:
        """``DELETE /spark/blocks/{block}``."""
        return self.request("DELETE", block_path(block), timeout=timeout)


def block_path(block: str | int) -> str:
    """The URL path of a block, its name quoted."""
    return "/spark/blocks/" + urllib.parse.quote(str(block), safe="")


def spark_object(block: dict[str, Any]) -> SparkObject:
    """The controller object a block's JSON describes."""
    return SparkObject(
        int(block["id"]), int(block["groups"]), int(block["type"]), bytes.fromhex(block["data"])
    )


def object_fields(obj: SparkObject) -> dict[str, Any]:
    """The JSON fields that create or write ``obj``."""
    return {"type": obj.object_type, "groups": obj.groups, "data": obj.data.hex()}


_ERRORS: dict[str, type[SparkError]] = {
    "NotConnected": NotConnected,
    "ConnectionLost": ConnectionLost,
    "CommandTimeout": CommandTimeout,
    "IncompatibleFirmware": IncompatibleFirmware,
    "ProtocolFault": ProtocolFault,
}


def spark_error(failure: ApiFailure, request: Request) -> Exception:
    """The error the in-process API would have raised for ``failure``; else ``failure``."""
    errcode = failure.body.get("errcode")
    if isinstance(errcode, str) and errcode in Errcode.__members__:
        return CommandFailed(Errcode[errcode], repr(request))
    kind = _ERRORS.get(failure.error)
    return failure if kind is None else kind(str(failure.body.get("message", "")))


class HttpCommands:
    """Runs protocol requests through the HTTP API, as ``SparkConnector.execute`` does in-process.

    ``config`` is the connector's (its ``command_timeout`` is the default
    timeout). One instance per thread (it holds one connection).
    """

    def __init__(self, url: str, config: Any, token: str | None = None) -> None:
        self.config = config
        self.client = SparkClient(url, token)

    def execute(
        self, request: Request, *, block: bool = False, timeout: float | None = None
    ) -> pykka.Future[Reply | None]:
        """Run ``request``; a settled future of the reply or the error.

        No answer within the timeout plus :data:`TIMEOUT_MARGIN` settles it
        with ``pykka.Timeout`` (the request counts as unanswered).
        """
        seconds = self.config.command_timeout if timeout is None else timeout
        future: pykka.Future[Reply | None] = pykka.ThreadingFuture()
        try:
            future.set(self.call(request, seconds))
        except ApiFailure as failure:
            error = spark_error(failure, request)
            future.set_exception((type(error), error, None))
        except TimeoutError:
            lost = pykka.Timeout(f"no answer within {seconds + TIMEOUT_MARGIN} s")
            future.set_exception((pykka.Timeout, lost, None))
        except (OSError, http.client.HTTPException) as error:
            future.set_exception((type(error), error, None))
        return future

    def call(self, request: Request, timeout: float) -> Reply:
        """Send ``request`` over its route; the reply (raises ``ApiFailure``, ``OSError``)."""
        client = self.client
        match request:
            case Noop():
                client.ping(timeout)
                return Ack()
            case Reboot():
                client.request("POST", "/spark/reboot", timeout=timeout)
                return Ack()
            case ListObjects():
                return ObjectListReply(tuple(spark_object(b) for b in client.blocks(timeout)))
            case ReadObject(object_id):
                return ObjectReply(spark_object(client.read(object_id, timeout)))
            case WriteObject(obj):
                written = client.write(obj.object_id, object_fields(obj), timeout)
                return ObjectReply(spark_object(written))
            case CreateObject(obj):
                fields = {"id": obj.object_id, **object_fields(obj)}
                return ObjectReply(spark_object(client.create(fields, timeout)))
            case DeleteObject(object_id):
                client.delete(object_id, timeout)
                return Ack()
        raise ValueError(f"the HTTP API has no route for {request!r}")

    def close(self) -> None:
        """Close the connection."""
        self.client.close()
