"""The observer server through a real HTTP client: list, detail, trees, stream, metrics, actions."""

from __future__ import annotations

import enum
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from actorfsm import (
    ChildSpec,
    Event,
    GetChild,
    LoggingFSM,
    OneForOne,
    Supervisor,
    goto,
    metrics,
    stay,
)
from actorfsm.observer import ObserverServer, serve
from actorfsm.observer.diagram_svg import parse, render

pytestmark = pytest.mark.timeout(30)


class S(enum.Enum):
    IDLE = 1
    BUSY = 2


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Worker(LoggingFSM[S, Any]):
    log_depth = 5
    handler_warn_after = 0.05

    def __init__(self, data: Any = 0) -> None:
        super().__init__()
        self.start_with(S.IDLE, data)
        self.when(S.IDLE, self.handle)
        self.when(S.BUSY, self.handle, state_timeout=30.0)

    def handle(self, event: Event) -> Any:
        match event.event:
            case "go":
                return goto(S.BUSY if self.state_name is S.IDLE else S.IDLE)
            case ("timer", name, delay):
                self.start_single_timer(name, "tick", delay)
                return stay()
            case ("hold", gate):
                gate.wait(5)
                return stay()
        return stay()


@pytest.fixture
def observer() -> Iterator[ObserverServer]:
    server = serve(registry=CollectorRegistry())
    yield server
    server.stop()
    metrics.disable()


def get(server: ObserverServer, path: str) -> Any:
    with urllib.request.urlopen(server.url + path.lstrip("/"), timeout=5) as response:
        return json.loads(response.read())


