"""``spark-connector status|ping|blocks ...``: operators' commands on a running service's API.

The service is the only opener of its controller's port; these commands go
through its HTTP API (``--url``, default ``$SPARK_CONNECTOR_URL`` or
http://127.0.0.1:5000; ``--token`` or ``$SPARK_CONNECTOR_TOKEN`` for writes).
Each prints the service's JSON answer on stdout and exits 0, or prints the
error on stderr and exits 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from actors.spark.http_client import DEFAULT_URL, ApiFailure, SparkClient

COMMANDS = ("status", "ping", "blocks")
"""The first arguments that make ``spark-connector`` a client instead of the service."""

EXIT_OK = 0
EXIT_FAILED = 1


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--url",
        default=os.environ.get("SPARK_CONNECTOR_URL", DEFAULT_URL),
        help="the service's base URL (default: $SPARK_CONNECTOR_URL or %(default)s)",
    )
    options.add_argument(
        "--token",
        default=os.environ.get("SPARK_CONNECTOR_TOKEN"),
        help="the service's token for writes (default: $SPARK_CONNECTOR_TOKEN)",
    )
    options.add_argument(
        "--timeout", type=float, default=None, help="seconds the command may take (service default)"
    )
    return options


def parser() -> argparse.ArgumentParser:
    """The client's argument parser."""
    common = _connection_options()
    p = argparse.ArgumentParser(
        prog="spark-connector",
        description="Ask a running spark-connector service over its HTTP API.",
    )
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("status", parents=[common], help="phase, controller and connection")
    commands.add_parser("ping", parents=[common], help="a Noop round trip to the controller")
    blocks = commands.add_parser("blocks", help="list, read or write blocks")
    actions = blocks.add_subparsers(dest="action", required=True)
    actions.add_parser("list", parents=[common], help="every block with its name")
    read = actions.add_parser("read", parents=[common], help="one block, by name or id")
    read.add_argument("block", help="a block name or numeric id")
    write = actions.add_parser("write", parents=[common], help="write a block's fields")
    write.add_argument("block", help="a block name or numeric id")
    write.add_argument("--data", help="the new data, in hex")
    write.add_argument("--type", type=int, help="the object type")
    write.add_argument("--groups", type=int, help="the groups bitmask")
    write.add_argument("--name", help="a new name for the block")
    return p


def _call(client: SparkClient, args: argparse.Namespace) -> Any:
    timeout = args.timeout
    match args.command, getattr(args, "action", None):
        case "status", _:
            return client.status()
        case "ping", _:
            return client.ping(timeout)
        case "blocks", "list":
            return client.blocks(timeout)
        case "blocks", "read":
            return client.read(args.block, timeout)
        case "blocks", "write":
            fields = {
                key: getattr(args, key)
                for key in ("data", "type", "groups", "name")
                if getattr(args, key) is not None
            }
            return client.write(args.block, fields, timeout)
    raise AssertionError(f"unhandled command {args.command}")


def main(argv: Sequence[str]) -> int:
    """Run one client command; the exit code."""
    p = parser()
    args = p.parse_args(argv)
    try:
        client = SparkClient(args.url, args.token)
    except ValueError as error:
        p.error(str(error))
    try:
        answer = _call(client, args)
    except ApiFailure as failure:
        print(f"spark-connector: {failure}", file=sys.stderr)
        return EXIT_FAILED
    except (OSError, http.client.HTTPException) as error:
        print(f"spark-connector: cannot reach {args.url}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.close()
    print(json.dumps(answer, indent=2))
    return EXIT_OK
