"""The Spark connector: a client for a Spark brewing controller, built on actorfsm.

``SparkConnector.start(ConnectorConfig(url))`` starts the connector's actors
under one supervisor; ``execute(request)`` runs a request (``Noop``,
``ReadObject``, ``WriteObject`` ...) on the controller and returns its reply
or raises a ``SparkError``. The names a program needs are importable from
here; ``actors.spark.simulator`` is a simulated controller for tests and
demos, and ``spark-connector``/``spark-sim`` are the command-line programs.
They need pyserial, which the framework does not: install ``actorfsm[spark]``.
"""

try:
    import serial  # noqa: F401
except ImportError as missing:  # say what to install, not where it failed
    msg = "the Spark connector needs pyserial: pip install 'actorfsm[spark]'"
    raise ImportError(msg) from missing

from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.discovery import DiscoveryConfig, DiscoveryExhausted
from actors.spark.errors import (
    CommandFailed,
    CommandTimeout,
    ConnectionLost,
    ConnectorStopped,
    IncompatibleFirmware,
    NotConnected,
    ProtocolFault,
    SparkError,
)
from actors.spark.phase import Phase
from actors.spark.protocol import (
    Ack,
    ClearObjects,
    CreateObject,
    DeleteObject,
    DiscoverObjects,
    DiscoveryReply,
    FactoryReset,
    IdListReply,
    ListCompatibleObjects,
    ListObjects,
    ListStoredObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    ReadObject,
    ReadStoredObject,
    Reboot,
    Reply,
    Request,
    SparkObject,
    WriteObject,
)

__all__ = [
    "Ack",
    "ClearObjects",
    "CommandFailed",
    "CommandTimeout",
    "ConnectionLost",
    "ConnectorConfig",
    "ConnectorStopped",
    "CreateObject",
    "DeleteObject",
    "DiscoverObjects",
    "DiscoveryConfig",
    "DiscoveryExhausted",
    "DiscoveryReply",
    "FactoryReset",
    "IdListReply",
    "IncompatibleFirmware",
    "ListCompatibleObjects",
    "ListObjects",
    "ListStoredObjects",
    "Noop",
    "NotConnected",
    "ObjectListReply",
    "ObjectReply",
    "Phase",
    "ProtocolFault",
    "ReadObject",
    "ReadStoredObject",
    "Reboot",
    "Reply",
    "Request",
    "SparkConnector",
    "SparkError",
    "SparkObject",
    "WriteObject",
]