def post(server: ObserverServer, path: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(server.url + path.lstrip("/"), method="POST", data=b"")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def id_of(ref: Any) -> str:
    return str(ref.actor_urn).rsplit(":", 1)[-1]


def test_serve_listens_on_loopback_on_a_free_port_and_stops(observer: ObserverServer) -> None:
    assert observer.url.startswith("http://127.0.0.1:")
    assert not observer.url.endswith(":0/")
    with urllib.request.urlopen(observer.url, timeout=5) as response:
        page = response.read().decode()
    assert '<script src="/observer.js">' in page and "https://" not in page
    observer.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(observer.url, timeout=2)


def test_the_list_is_searched_and_paged(observer: ObserverServer) -> None:
    refs = [Worker.start() for _ in range(120)]
    for ref in refs[:30]:
        ref.ask("go")
    first = get(observer, "/api/fsms?q=Worker&page=0&size=50")
    assert (first["matched"], first["pages"], len(first["rows"])) == (120, 3, 50)
    last = get(observer, "/api/fsms?q=Worker&page=2&size=50")
    assert len(last["rows"]) == 20
    busy = get(observer, "/api/fsms?q=class:worker+state:busy&size=500")
    assert busy["matched"] == 30 and {row["state"] for row in busy["rows"]} == {"BUSY"}
    name = first["rows"][0]["name"]
    assert get(observer, f"/api/fsms?q=name:{name}")["matched"] == 1
    assert get(observer, "/api/fsms?q=nothing-like-this")["matched"] == 0


def test_detail_shows_state_data_timers_timeout_log_and_diagram(observer: ObserverServer) -> None:
    ref = Worker.start("x" * 5000)
    ref.ask(("timer", "reminder", 60.0))
    ref.ask("go")
    ref.ask("go")
    ref.ask("go")
    detail = get(observer, f"/api/fsm/{id_of(ref)}")
    assert detail["state"] == "BUSY"
    assert detail["data"].endswith("...<4502 more chars>")  # safe_repr's cap, as in the report
    assert detail["timers"][0]["name"] == "'reminder'"
    assert 55.0 < detail["timers"][0]["seconds_left"] <= 60.0
    assert 25.0 < detail["state_timeout"] <= 30.0
    events = [entry["event"] for entry in detail["log"]]
    assert events == ["'go'", "'go'", "'go'", "('timer', 'reminder', 60.0)"]  # newest first
    assert detail["log"][0]["at"] == pytest.approx(time.time(), abs=5)
    assert detail["current_event"] is None
    svg = detail["diagram"]
    assert svg.startswith("<svg") and ">IDLE<" in svg and ">BUSY<" in svg
    assert ">2<" in svg and ">1<" in svg  # IDLE -> BUSY twice, BUSY -> IDLE once
    assert 'class="state current" data-state="BUSY"' in svg


def test_detail_renders_unprintable_data_safely(observer: ObserverServer) -> None:
    ref = Worker.start(Unprintable())
    detail = get(observer, f"/api/fsm/{id_of(ref)}")
    assert detail["data"] == "<unrepresentable Unprintable: RuntimeError>"


def test_a_stuck_handler_shows_its_event_duration_and_stack(observer: ObserverServer) -> None:
    ref = Worker.start()
    gate = threading.Event()
    ref.tell(("hold", gate))
    try:
        deadline = time.monotonic() + 10
        while not (detail := get(observer, f"/api/fsm/{id_of(ref)}"))["stuck"]:
            assert time.monotonic() < deadline, detail
            time.sleep(0.02)
        assert detail["current_event"].startswith("('hold',"), detail
        assert detail["busy_for"] > 0.05, detail
        assert "gate.wait(5)" in detail["stack"], detail
    finally:
        gate.set()


def test_unknown_fsm_is_not_found(observer: ObserverServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        get(observer, "/api/fsm/no-such-id")
    assert error.value.code == 404


def test_trees_show_children_lifecycle_and_restarts(observer: ObserverServer) -> None:
    sup = Supervisor.start(OneForOne(), [ChildSpec("worker", Worker)])
    child = sup.ask(GetChild("worker"))
    child.ask("ping")
    (tree,) = get(observer, "/api/trees")
    assert tree["id"] == id_of(sup)
    (view,) = tree["children"]
    assert (view["name"], view["class"], view["lifecycle"]) == ("worker", "Worker", "RUNNING")
    assert view["fsm"] == id_of(child.current())
    assert view["alerts"] == []
    sup.stop()


def test_metrics_are_served_on_the_same_server(observer: ObserverServer) -> None:
    Worker.start()
    with urllib.request.urlopen(observer.url + "metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'actorfsm_fsms{fsm_class="Worker",state="IDLE"} 1.0' in text


def read_events(response: Any, wanted: str, until: Any, timeout: float = 5.0) -> dict[str, Any]:
    """Read server-sent events until one named ``wanted`` satisfies ``until``."""
    deadline = time.monotonic() + timeout
    name = None
    while time.monotonic() < deadline:
        line = response.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name == wanted:
            payload: dict[str, Any] = json.loads(line.removeprefix("data: "))
            if until(payload):
                return payload
    raise AssertionError(f"no {wanted} event matched")


def test_the_event_stream_pushes_changes(observer: ObserverServer) -> None:
    ref = Worker.start()
    url = f"{observer.url}events?fsm={id_of(ref)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        read_events(response, "fsm", lambda fsm: fsm["state"] == "IDLE")
        ref.tell("go")
        pushed = read_events(response, "fsm", lambda fsm: fsm["state"] == "BUSY")
        assert pushed["log"][0]["event"] == "'go'"
        ref.stop()
        read_events(response, "count", lambda count: count["total"] == 0)


def test_actions_are_off_by_default(observer: ObserverServer) -> None:
    ref = Worker.start()
    assert get(observer, "/api/config") == {"actions": False}
    status, body = post(observer, f"/api/fsm/{id_of(ref)}/stop", token="anything")
    assert status == 403 and "disabled" in body["error"]
    assert ref.is_alive()


def test_actions_need_the_token_given_at_start() -> None:
    server = serve(actions_token="s3cret", registry=CollectorRegistry())
    try:
        sup = Supervisor.start(OneForOne(), [ChildSpec("worker", Worker)])
        child = sup.ask(GetChild("worker"))
        first = child.current()
        ref = Worker.start()
        assert post(server, f"/api/fsm/{id_of(ref)}/stop")[0] == 401
        assert post(server, f"/api/fsm/{id_of(ref)}/stop", token="wrong")[0] == 401
        assert ref.is_alive()
        assert post(server, f"/api/fsm/{id_of(ref)}/stop", token="s3cret")[0] == 202
        ref.actor_stopped.wait(5)
        assert not ref.is_alive()
        restart = f"/api/fsm/{id_of(sup)}/children/worker/restart"
        assert post(server, restart)[0] == 401
        assert first.is_alive()
        assert post(server, restart, token="s3cret")[0] == 202
        deadline = time.monotonic() + 5
        while child.current() in (None, first):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert child.ask("ping") is None
        sup.stop()
    finally:
        server.stop()
        metrics.disable()


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="actions_token"):
        serve(actions_token="", metrics=False)


def test_the_diagram_reads_mermaid_with_aliases_and_self_loops() -> None:
    text = (
        "stateDiagram-v2\n    [*] --> A\n    A\n    s1\n    A --> s1: 3\n    s1 --> s1: 12\n"
        '    state "two words" as s1\n'
    )
    chart = parse(text)
    assert chart.initial == "A" and chart.states == ["A", "s1"]
    assert chart.edges == [("A", "s1", 3), ("s1", "s1", 12)]
    svg = render(text, current="two words")
    assert ">two words<" in svg and ">12<" in svg and "<circle" in svg
    assert 'data-state="two words"' in svg.split('class="state current"')[1][:40]


def test_python_m_actorfsm_observer_serves_a_demo_system() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "actorfsm.observer", "--pool", "5", "--seconds", "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split()[1]
        assert line.startswith("observer: http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/trees", timeout=5) as response:
            (tree,) = json.loads(response.read())
        assert [child["name"] for child in tree["children"]] == ["service", "flaky", "pollers"]
        with urllib.request.urlopen(url + "api/fsms?q=Counter", timeout=5) as response:
            assert json.loads(response.read())["matched"] == 5
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_turns_off_only_the_metrics_it_turned_on() -> None:
    server = serve(registry=CollectorRegistry())
    assert metrics.current() is not None
    server.stop()
    assert metrics.current() is None
    mine = metrics.enable(CollectorRegistry())
    try:
        server = serve()
        assert server.registry is mine.registry
        server.stop()
        assert metrics.current() is mine
    finally:
        metrics.disable()
