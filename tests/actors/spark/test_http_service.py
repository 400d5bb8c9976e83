"""The Spark connector as a service: ``spark-sim`` and ``spark-connector --http 127.0.0.1:0``
run as real processes, and the tests talk to them with a real HTTP client.

One simulator and one connector serve the module (starting them costs seconds);
tests that disturb them (faults, autoconnecting off, a reconnect) wait until
the controller is synchronized again before they end.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from logged_program import ROOT, WAIT, LoggedProgram
from paho.mqtt.enums import CallbackAPIVersion

from actors.spark.http_client import ApiFailure, SparkClient

TOKEN = "test-token"

pytestmark = pytest.mark.timeout(120)


def start_simulator(*args: str) -> tuple[LoggedProgram, str]:
    """A ``spark-sim`` on a free TCP port and its ``socket://`` URL."""
    sim = LoggedProgram("actors.spark.simulator", "--tcp", "127.0.0.1:0", *args)
    assert sim.process.stdout is not None
    first = sim.process.stdout.readline()
    address = first.split("tcp=")[1].split()[0]
    return sim, f"socket://{address}"


def start_connector(device: str, datastore: pathlib.Path, *args: str) -> tuple[LoggedProgram, str]:
    """A ``spark-connector --http 127.0.0.1:0`` on ``device``; it and the API's URL."""
    connector = LoggedProgram(
        "actors.spark",
        "--device",
        device,
        "--datastore",
        str(datastore),
        "--log-format",
        "json",
        "--http",
        "127.0.0.1:0",
        "--ping-interval",
        "0.1",
        "--command-timeout",
        "1",
        "--broadcast-interval",
        "0.3",
        "--reconnect-min",
        "0.1",
        "--reconnect-max",
        "0.5",
        *args,
    )
    listening = connector.wait_for_json({"event": "http_listening"})
    return connector, str(listening["url"])


def until(check: Any, timeout: float = WAIT, pause: float = 0.1) -> Any:
    """Call ``check`` until it returns something true (errors count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (ApiFailure, OSError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(pause)
    pytest.fail(f"not true within {timeout} s; last: {last!r}")


def synchronized(client: SparkClient) -> bool:
    return bool(client.status()["phase"] == "SYNCHRONIZED")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A simulator and a connector serving its API with a token; stopped after the module."""
    sim, device = start_simulator()
    connector: LoggedProgram | None = None
    try:
        datastore = tmp_path_factory.mktemp("http") / "spark.db"
        connector, url = start_connector(device, datastore, "--token", TOKEN)
        yield {"sim": sim, "connector": connector, "url": url}
    finally:
        if connector is not None:
            assert connector.stop() == 0, connector.text
        sim.stop()


@pytest.fixture
def client(service: dict[str, Any]) -> Iterator[SparkClient]:
    """An HTTP client with the token, once the controller is synchronized."""
    api = SparkClient(service["url"], TOKEN, timeout=WAIT)
    until(lambda: synchronized(api))
    yield api
    api.close()


