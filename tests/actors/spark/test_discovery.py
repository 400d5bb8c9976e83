"""Device URLs and discovery: what is accepted, what is found, and when the connector gives up.

USB discovery is tested by patching ``serial.tools.list_ports.comports`` to
return the simulator's pty with a Photon's VID:PID; the exhausted case with
an empty list. TCP discovery uses the simulator's TCP port.
"""

from __future__ import annotations

import pathlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from actors.spark.config import ConnectorConfig
from actors.spark.connector import EXIT_DISCOVERY_EXHAUSTED, SparkConnector
from actors.spark.discovery import (
    P1,
    PHOTON,
    DiscoveryConfig,
    DiscoveryExhausted,
    check_device_url,
    tcp_url,
)
from actors.spark.phase import Phase
from actors.spark.protocol import Ack, Noop
from actors.spark.simulator import Simulator

WAIT = 15.0
"""Seconds to wait for something that must happen (generous: the machine is shared)."""


def usb_port(device: str, ids: tuple[int, int] = PHOTON) -> ListPortInfo:
    """A port as ``comports()`` describes a USB device with VID:PID ``ids`` on ``device``."""
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = ids
    info.serial_number = "C0FFEE"
    info.apply_usb_info()
    return info


# ------------------------------------------------------------------ device URLs


@pytest.mark.parametrize(
    "url", ["/dev/ttyACM0", "/tmp/spark-sim-x/tty", "socket://127.0.0.1:8332", "socket://box:1"]
)
def test_a_device_path_or_socket_url_is_accepted(url: str) -> None:
    assert check_device_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "spy:///dev/ttyACM0",
        "rfc2217://box:2217",
        "loop://",
        "alt:///dev/ttyACM0?class=PosixPollSerial",
        "hwgrep://2B04",
        "cp2110://0001:0002:00",
        "ttyACM0",
    ],
)
def test_other_urls_are_refused_with_a_message_naming_the_allowed_forms(url: str) -> None:
    with pytest.raises(ValueError, match="refused") as raised:
        check_device_url(url)
    assert repr(url) in str(raised.value)
    assert "socket://host:port" in str(raised.value)
    assert "allow_any_url" in str(raised.value)
    assert check_device_url(url, allow_any=True) == url


@pytest.mark.parametrize(
    "url", ["socket://box", "socket://box:0", "socket://:8332", "socket://b:x"]
)
def test_a_socket_url_needs_a_host_and_a_valid_port(url: str) -> None:
    with pytest.raises(ValueError, match="socket://host:port"):
        check_device_url(url)


def test_the_connector_refuses_such_a_url_before_starting_anything(tmp_path: pathlib.Path) -> None:
    config = ConnectorConfig("spy://localhost:8332", datastore=tmp_path / "s.db")
    with pytest.raises(ValueError, match="spy://localhost:8332"):
        SparkConnector.start(config)
    assert not (tmp_path / "s.db").exists()


# ------------------------------------------------------------------ configuration


def test_tcp_hosts_get_the_default_port_unless_they_name_one() -> None:
    assert tcp_url("spark.local") == "socket://spark.local:8332"
    assert tcp_url("10.0.0.7:9000") == "socket://10.0.0.7:9000"
    for bad in ("", ":8332", "box:", "box:70000", "box:x"):
        with pytest.raises(ValueError, match="TCP host"):
            tcp_url(bad)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "wifi"}, "discovery mode"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"tcp_hosts": ("box:x",)}, "TCP host"),
    ],
)
def test_bad_discovery_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DiscoveryConfig(**settings)


