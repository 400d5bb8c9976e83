"""A simulated Spark controller that speaks the Controlbox v1 protocol over TCP and a pty.

``Simulator`` runs in-process (tests, demos); ``main`` is the ``spark-sim``
program. Modules: ``firmware`` (the controller's objects and answers), ``faults``
(what can be made to go wrong), ``ports`` (TCP and pty), ``server`` (the
simulator that ties them together) and ``cli``.
"""

from actors.spark.simulator.cli import main
from actors.spark.simulator.faults import LASTING, Fault, FaultKind
from actors.spark.simulator.firmware import DEFAULT_HANDSHAKE, Firmware
from actors.spark.simulator.server import DEFAULT_TCP, Simulator

__all__ = [
    "DEFAULT_HANDSHAKE",
    "DEFAULT_TCP",
    "LASTING",
    "Fault",
    "FaultKind",
    "Firmware",
    "Simulator",
    "main",
]
