"""Why a command to the controller failed: the exceptions ``execute`` raises.

All are :class:`SparkError`. A client catches ``NotConnected`` to retry later,
``CommandTimeout`` for a controller that stopped answering, ``CommandFailed``
for a controller that answered with an error code.
"""

from __future__ import annotations

from actors.spark.protocol import Errcode


class SparkError(Exception):
    """Base of every error the connector reports for a command."""


class NotConnected(SparkError):
    """The controller was not synchronized within the command's timeout; nothing was sent."""


class ConnectionLost(NotConnected):
    """The link dropped after the command was sent; it may or may not have run."""


class CommandTimeout(SparkError):
    """The command was sent but no answer came within its timeout."""


class ProtocolFault(SparkError):
    """The answer to the command broke the wire protocol (e.g. a bad CRC)."""


class IncompatibleFirmware(SparkError):
    """The controller's firmware or device id does not match this service's; see the message."""


class ConnectorStopped(SparkError):
    """The connector was stopped (or gave up): nothing is sent any more; start a new one."""


class CommandFailed(SparkError):
    """The controller answered the command with an error code."""

    def __init__(self, errcode: Errcode, request: str) -> None:
        super().__init__(f"controller answered {errcode.name} ({int(errcode)}) to {request}")
        self.errcode = errcode
        self.request = request