def test_candidates_are_controller_usb_ports_then_tcp_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ports = [usb_port("/dev/ttyACM0"), usb_port("/dev/ttyUSB0", (0x0403, 0x6001))]
    ports.append(usb_port("/dev/ttyACM1", P1))
    ports.append(ListPortInfo("/dev/ttyS0", skip_link_detection=True))  # no USB ids
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    hosts = ("a", "b:1")
    assert DiscoveryConfig("all", hosts).candidates() == [
        "/dev/ttyACM0",
        "/dev/ttyACM1",
        "socket://a:8332",
        "socket://b:1",
    ]
    assert DiscoveryConfig("usb", hosts).candidates() == ["/dev/ttyACM0", "/dev/ttyACM1"]
    assert DiscoveryConfig("tcp", hosts).candidates() == ["socket://a:8332", "socket://b:1"]
    assert DiscoveryConfig("usb").exhaustible and DiscoveryConfig("all").exhaustible
    assert not DiscoveryConfig("tcp").exhaustible


# ------------------------------------------------------------------ the connector


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(tcp=("127.0.0.1", 0), pty=True) as simulator:
        yield simulator


@pytest.fixture
def start(tmp_path: pathlib.Path) -> Iterator[Any]:
    """Start discovering connectors with small intervals; all are stopped afterwards."""
    started: list[SparkConnector] = []

    def starting(discovery: DiscoveryConfig, **hooks: Any) -> SparkConnector:
        config = ConnectorConfig(
            None,
            datastore=tmp_path / "spark.db",
            ping_interval=0.1,
            reconnect_min=0.05,
            reconnect_max=0.1,
            broadcast_interval=60.0,
        )
        connector = SparkConnector.start(config, discovery=discovery, **hooks)
        started.append(connector)
        return connector

    yield starting
    for connector in started:
        connector.stop()


def test_usb_discovery_finds_the_simulator_pty_by_its_photon_ids(
    sim: Simulator, start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_ports, "comports", lambda: [usb_port(sim.pty_path)])
    connector = start(DiscoveryConfig("usb"))
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)
    assert isinstance(connector.execute(Noop()), Ack)


def test_tcp_discovery_finds_a_configured_host(sim: Simulator, start: Any) -> None:
    host, port = sim.tcp_address
    connector = start(DiscoveryConfig("tcp", tcp_hosts=(f"{host}:{port}",)))
    connector.wait_for(Phase.SYNCHRONIZED, WAIT)


def test_exhausted_usb_discovery_makes_the_connector_give_up_with_its_exit_code(
    start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_ports, "comports", list)
    causes: list[BaseException] = []
    connector = start(DiscoveryConfig("usb", max_attempts=3), on_failure=causes.append)
    assert connector.failed.wait(WAIT)
    assert isinstance(connector.failure, DiscoveryExhausted)
    assert connector.failure.attempts == 3
    assert connector.exit_code == EXIT_DISCOVERY_EXHAUSTED
    assert causes == [connector.failure]


def test_tcp_only_discovery_never_gives_up(
    start: Any, monkeypatch: pytest.MonkeyPatch, unused_tcp_port: int
) -> None:
    rounds = threading.Semaphore(0)
    listed = DiscoveryConfig.candidates

    def counting(self: DiscoveryConfig) -> list[str]:
        rounds.release()
        return listed(self)

    monkeypatch.setattr(DiscoveryConfig, "candidates", counting)
    connector = start(DiscoveryConfig("tcp", (f"127.0.0.1:{unused_tcp_port}",), max_attempts=2))
    for _ in range(6):  # three times the limit a USB discovery would have
        assert rounds.acquire(timeout=WAIT)
    assert not connector.failed.is_set()
    assert connector.phase is Phase.DISCONNECTED


@pytest.fixture
def unused_tcp_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_device_path_that_is_a_regular_file_or_a_directory_is_refused(
    tmp_path: pathlib.Path,
) -> None:
    (tmp_path / "file").write_text("not a device")
    with pytest.raises(ValueError, match="is a regular file, not a serial device"):
        check_device_url(str(tmp_path / "file"))
    with pytest.raises(ValueError, match="is a directory, not a serial device"):
        check_device_url(str(tmp_path))
    with pytest.raises(ValueError, match="is a directory"):
        SparkConnector.start(ConnectorConfig(str(tmp_path), datastore=tmp_path / "s.db"))
    assert check_device_url("/dev/null") == "/dev/null"  # a character device
