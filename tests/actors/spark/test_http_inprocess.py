"""The HTTP service inside a program: it leaves no thread behind, refuses a taken port, and
answers an unexpected failure with a 500 that holds no traceback (logged once, with it)."""

from __future__ import annotations

import http.client
import pathlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import structlog.testing

from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.datastore import Datastore
from actors.spark.http_client import ApiFailure, SparkClient
from actors.spark.phase import Phase
from actors.spark.service import Service, ServiceOptions
from actors.spark.simulator import Simulator

pytestmark = pytest.mark.timeout(60)

LOOPBACK = ServiceOptions(http=("127.0.0.1", 0))


@pytest.fixture
def connector(tmp_path: pathlib.Path) -> Iterator[SparkConnector]:
    with Simulator(tcp=("127.0.0.1", 0)) as simulator:
        store = Datastore(tmp_path / "spark.db")
        connector = SparkConnector.start(ConnectorConfig(simulator.tcp_url), store)
        connector.wait_for(Phase.SYNCHRONIZED, 10)
        yield connector
        connector.stop()
        store.close()


def test_starting_and_stopping_leaves_no_thread(connector: SparkConnector) -> None:
    Service.start(connector, LOOPBACK).stop()  # warm: the first start creates lazy pools
    before = {thread.ident for thread in threading.enumerate()}
    for _ in range(3):
        service = Service.start(connector, LOOPBACK)
        assert service.http is not None
        client = SparkClient(service.http.url)
        assert client.ping()["ok"] is True
        client.close()
        service.stop()
    after = {thread.ident for thread in threading.enumerate()}
    assert after <= before, [t.name for t in threading.enumerate() if t.ident not in before]


def test_a_taken_port_is_an_os_error(connector: SparkConnector) -> None:
    first = Service.start(connector, LOOPBACK)
    try:
        assert first.http is not None
        taken = ServiceOptions(http=("127.0.0.1", first.http.port))
        with pytest.raises(OSError, match="address already in use"):
            Service.start(connector, taken)
    finally:
        first.stop()


def test_an_unexpected_failure_is_a_500_without_traceback(connector: SparkConnector) -> None:
    service = Service.start(connector, LOOPBACK)
    assert service.http is not None
    client = SparkClient(service.http.url)
    try:
        connector.datastore.close()  # reading autoconnecting now fails inside the handler
        with structlog.testing.capture_logs() as logs, pytest.raises(ApiFailure) as failed:
            client.request("GET", "/spark/autoconnecting")
        assert failed.value.status == 500
        assert failed.value.body == {
            "error": "InternalError",
            "message": "the service failed; see its log",
        }
        internal = [entry for entry in logs if entry["event"] == "http_internal_error"]
        assert len(internal) == 1
        assert internal[0]["path"] == "/spark/autoconnecting"
    finally:
        client.close()
        service.stop()


def test_an_absent_broker_is_logged_once_and_holds_nothing_up(connector: SparkConnector) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = ServiceOptions(http=("127.0.0.1", 0), mqtt=f"mqtt://127.0.0.1:{port}")
    with structlog.testing.capture_logs() as logs:
        service = Service.start(connector, options)
        try:
            assert service.http is not None
            client = SparkClient(service.http.url)
            deadline = time.monotonic() + 3.5  # paho retries after 1 s, then 2 s
            while time.monotonic() < deadline:
                assert client.ping()["ok"] is True  # the connector does not wait for MQTT
                time.sleep(0.1)
            client.close()
            assert service.mqtt is not None
            attempts = service.mqtt.failed_attempts
        finally:
            service.stop()
    assert attempts >= 2  # it did keep trying
    failures = [entry for entry in logs if entry["event"] == "mqtt_connect_failed"]
    assert len(failures) == 1, logs


def test_a_read_on_a_connection_the_server_closed_is_sent_again(
    connector: SparkConnector,
) -> None:
    first = Service.start(connector, LOOPBACK)
    assert first.http is not None
    port = first.http.port
    client = SparkClient(first.http.url)
    try:
        assert client.status()["phase"] == "SYNCHRONIZED"
        first.stop()  # closes the kept-alive connection; a new server takes the port
        second = Service.start(connector, ServiceOptions(http=("127.0.0.1", port)))
        try:
            assert client.status()["phase"] == "SYNCHRONIZED"  # a GET: sent again, once
        finally:
            second.stop()
        third = Service.start(connector, ServiceOptions(http=("127.0.0.1", port)))
        try:
            with pytest.raises((OSError, http.client.HTTPException)):
                client.ping()  # a POST is never sent twice: the caller decides
            assert client.ping()["ok"] is True
        finally:
            third.stop()
    finally:
        client.close()
