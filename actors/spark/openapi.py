"""The OpenAPI 3.1 description of the Spark connector's HTTP API (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

_ERRORS = {
    "400": "bad JSON or a wrong field (``field`` names it)",
    "401": "a mutating request without the service's Bearer token",
    "403": "a mutating request from another site's page, or a non-loopback Host on loopback",
    "404": "unknown block (name or id)",
    "409": "incompatible firmware, a block or name that exists already",
    "413": "request body too large",
    "422": "the controller refused the command (``errcode``)",
    "502": "the controller's answer broke the protocol",
    "503": "not synchronized within the request's timeout (NotConnected, ConnectionLost)",
    "504": "no answer within the request's timeout (CommandTimeout)",
}

_TIMEOUT = {
    "name": "timeout",
    "in": "query",
    "required": False,
    "description": "seconds to wait for SYNCHRONIZED and for the answer (default: the "
    "connector's command timeout)",
    "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
}

_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the block's name (from the datastore) or its numeric id",
    "schema": {"type": "string"},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(
    summary: str,
    answer: dict[str, Any],
    *,
    status: str = "200",
    body: str | None = None,
    params: tuple[dict[str, Any], ...] = (_TIMEOUT,),
    errors: tuple[str, ...] = ("400", "409", "503", "504"),
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": list(params),
        "responses": {
            status: answer,
            **{code: _json(_ref("Error"), _ERRORS[code]) for code in errors},
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


_BLOCK_ERRORS = ("400", "401", "403", "404", "409", "422", "503", "504")

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "examples": ["NotConnected"]},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "errcode": {"type": "string"},
        },
    },
    "Block": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 0, "maximum": 65535},
            "name": {"type": ["string", "null"], "maxLength": 64},
            "type": {"type": "integer", "minimum": 1, "maximum": 65535},
            "groups": {"type": "integer", "minimum": 0, "maximum": 255},
            "data": {"type": "string", "description": "hex", "maxLength": 4096},
        },
    },
    "Status": {
        "type": "object",
        "properties": {
            "phase": {
                "enum": ["DISCONNECTED", "CONNECTED", "ACKNOWLEDGED", "SYNCHRONIZED"],
            },
            "since": {"type": "string", "format": "date-time"},
            "in_phase_s": {"type": "number"},
            "autoconnecting": {"type": "boolean"},
            "connection": {"type": "object"},
            "controller": {"type": ["object", "null"]},
            "service": {"type": "object"},
        },
    },
    "Autoconnecting": {
        "type": "object",
        "required": ["enabled"],
        "properties": {"enabled": {"type": "boolean"}},
    },
}


def openapi() -> dict[str, Any]:
    """The description, as a JSON-ready dict."""
    block = _json(_ref("Block"))
    plain = _json({"type": "object"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Spark connector",
            "version": "1",
            "description": "Status, commands, blocks and live events of one Spark controller. "
            "Mutating requests need 'Authorization: Bearer <token>' when the service has one.",
        },
        "paths": {
            "/spark/status": {
                "get": _operation(
                    "phase, controller info, connection, autoconnecting",
                    _json(_ref("Status")),
                    params=(),
                    errors=(),
                )
            },
            "/spark/ping": {"post": _operation("a Noop round trip", plain)},
            "/spark/reconnect": {
                "post": _operation(
                    "drop the link and reconnect", plain, status="202", params=(), errors=("401",)
                )
            },
            "/spark/reboot": {"post": _operation("reboot the controller", plain, status="202")},
            "/spark/autoconnecting": {
                "get": _operation("whether the service connects", plain, params=(), errors=()),
                "put": _operation(
                    "set and persist autoconnecting",
                    plain,
                    body="Autoconnecting",
                    params=(),
                    errors=("400", "401"),
                ),
            },
            "/spark/blocks": {
                "get": _operation(
                    "every block, with names", _json({"type": "array", "items": _ref("Block")})
                ),
                "post": _operation(
                    "create a block (type required; id 0 or absent: the controller picks)",
                    block,
                    status="201",
                    body="Block",
                    errors=_BLOCK_ERRORS,
                ),
            },
            "/spark/blocks/{id}": {
                "get": _operation("read a block", block, params=(_ID, _TIMEOUT)),
                "put": _operation(
                    "write a block's fields and/or rename it",
                    block,
                    body="Block",
                    params=(_ID, _TIMEOUT),
                    errors=_BLOCK_ERRORS,
                ),
                "delete": _operation(
                    "delete a block (and its name)",
                    plain,
                    params=(_ID, _TIMEOUT),
                    errors=_BLOCK_ERRORS,
                ),
            },
            "/spark/events": {
                "get": {
                    "summary": "server-sent events: 'phase' on every change, 'blocks' on "
                    "every broadcast; the present phase (and last blocks) first",
                    "responses": {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {"schemas": _SCHEMAS},
    }