def raw(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One request with urllib: (status, JSON body)."""
    request = urllib.request.Request(url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# ---------------------------------------------------------------- reads


def test_status_tells_phase_controller_and_connection(client: SparkClient) -> None:
    status = client.status()
    assert status["phase"] == "SYNCHRONIZED"
    assert status["in_phase_s"] >= 0
    assert status["autoconnecting"] is True
    assert status["connection"]["kind"] == "tcp"
    assert status["connection"]["address"].startswith("socket://127.0.0.1:")
    controller = status["controller"]
    assert controller["proto_version"] == status["service"]["proto_version"]
    assert len(controller["device_id"]) == 24
    assert controller["firmware_version"] and controller["reset_reason"]


def test_openapi_describes_every_route(service: dict[str, Any]) -> None:
    status, document = raw(service["url"], "GET", "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths["/spark/blocks/{id}"]) == {"get", "put", "delete"}
    for route in ("status", "ping", "reconnect", "reboot", "autoconnecting", "blocks", "events"):
        assert f"/spark/{route}" in paths


def test_ping_is_a_round_trip_and_needs_the_token(client: SparkClient) -> None:
    assert client.ping()["ok"] is True
    anonymous = SparkClient(f"http://{client.host}:{client.port}")
    with pytest.raises(ApiFailure) as refused:
        anonymous.ping()
    assert refused.value.status == 401
    assert anonymous.status()["phase"] == "SYNCHRONIZED"  # reads need no token
    anonymous.close()


# ---------------------------------------------------------------- blocks


def test_blocks_create_read_rename_write_list_delete(client: SparkClient) -> None:
    created = client.create({"type": 301, "data": "0a0b", "name": "fermenter"})
    object_id = created["id"]
    assert created == {
        "id": object_id,
        "name": "fermenter",
        "type": 301,
        "groups": 1,
        "data": "0a0b",
    }
    assert client.read("fermenter") == created
    assert client.read(object_id) == created
    renamed = client.write("fermenter", {"name": "fermenter 2"})
    assert renamed["name"] == "fermenter 2"
    with pytest.raises(ApiFailure) as gone:
        client.read("fermenter")
    assert gone.value.status == 404
    written = client.write("fermenter 2", {"data": "ff00"})
    assert written["data"] == "ff00"
    assert client.read(object_id)["data"] == "ff00"
    listed = {block["id"]: block for block in client.blocks()}
    assert listed[object_id]["name"] == "fermenter 2"
    assert {2, 3} <= listed.keys()
    assert client.delete("fermenter 2") == {"deleted": object_id}
    with pytest.raises(ApiFailure) as deleted:
        client.read(object_id)
    assert deleted.value.status == 404
    assert deleted.value.body["error"] == "UnknownBlock"


def test_a_name_belongs_to_one_block(client: SparkClient) -> None:
    first = client.create({"type": 301, "name": "kettle"})
    with pytest.raises(ApiFailure) as taken:
        client.create({"type": 301, "name": "kettle"})
    assert taken.value.status == 409
    assert taken.value.body["error"] == "NameTaken"
    with pytest.raises(ApiFailure) as exists:
        client.create({"id": first["id"], "type": 301})
    assert exists.value.status == 409
    assert exists.value.body["error"] == "BlockExists"
    client.delete(first["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b'{"type": "three"}', "type"),
        (b'{"type": 301, "groups": 256}', "groups"),
        (b'{"type": 301, "data": "xyz"}', "data"),
        (b'{"type": 301, "name": "has/slash"}', "name"),
        (b'{"type": 301, "name": "123"}', "name"),
        (b'{"type": 301, "colour": "red"}', "colour"),
        (b'{"data": "00"}', "type"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    service: dict[str, Any], body: bytes, field: str
) -> None:
    status, answer = raw(
        service["url"],
        "POST",
        "/spark/blocks",
        body,
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert status == 400
    assert answer["error"] == "BadRequest"
    assert answer["field"] == field
    assert "Traceback" not in json.dumps(answer)


def test_pages_of_other_sites_cannot_drive_it(service: dict[str, Any]) -> None:
    url, auth = service["url"], {"Authorization": f"Bearer {TOKEN}"}
    status, answer = raw(url, "POST", "/spark/ping", None, {**auth, "Origin": "http://evil.test"})
    assert (status, answer["error"]) == (403, "Forbidden")  # a cross-site POST
    status, answer = raw(url, "GET", "/spark/status", None, {"Host": "evil.test:5000"})
    assert (status, answer["error"]) == (403, "Forbidden")  # DNS rebinding onto loopback
    same_site = {**auth, "Origin": url}
    status, answer = raw(url, "POST", "/spark/ping", None, same_site)
    assert (status, answer["ok"]) == (200, True)


def test_limits_timeouts_and_unknown_routes(service: dict[str, Any]) -> None:
    url, auth = service["url"], {"Authorization": f"Bearer {TOKEN}"}
    big = b'{"data": "' + b"0" * 40_000 + b'"}'
    status, answer = raw(url, "POST", "/spark/blocks", big, auth)
    assert (status, answer["error"]) == (413, "RequestEntityTooLarge")
    status, answer = raw(url, "POST", "/spark/ping?timeout=soon", headers=auth)
    assert (status, answer["field"]) == (400, "timeout")
    status, answer = raw(url, "GET", "/spark/nowhere")
    assert (status, answer["error"]) == (404, "NotFound")
    status, answer = raw(url, "GET", "/spark/blocks/70000")
    assert (status, answer["field"]) == (400, "id")


def test_every_error_is_one_log_line(service: dict[str, Any], client: SparkClient) -> None:
    connector: LoggedProgram = service["connector"]
    before = sum(1 for e in connector.drain() if e.get("event") == "http_error")
    for _ in range(3):
        with pytest.raises(ApiFailure):
            client.read("no such block")
    time.sleep(0.2)
    errors = [e for e in connector.drain() if e.get("event") == "http_error"]
    assert len(errors) - before == 3
    assert errors[-1]["status"] == 404
    assert errors[-1]["path"] == "/spark/blocks/no such block"


# ---------------------------------------------------------------- failures


def test_not_connected_waits_its_timeout_then_503(client: SparkClient) -> None:
    assert client.request("PUT", "/spark/autoconnecting", {"enabled": False}) == {"enabled": False}
    try:
        until(lambda: client.status()["phase"] == "DISCONNECTED")
        assert client.request("GET", "/spark/autoconnecting") == {"enabled": False}
        started = time.monotonic()
        with pytest.raises(ApiFailure) as refused:
            client.ping(timeout=0.5)
        elapsed = time.monotonic() - started
        assert refused.value.status == 503
        assert refused.value.body["error"] == "NotConnected"
        assert 0.4 <= elapsed < 1.5
        with pytest.raises(ApiFailure) as by_name:
            client.read("fermenter", timeout=0.3)
        assert by_name.value.status == 503
    finally:
        client.request("PUT", "/spark/autoconnecting", {"enabled": True})
    until(lambda: synchronized(client))


def test_no_answer_in_time_is_504(service: dict[str, Any], client: SparkClient) -> None:
    sim: LoggedProgram = service["sim"]
    sim.send("delay=3000")  # the simulator reads it on a thread: pings may pass until it does
    try:
        late: ApiFailure | None = None
        deadline = time.monotonic() + WAIT
        while late is None and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                client.ping(timeout=0.5)
            except ApiFailure as failure:
                late = failure
            assert time.monotonic() - started < 0.5 + 1.0  # within its timeout + 1 s
        assert late is not None
        assert late.status in (503, 504)  # 503 if the Watchdog dropped the link first
        assert late.body["error"] in ("CommandTimeout", "ConnectionLost", "NotConnected")
    finally:
        sim.send("clear")
    until(lambda: client.ping(timeout=1.0))


def test_incompatible_firmware_is_409(service: dict[str, Any], client: SparkClient) -> None:
    sim: LoggedProgram = service["sim"]
    sim.send("proto-version=0badc0d")
    sim.send("restart")
    try:
        until(lambda: client.status()["controller"]["proto_version"] == "0badc0d")
        with pytest.raises(ApiFailure) as refused:
            client.ping(timeout=0.5)
        assert refused.value.status == 409
        assert refused.value.body["error"] == "IncompatibleFirmware"
    finally:
        sim.send("clear")
        sim.send("restart")
    until(lambda: synchronized(client))


def test_reconnect_and_reboot_come_back_synchronized(client: SparkClient) -> None:
    events = EventStream(f"http://{client.host}:{client.port}")
    try:
        assert events.next("phase")["phase"] == "SYNCHRONIZED"
        assert client.request("POST", "/spark/reconnect") == {"reconnecting": True}
        assert events.next("phase")["phase"] == "DISCONNECTED"
        events.until_phase("SYNCHRONIZED")
        assert client.request("POST", "/spark/reboot") == {"rebooting": True}
        events.until_phase("DISCONNECTED")
        events.until_phase("SYNCHRONIZED")
    finally:
        events.close()
    assert client.ping()["ok"] is True


# ---------------------------------------------------------------- events


class EventStream:
    """A client of ``GET /spark/events``, read on a thread."""

    def __init__(self, url: str) -> None:
        self.response = urllib.request.urlopen(url + "/spark/events", timeout=WAIT)
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = ""
        # close() from the test's thread ends the read with one of these.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            for line in self.response:
                text = line.decode().rstrip("\n")
                if text.startswith("event: "):
                    kind = text[7:]
                elif text.startswith("data: "):
                    self.events.put((kind, json.loads(text[6:])))

    def next(self, kind: str, timeout: float = WAIT) -> Any:
        """The next event of ``kind`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                break
            if got == kind:
                return data
        pytest.fail(f"no {kind} event within {timeout} s")

    def until_phase(self, phase: str) -> None:
        while self.next("phase")["phase"] != phase:
            pass

    def close(self) -> None:
        self.response.close()


def test_events_stream_phase_then_broadcast_values(client: SparkClient) -> None:
    created = client.create({"type": 301, "data": "beef", "name": "probe"})
    events = EventStream(f"http://{client.host}:{client.port}")
    try:
        first = events.next("phase")
        assert first["phase"] == "SYNCHRONIZED"
        client.write("probe", {"data": "cafe"})
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            blocks = {b["id"]: b for b in events.next("blocks")["blocks"]}
            if blocks.get(created["id"], {}).get("data") == "cafe":
                break
        else:
            pytest.fail("the broadcast never showed the written value")
        assert blocks[created["id"]]["name"] == "probe"
    finally:
        events.close()
        client.delete("probe")


# ---------------------------------------------------------------- the client CLI


def run_client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "actors.spark", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def test_client_cli_status_ping_and_blocks(client: SparkClient, service: dict[str, Any]) -> None:
    url = service["url"]
    status = run_client("status", "--url", url)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["phase"] == "SYNCHRONIZED"
    refused = run_client("ping", "--url", url)
    assert refused.returncode == 1
    assert "401" in refused.stderr
    assert run_client("ping", "--url", url, "--token", TOKEN).returncode == 0
    client.create({"type": 301, "data": "01", "name": "cli block"})
    try:
        write = run_client(
            "blocks", "write", "cli block", "--data", "0203", "--url", url, "--token", TOKEN
        )
        assert write.returncode == 0, write.stderr
        read = run_client("blocks", "read", "cli block", "--url", url)
        assert json.loads(read.stdout)["data"] == "0203"
        listed = run_client("blocks", "list", "--url", url)
        assert "cli block" in [b["name"] for b in json.loads(listed.stdout)]
        missing = run_client("blocks", "read", "nothing here", "--url", url)
        assert missing.returncode == 1
        assert "404 UnknownBlock" in missing.stderr
    finally:
        client.delete("cli block")
    unreachable = run_client("status", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert "cannot reach" in unreachable.stderr


def test_port_already_taken_exits_1(service: dict[str, Any], tmp_path: pathlib.Path) -> None:
    port = service["url"].rsplit(":", 1)[1]
    program = LoggedProgram(
        "actors.spark",
        "--device",
        "socket://127.0.0.1:9",
        "--datastore",
        str(tmp_path / "s.db"),
        "--log-format",
        "json",
        "--http",
        f"127.0.0.1:{port}",
    )
    program.wait_for_json({"event": "http_start_failed"})
    assert program.stop() == 1


# ---------------------------------------------------------------- MQTT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """Debian's mosquitto on a loopback port (``make test`` installs it)."""

    def __init__(self, port: int, directory: pathlib.Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not pathlib.Path(binary).exists():
            pytest.skip("mosquitto is not installed (make test installs it)")
        config = directory / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.05)
        pytest.fail("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(WAIT)


class Subscriber:
    """A paho client that collects every message under a topic filter."""

    def __init__(self, port: int, topics: str) -> None:
        self.messages: queue.Queue[tuple[str, Any, bool]] = queue.Queue()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topics)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, json.loads(m.payload), bool(m.retain))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def wait_for(self, topic: str, check: Any, timeout: float = WAIT) -> tuple[Any, bool]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, payload, retained = self.messages.get(timeout=left)
            except queue.Empty:
                break
            if got == topic and check(payload):
                return payload, retained
        pytest.fail(f"no matching message on {topic} within {timeout} s")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.timeout(180)
def test_mqtt_publishes_retained_state_and_blocks_and_survives_the_broker(
    tmp_path: pathlib.Path,
) -> None:
    port = free_port()
    broker = Broker(port, tmp_path)
    sim, device = start_simulator()
    connector: LoggedProgram | None = None
    subscribers: list[Subscriber] = []
    try:
        connector, url = start_connector(
            device, tmp_path / "spark.db", "--mqtt", f"mqtt://127.0.0.1:{port}",
            "--mqtt-prefix", "test/spark",
        )  # fmt: skip
        api = SparkClient(url, timeout=WAIT)
        until(lambda: synchronized(api))
        late = Subscriber(port, "test/spark/#")  # subscribes after the fact: retained state
        subscribers.append(late)
        state, retained = late.wait_for("test/spark/state", lambda p: p["phase"] == "SYNCHRONIZED")
        assert retained and state["online"] is True
        blocks, _ = late.wait_for("test/spark/blocks", lambda p: len(p["blocks"]) >= 2)
        assert {2, 3} <= {b["id"] for b in blocks["blocks"]}

        broker.stop()  # the connector goes on; it does not wait for the broker
        connector.wait_for_json({"event": "mqtt_disconnected"})
        assert api.ping()["ok"] is True
        broker = Broker(port, tmp_path)  # a fresh broker: nothing retained until republished
        connector.wait_for_json({"event": "mqtt_connected"})
        again = Subscriber(port, "test/spark/#")
        subscribers.append(again)
        state, retained = again.wait_for("test/spark/state", lambda p: True)
        assert retained and state["phase"] == "SYNCHRONIZED"
        api.close()
    finally:
        for subscriber in subscribers:
            subscriber.close()
        if connector is not None:
            assert connector.stop() == 0, connector.text
        sim.stop()
        broker.stop()
    offline = [e for e in connector.drain() if e.get("event") == "mqtt_stopped"]
    assert offline, connector.text
