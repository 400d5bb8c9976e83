"""The connector as a service: its feed, its HTTP API and its MQTT publisher, as one unit.

``spark-connector`` adds the options (:func:`add_arguments`: ``--http``,
``--token``, ``--mqtt``, ``--mqtt-prefix``) and, once the connector runs,
starts a :class:`Service` from them and stops it before the connector.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.spark.feed import ConnectorFeed
from actors.spark.http_guards import check_exposure
from actors.spark.http_service import DEFAULT_HOST, DEFAULT_PORT, HttpService, parse_listen
from actors.spark.mqtt import DEFAULT_PREFIX, MqttPublisher, check_prefix, parse_mqtt_url


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Where to serve the API (None: not at all), its token, the MQTT broker and prefix."""

    http: tuple[str, int] | None = (DEFAULT_HOST, DEFAULT_PORT)
    token: str | None = None
    mqtt: str | None = None
    mqtt_prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if self.http is not None:
            check_exposure(self.http[0], self.token)  # at once, before a connector starts


def _checked(check: Callable[[str], Any]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The service's options, as their own group of ``parser``."""
    group = parser.add_argument_group(
        "the service (HTTP API, MQTT)",
        "A running service's clients: spark-connector status | ping | blocks list |\n"
        "blocks read BLOCK | blocks write BLOCK [--data HEX] [--name NAME] ... [--url URL]\n"
        "(see spark-connector blocks write --help). If the API cannot bind, exit code 1.",
    )
    group.add_argument(
        "--http",
        metavar="HOST:PORT",
        default=os.environ.get("SPARK_CONNECTOR_HTTP", f"{DEFAULT_HOST}:{DEFAULT_PORT}"),
        type=_checked(parse_listen),
        help="serve the HTTP API here (port 0: any free port, logged as http_listening); "
        "'off' disables it; an address other than loopback exposes it to the network and "
        "needs --token (default: %(default)s; $SPARK_CONNECTOR_HTTP sets another)",
    )
    group.add_argument(
        "--token",
        default=os.environ.get("SPARK_CONNECTOR_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' on every request that changes something "
        "(default: $SPARK_CONNECTOR_TOKEN, else none: then the API listens on loopback only)",
    )
    group.add_argument(
        "--mqtt",
        metavar="URL",
        type=_checked(parse_mqtt_url),
        help="publish phase changes and block values to this broker "
        "(mqtt://[user:pass@]host[:port], mqtts://...)",
    )
    group.add_argument(
        "--mqtt-prefix",
        default=DEFAULT_PREFIX,
        type=_checked(check_prefix),
        help="the topics' prefix: PREFIX/state and PREFIX/blocks (default: %(default)s)",
    )


def options_of(args: argparse.Namespace) -> ServiceOptions:
    """The service options parsed by :func:`add_arguments`."""
    return ServiceOptions(
        http=parse_listen(args.http),
        token=args.token or None,
        mqtt=args.mqtt,
        mqtt_prefix=args.mqtt_prefix,
    )


class Service:
    """The running outside faces of one connector."""

    def __init__(self, feed: ConnectorFeed) -> None:
        self.feed = feed
        self.http: HttpService | None = None
        self.mqtt: MqttPublisher | None = None

    @classmethod
    def start(cls, connector: Any, options: ServiceOptions) -> Service:
        """Start what ``options`` ask for; ``OSError`` if the API cannot bind (nothing is left)."""
        service = cls(ConnectorFeed(connector))
        try:
            if options.http is not None:
                host, port = options.http
                service.http = HttpService.start(connector, service.feed, host, port, options.token)
            if options.mqtt is not None:
                names = service.http.names if service.http is not None else dict
                service.mqtt = MqttPublisher(
                    options.mqtt, service.feed, names, options.mqtt_prefix
                ).start()
        except BaseException:
            service.stop()
            raise
        return service

    def stop(self) -> None:
        """Stop publishing and serving, then the feed."""
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.http is not None:
            self.http.stop()
        self.feed.stop()
