"""How the HTTP API answers a failure: one JSON body a client can act on and one log line.

:class:`ApiError` is a failure as the client sees it (status, error name,
sentence, extra fields); :func:`spark_problem` maps the connector's
:class:`~actors.spark.errors.SparkError` s onto it; :func:`failures` is the
middleware that answers every failure so, never with a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from actors.spark.blocks import BadField
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
    SparkError,
)
from actors.spark.names import NameTaken

log = structlog.get_logger("actors.spark.http")


class ApiError(Exception):
    """A failure as the client sees it: the HTTP status, an error name, a sentence, extras."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The response's JSON."""
        return {"error": self.error, "message": self.message, **self.extra}


def spark_problem(error: SparkError) -> ApiError:
    """The answer to a command that failed with ``error``."""
    match error:
        case IncompatibleFirmware():
            return ApiError(409, "IncompatibleFirmware", str(error))
        case ConnectionLost():
            return ApiError(503, "ConnectionLost", str(error))
        case NotConnected():
            return ApiError(503, "NotConnected", str(error))
        case CommandTimeout():
            return ApiError(504, "CommandTimeout", str(error))
        case CommandFailed(errcode=errcode):
            return ApiError(422, "CommandFailed", str(error), errcode=errcode.name)
        case ProtocolFault():
            return ApiError(502, "ProtocolFault", str(error))
    return ApiError(502, type(error).__name__, str(error))


@web.middleware
async def failures(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The middleware that turns every failure into a JSON answer and one log line."""
    try:
        return await handler(request)
    except ApiError as error:
        problem = error
    except BadField as error:
        problem = ApiError(400, "BadRequest", error.message, field=error.field)
    except NameTaken as error:
        problem = ApiError(409, "NameTaken", str(error), field="name")
    except SparkError as error:
        problem = spark_problem(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        problem = ApiError(error.status, error.reason.replace(" ", ""), error.reason)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("http_internal_error", method=request.method, path=request.path)
        return web.json_response(
            {"error": "InternalError", "message": "the service failed; see its log"},
            status=500,
        )
    # One line per failed request, at info: the connector's actors already warn
    # (once per streak) about what made the controller unreachable.
    log.info(
        "http_error",
        method=request.method,
        path=request.path,
        status=problem.status,
        error=problem.error,
        message=problem.message,
    )
    return web.json_response(problem.body(), status=problem.status)
