"""Publishing the connector's state and block values on an MQTT event bus (``--mqtt URL``).

Topics under a prefix (default ``brewcast/spark``), JSON payloads, retained so
a client that subscribes later gets the present at once:

- ``<prefix>/state``: ``{"online", "phase", "old", "at"}`` on every phase change
  (``online`` false is the broker's last will and the clean stop's last word);
- ``<prefix>/blocks``: ``{"at", "blocks": [...]}`` on every broadcast.

paho-mqtt's network thread owns the socket: it connects, and after a lost
connection reconnects with backoff (:data:`RECONNECT_MIN` doubling to
:data:`RECONNECT_MAX`); on every (re)connection the latest state and blocks
are published again. The feed's listener only queues a message (at most
:data:`MAX_QUEUED`), so the connector never waits for the broker. A broker
that stays away is logged once, and its return with the count of failures.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from actors.spark.events import blocks_payload, phase_payload
from actors.spark.feed import ConnectorFeed, FeedEvent, PhaseChanged

log = structlog.get_logger("actors.spark.mqtt")

DEFAULT_PREFIX = "brewcast/spark"

RECONNECT_MIN = 1.0
RECONNECT_MAX = 30.0

MAX_QUEUED = 100
"""Messages paho may hold for a slow broker; past that a publish is dropped."""

KEEPALIVE = 30
"""Seconds between MQTT keepalive pings."""


def parse_mqtt_url(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """``mqtt://[user:pass@]host[:port]`` (or ``mqtts://``) as host, port, TLS, user, password."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"not an mqtt://host[:port] URL: {url!r}")
    tls = parts.scheme == "mqtts"
    port = parts.port or (8883 if tls else 1883)
    return parts.hostname, port, tls, parts.username, parts.password


def check_prefix(prefix: str) -> str:
    """``prefix`` if it is a usable topic prefix (no wildcards, no empty levels)."""
    if not prefix or "#" in prefix or "+" in prefix or "" in prefix.split("/"):
        raise ValueError(f"not a topic prefix: {prefix!r}")
    return prefix


class MqttPublisher:
    """Publishes a feed's events to one broker until stopped."""

    def __init__(
        self,
        url: str,
        feed: ConnectorFeed,
        names: Callable[[], dict[int, str]],
        prefix: str = DEFAULT_PREFIX,
        reconnect: tuple[float, float] = (RECONNECT_MIN, RECONNECT_MAX),
    ) -> None:
        host, port, tls, user, password = parse_mqtt_url(url)
        self.prefix = check_prefix(prefix)
        self.state_topic = f"{prefix}/state"
        self.blocks_topic = f"{prefix}/blocks"
        self._address = f"{host}:{port}"
        self._feed = feed
        self._names = names
        self._lock = threading.Lock()
        self._latest: dict[str, bytes] = {}
        self._failures = 0
        self._connected = False
        self._stopping = False
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"spark-connector-{os.getpid()}-{id(self):x}",
        )
        if user is not None:
            client.username_pw_set(user, password)
        if tls:
            client.tls_set()
        client.will_set(self.state_topic, json.dumps({"online": False}), qos=1, retain=True)
        client.reconnect_delay_set(min_delay=int(max(1, reconnect[0])), max_delay=int(reconnect[1]))
        client.max_queued_messages_set(MAX_QUEUED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        self._host, self._port = host, port

    @property
    def failed_attempts(self) -> int:
        """Connection attempts that failed since the last success."""
        with self._lock:
            return self._failures

    def start(self) -> MqttPublisher:
        """Connect in the background and publish from now on (never waits for the broker)."""
        with self._lock:  # a newer state from the listener waits, then replaces this one
            present = self._state(self._feed.add_listener(self.listener))
            self._latest[self.state_topic] = json.dumps(present).encode()
        self._client.connect_async(self._host, self._port, keepalive=KEEPALIVE)
        self._client.loop_start()
        log.info("mqtt_started", broker=self._address, prefix=self.prefix)
        return self

    def listener(self, event: FeedEvent) -> None:
        """The feed's listener: remember the latest payload of its topic and queue it."""
        if isinstance(event, PhaseChanged):
            topic, payload = self.state_topic, self._state(event)
        else:
            topic, payload = self.blocks_topic, blocks_payload(event, self._names())
        self._publish(topic, self._remember(topic, payload))

    def stop(self) -> None:
        """Say offline (retained), disconnect and join the network thread."""
        self._feed.remove_listener(self.listener)
        with self._lock:
            self._stopping = True
            connected = self._connected
        if connected:
            info = self._client.publish(
                self.state_topic, json.dumps({"online": False}), qos=1, retain=True
            )
            # The broker may go away meanwhile: its last will says the same.
            with contextlib.suppress(ValueError, RuntimeError):
                info.wait_for_publish(timeout=2.0)
        self._client.disconnect()
        self._client.loop_stop()
        log.info("mqtt_stopped", broker=self._address)

    def _state(self, event: PhaseChanged) -> dict[str, Any]:
        return {"online": True, **phase_payload(event)}

    def _remember(self, topic: str, payload: dict[str, Any]) -> bytes:
        data = json.dumps(payload).encode()
        with self._lock:
            self._latest[topic] = data
        return data

    def _publish(self, topic: str, data: bytes) -> None:
        qos = 1 if topic == self.state_topic else 0
        self._client.publish(topic, data, qos=qos, retain=True)

    # paho's callbacks, in its network thread

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._on_connect_fail(client, userdata, reason=str(reason))
            return
        with self._lock:
            failures, self._failures = self._failures, 0
            self._connected = True
        if failures > 1:
            log.warning("mqtt_connect_failed_repeated", broker=self._address, count=failures)
        log.info("mqtt_connected", broker=self._address)
        # Publish the latest of each topic again. The listener may publish a newer
        # one meanwhile, which ours could follow: so repeat until nothing changed.
        sent: dict[str, bytes] = {}
        while True:
            with self._lock:
                newer = {t: d for t, d in self._latest.items() if sent.get(t) is not d}
            if not newer:
                return
            for topic, data in newer.items():
                self._publish(topic, data)
            sent.update(newer)

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            was, self._connected = self._connected, False
            stopping = self._stopping
        if was and not stopping:
            log.warning("mqtt_disconnected", broker=self._address, reason=str(reason))

    def _on_connect_fail(self, client: Any, userdata: Any, reason: str = "unreachable") -> None:
        with self._lock:
            self._failures += 1
            first = self._failures == 1
        if first:
            log.warning("mqtt_connect_failed", broker=self._address, reason=reason)
