"""The HTTP API's guards: the token on mutating requests, and the refusal of what another
site's web page could make a browser send."""

from __future__ import annotations

import hmac
import ipaddress
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from actors.spark.http_errors import ApiError

MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def bearer_guard(token: str) -> Any:
    """The middleware that lets a mutating request through only with ``Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method in MUTATING:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise ApiError(401, "Unauthorized", "this request needs 'Authorization: Bearer'")
        return await handler(request)

    return middleware


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse (``ValueError``) to serve beyond loopback without a token: anything that changes
    the controller over the network must need one."""
    if not token and not is_loopback(host):
        msg = (
            f"the HTTP API on {host} would be reachable from the network: "
            "give it a token (--token or $SPARK_CONNECTOR_TOKEN), or listen on 127.0.0.1"
        )
        raise ValueError(msg)


def browser_guard(loopback: bool) -> Any:
    """The middleware that refuses what a web page could make a browser send.

    A mutating request whose ``Origin`` is another site (cross-site request
    forgery: a page posting to the service) is refused, and, when the service
    listens on loopback only, so is a request whose ``Host`` is not a loopback
    name (DNS rebinding: a page whose name now points at 127.0.0.1).
    """

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        host = urllib.parse.urlsplit("//" + request.host).hostname or ""
        if loopback and not is_loopback(host):
            raise ApiError(403, "Forbidden", f"this service answers loopback names, not {host!r}")
        origin = request.headers.get("Origin")
        foreign = origin is not None and urllib.parse.urlsplit(origin).netloc != request.host
        if request.method in MUTATING and foreign:
            raise ApiError(403, "Forbidden", f"a request from {origin!r} may not change state")
        return await handler(request)

    return middleware
