"""``spark-sim``: the simulator as a command-line program.

It prints where it listens on its first line (stdout), logs to stderr (each
request served at debug level), and reads fault specs from stdin while it runs:
one per line, as ``--fault`` takes them, or ``clear``. Ctrl-C (or SIGTERM)
stops it cleanly.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace

import structlog

from actorfsm.logging import configure
from actors.malloc_arenas import limit_malloc_arenas
from actors.spark.simulator.faults import Fault, FaultKind
from actors.spark.simulator.firmware import DEFAULT_HANDSHAKE, check_device_id
from actors.spark.simulator.server import DEFAULT_TCP, Simulator
from actors.stop_signal import StopSignal

_log = structlog.get_logger(__name__)

MAX_PORT = 65535
"""The highest TCP port number (0 asks for any free port)."""


def _host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    if int(port) > MAX_PORT:
        raise argparse.ArgumentTypeError(f"port {port} of {text!r} is not in 0..{MAX_PORT}")
    return host.strip("[]"), int(port)


def _fault(text: str) -> Fault:
    try:
        return Fault.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _device_id(text: str) -> str:
    try:
        return check_device_id(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    default_tcp = f"{DEFAULT_TCP[0]}:{DEFAULT_TCP[1]}"
    parser = argparse.ArgumentParser(
        prog="spark-sim",
        description="A simulated Brewblox Spark controller (Controlbox v1) on TCP and/or a pty.",
        epilog=(
            "Faults: " + ", ".join(kind.value for kind in FaultKind) + ". While it runs, "
            "type a fault spec or 'clear' on stdin."
        ),
    )
    parser.add_argument(
        "--tcp",
        nargs="?",
        const=default_tcp,
        type=_host_port,
        metavar="HOST:PORT",
        help=f"listen on TCP (default {default_tcp}; port 0 = any free port). "
        "The default transport when --pty is not given.",
    )
    parser.add_argument(
        "--pty",
        nargs="?",
        const="",
        metavar="LINK",
        help="serve on a pseudo-terminal, reachable at LINK (default: a temporary path)",
    )
    parser.add_argument("--device-id", type=_device_id, help="24 hex digits")
    parser.add_argument("--firmware-version")
    parser.add_argument("--proto-version")
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="KIND[=ARG]",
        help="inject a fault at start (repeatable), e.g. silent, delay=250, cbox-error=0x43",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="debug shows every request served",
    )
    parser.add_argument(
        "--log-format",
        choices=("console", "json"),
        default=None,
        help="console (human) or json (one JSON object per line, with an 'event' field); "
        "default: console on a terminal, json otherwise",
    )
    return parser


def _read_commands(simulator: Simulator) -> None:
    """Apply the fault specs typed on stdin until it closes."""
    for line in sys.stdin:
        command = line.strip()
        if not command:
            continue
        try:
            if command == "clear":
                simulator.clear_faults()
            else:
                simulator.inject(Fault.parse(command))
        except (ValueError, RuntimeError) as error:
            _log.error("command_refused", command=command, error=str(error))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the simulator until Ctrl-C or SIGTERM."""
    limit_malloc_arenas()  # before any thread: a long run's memory must not creep
    args = _parser().parse_args(argv)
    configure(format=args.log_format, level=args.log_level)
    identity = ("device_id", "firmware_version", "proto_version")
    overrides = {name: getattr(args, name) for name in identity if getattr(args, name) is not None}
    handshake = replace(DEFAULT_HANDSHAKE, **overrides)
    tcp: tuple[str, int] | None = args.tcp
    if tcp is None and args.pty is None:
        tcp = DEFAULT_TCP
    simulator = Simulator(
        tcp=tcp,
        pty=args.pty is not None,
        pty_link=args.pty or None,
        handshake=handshake,
        faults=args.fault,
    )
    with StopSignal() as stopped:  # from here a stop signal ends in simulator.stop()
        try:
            simulator.start()
        except OSError as error:
            sys.exit(f"spark-sim: cannot start: {error}")
        try:
            where = []
            if tcp is not None:
                host, port = simulator.tcp_address
                where.append(f"tcp={host}:{port}")
            if args.pty is not None:
                where.append(f"pty={simulator.pty_path}")
            print("spark-sim listening:", " ".join(where), flush=True)
            threading.Thread(target=_read_commands, args=(simulator,), daemon=True).start()
            stopped.wait()
        finally:
            simulator.stop()
