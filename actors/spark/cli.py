"""The ``spark-connector`` program (also ``python -m actors.spark``): run the connector.

It connects to one Spark controller (an explicit ``--device`` URL, or
discovery of USB ports and TCP hosts), keeps the connection synchronized and
logs what happens, until Ctrl-C or SIGTERM. ``--simulate`` starts the built-in
simulator on a pty and connects to it, for trying it out without hardware.

Exit codes (see :func:`main`): 0 after a clean stop on Ctrl-C / SIGTERM; 2 for
bad arguments (including a refused device URL); 3 when discovery that includes
USB found no controller ``--discovery-attempts`` times in a row (so a container
restart policy can rediscover USB devices; never with ``--discovery tcp``); 1
when the connector failed otherwise (its restart limit, an unusable datastore).
"""

from __future__ import annotations

import argparse
import logging as stdlib_logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import structlog

from actorfsm.logging import configure
from actors.malloc_arenas import limit_malloc_arenas
from actors.spark import client_cli
from actors.spark.config import MIN_SECONDS, ConnectorConfig
from actors.spark.connector import EXIT_DISCOVERY_EXHAUSTED, EXIT_FAILED, SparkConnector
from actors.spark.datastore import DatastoreError, default_path
from actors.spark.discovery import MODES, DiscoveryConfig, check_device_url, tcp_url
from actors.spark.service import Service, ServiceOptions, add_arguments, options_of
from actors.spark.simulator import Simulator
from actors.stop_signal import StopSignal

log = structlog.get_logger("actors.spark.cli")

EXIT_OK = 0
"""A clean stop after Ctrl-C or SIGTERM."""

EXIT_USAGE = 2
"""Bad arguments (argparse's code), including a refused ``--device`` URL."""

EPILOG = f"""\
exit codes:
  {EXIT_OK}  stopped cleanly after Ctrl-C or SIGTERM
  {EXIT_FAILED}  the connector failed (restart limit exceeded, unusable datastore)
  {EXIT_USAGE}  bad arguments, e.g. a --device URL that is not a path or socket://host:port
  {EXIT_DISCOVERY_EXHAUSTED}  discovery including USB found no controller --discovery-attempts
     times in a row: exit so a container restart policy can rediscover USB devices
     (never with --discovery tcp)
"""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= MIN_SECONDS or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds >= {MIN_SECONDS:g}: {text!r}"
        )
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1: {text!r}")
    return int(text)


def _tcp_host(text: str) -> str:
    try:
        tcp_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


TIMING = (
    ("ping_interval", "between Noop prompts while waiting for a handshake"),
    ("handshake_timeout", "to wait for a handshake, then reconnect"),
    ("command_timeout", "a command may take before CommandTimeout"),
    ("broadcast_interval", "between reads of the controller's objects"),
    ("reconnect_min", "first wait before reconnecting (x1.5 per failure)"),
    ("reconnect_max", "longest wait before reconnecting"),
)
"""The timing options: the ``ConnectorConfig`` field (``--ping-interval`` for
``ping_interval``...) and what it times."""


def parser() -> argparse.ArgumentParser:
    """The argument parser (its ``--help`` explains every option and the exit codes)."""
    p = argparse.ArgumentParser(
        prog="spark-connector",
        description=(
            "Connect to a Spark brewing controller and keep the connection synchronized\n"
            "(DISCONNECTED -> CONNECTED -> ACKNOWLEDGED -> SYNCHRONIZED), reconnecting with\n"
            "backoff (the interval is persisted in the datastore), until Ctrl-C or SIGTERM."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_argument_group("where the controller is")
    target = where.add_mutually_exclusive_group()
    target.add_argument(
        "--device",
        metavar="URL",
        help="connect to this port only: a device path (/dev/ttyACM0, a pty) or "
        "socket://host:port; without it the controller is discovered",
    )
    target.add_argument(
        "--simulate",
        action="store_true",
        help="start the built-in controller simulator on a pty and connect to it",
    )
    where.add_argument(
        "--discovery",
        choices=MODES,
        default="all",
        help="without --device: look for USB controllers (VID:PID 2B04:C006 Photon, "
        "2B04:C008 P1), TCP hosts (--tcp-host), or both, USB first (default: %(default)s)",
    )
    where.add_argument(
        "--tcp-host",
        metavar="HOST[:PORT]",
        action="append",
        default=[],
        type=_tcp_host,
        help="a host to try in TCP discovery (port 8332 if not given); repeatable",
    )
    where.add_argument(
        "--discovery-attempts",
        metavar="N",
        type=_attempts,
        default=10,
        help="with USB in --discovery: give up (exit 3) after N discovery rounds in a row "
        "found nothing (default: %(default)s)",
    )
    where.add_argument(
        "--allow-any-url",
        action="store_true",
        help="let --device be any pyserial URL (spy://, rfc2217://, loop://...); off by "
        "default because such handlers log traffic or reach other hosts",
    )
    who = p.add_argument_group("which controller and where to keep state")
    who.add_argument(
        "--device-id",
        default="",
        help="accept only the controller with this device id (case-insensitive; default: any)",
    )
    who.add_argument(
        "--datastore",
        metavar="PATH",
        help="the SQLite file for settings, block names and the reconnect interval "
        f"(created on first use; default: {default_path()})",
    )
    logs = p.add_argument_group("logging")
    logs.add_argument(
        "--log-format",
        choices=("console", "json"),
        default=None,
        help="console (human) or json (one JSON object per line, with an 'event' field); "
        "default: console on a terminal, json otherwise",
    )
    logs.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="the lowest level logged (default: %(default)s)",
    )
    timing = p.add_argument_group("timing (seconds)")
    defaults = ConnectorConfig(None)
    for field, text in TIMING:
        timing.add_argument(
            "--" + field.replace("_", "-"),
            metavar="S",
            type=_seconds,
            default=getattr(defaults, field),
            help=f"{text} (default: %(default)s; at least {MIN_SECONDS:g})",
        )
    add_arguments(p)
    return p


def _bridge_stdlib_logging() -> None:
    """Send stdlib logging (pykka's) and uncaught thread errors through structlog.

    So that in JSON mode every line on stderr is one JSON object.
    """

    class ToStructlog(stdlib_logging.Handler):
        def emit(self, record: stdlib_logging.LogRecord) -> None:
            structlog.get_logger(record.name).log(
                record.levelno,
                "stdlib_log",
                logger=record.name,
                message=record.getMessage(),
                exc_info=record.exc_info or False,
            )

    root = stdlib_logging.getLogger()
    root.handlers[:] = [ToStructlog()]
    root.setLevel(stdlib_logging.WARNING)

    def excepthook(args: threading.ExceptHookArgs) -> None:
        exc_info: Any = (args.exc_type, args.exc_value, args.exc_traceback)
        thread = args.thread.name if args.thread is not None else None
        log.error("thread_crashed", thread=thread, exc_info=exc_info)

    threading.excepthook = excepthook


def main(argv: Sequence[str] | None = None) -> int:
    """Run the connector until Ctrl-C or SIGTERM; return the exit code (see the module)."""
    limit_malloc_arenas()  # before any thread: a long run's memory must not creep
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments and arguments[0] in client_cli.COMMANDS:
        return client_cli.main(arguments)  # a client of a running service's API
    p = parser()
    args = p.parse_args(argv)
    if args.device is not None:
        try:
            check_device_url(args.device, allow_any=args.allow_any_url)
        except ValueError as error:
            p.error(str(error))
    try:
        discovery = DiscoveryConfig(
            mode=args.discovery,
            tcp_hosts=tuple(args.tcp_host),
            max_attempts=args.discovery_attempts,
        )
        config = ConnectorConfig(
            args.device,
            datastore=args.datastore,
            device_id=args.device_id,
            **{field: getattr(args, field) for field, _ in TIMING},
        )
        options = options_of(args)
    except ValueError as error:
        p.error(str(error))
    configure(format=args.log_format, level=args.log_level)
    _bridge_stdlib_logging()

    with StopSignal() as finished:
        simulator: Simulator | None = None
        if args.simulate:
            simulator = Simulator(tcp=None, pty=True).start()
            config = replace(config, device_url=simulator.pty_path)  # it logs where it is
        try:
            code = _run(config, discovery, args.allow_any_url, finished, options)
        finally:
            if simulator is not None:
                simulator.stop()
    log.info("exiting", exit_code=code)
    return code


def _run(
    config: ConnectorConfig,
    discovery: DiscoveryConfig,
    allow_any_url: bool,
    finished: StopSignal,
    options: ServiceOptions,
) -> int:
    """Start the connector and its service, wait for a signal or its failure, stop them;
    return the exit code."""
    try:
        connector = SparkConnector.start(
            config,
            discovery=discovery,
            allow_any_url=allow_any_url,
            on_failure=lambda cause: finished.set(),
        )
    except (DatastoreError, OSError) as error:
        log.error("start_failed", error=str(error))
        return EXIT_FAILED
    try:
        service = Service.start(connector, options)
    except OSError as error:
        log.error("http_start_failed", error=str(error))
        connector.stop()
        return EXIT_FAILED
    finished.wait()  # set by SIGINT/SIGTERM or by the connector giving up
    service.stop()
    connector.stop()
    return connector.exit_code
