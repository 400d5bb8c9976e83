"""The ``spark-connector`` program run as a subprocess: JSON logs, signals and exit codes.

Each test runs ``python -m actors.spark`` and reads its stderr line by line on
a helper thread (so every wait is bounded), then checks the exit code the
program documents.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from logged_program import ROOT, WAIT, LoggedProgram

from actors.spark.cli import EXIT_USAGE
from actors.spark.connector import EXIT_DISCOVERY_EXHAUSTED, EXIT_FAILED
from actors.spark.datastore import Datastore
from actors.spark.discovery import DiscoveryConfig


@pytest.fixture
def run() -> Iterator[Any]:
    programs: list[LoggedProgram] = []

    def running(*args: str) -> LoggedProgram:
        program = LoggedProgram("actors.spark", *args, stdin=subprocess.DEVNULL)
        programs.append(program)
        return program

    yield running
    for program in programs:
        program.kill()


@pytest.mark.timeout(120)
def test_simulate_synchronizes_logs_json_and_exits_0_on_sigterm(
    run: Any, tmp_path: pathlib.Path
) -> None:
    program = run(
        "--simulate",
        "--log-format",
        "json",
        "--datastore",
        str(tmp_path / "spark.db"),
        "--ping-interval",
        "0.1",
    )
    program.wait_for_json({"event": "phase_changed", "new": "SYNCHRONIZED"})
    program.process.send_signal(signal.SIGTERM)
    assert program.wait() == 0, program.text
    entries = [json.loads(line) for line in program.lines]
    assert all("event" in entry for entry in entries), program.text
    changes = [(e["old"], e["new"]) for e in entries if e["event"] == "phase_changed"]
    assert changes[:3] == [
        ("DISCONNECTED", "CONNECTED"),
        ("CONNECTED", "ACKNOWLEDGED"),
        ("ACKNOWLEDGED", "SYNCHRONIZED"),
    ]
    assert entries[-1]["event"] == "exiting"
    assert entries[-1]["exit_code"] == 0


@pytest.mark.timeout(120)
def test_sigint_stops_cleanly_too_and_simulator_started_is_logged_once(
    run: Any, tmp_path: pathlib.Path
) -> None:
    program = run("--simulate", "--log-format", "json", "--datastore", str(tmp_path / "s.db"))
    program.wait_for_json({"event": "connector_started"})
    program.process.send_signal(signal.SIGINT)
    assert program.wait() == 0, program.text
    events = [json.loads(line)["event"] for line in program.lines]
    assert events.count("simulator_started") == 1, program.text


@pytest.mark.timeout(120)
def test_usb_discovery_without_ports_exits_with_the_documented_code(
    run: Any, tmp_path: pathlib.Path
) -> None:
    if DiscoveryConfig(mode="usb").usb_ports():
        pytest.skip("a Spark controller is plugged into this machine")
    program = run(
        "--discovery",
        "usb",
        "--discovery-attempts",
        "2",
        "--reconnect-min",
        "0.05",
        "--reconnect-max",
        "0.1",
        "--log-format",
        "json",
        "--datastore",
        str(tmp_path / "spark.db"),
    )
    assert program.wait() == EXIT_DISCOVERY_EXHAUSTED, program.text
    events = [json.loads(line)["event"] for line in program.lines]
    assert events.count("discovery_exhausted") == 1, program.text


def test_tcp_only_discovery_does_not_exit(run: Any, tmp_path: pathlib.Path) -> None:
    program = run(
        "--discovery",
        "tcp",
        "--tcp-host",
        "127.0.0.1:1",
        "--discovery-attempts",
        "1",
        "--reconnect-min",
        "0.05",
        "--reconnect-max",
        "0.05",
        "--log-level",
        "debug",
        "--log-format",
        "json",
        "--datastore",
        str(tmp_path / "spark.db"),
    )
    for _ in range(5):  # five failed rounds; with USB it would have exited after the first
        program.wait_for_json({"event": "discovery_attempt"})
    assert program.process.poll() is None
    program.process.send_signal(signal.SIGTERM)
    assert program.wait() == 0, program.text


@pytest.mark.parametrize(
    "url", ["spy://localhost:8332", "rfc2217://localhost:8332", "loop://", "ttyACM0"]
)
def test_a_device_url_with_another_scheme_is_refused_with_code_2(run: Any, url: str) -> None:
    program = run("--device", url, "--log-format", "json")
    assert program.wait() == EXIT_USAGE
    assert f"device URL {url!r} is refused" in program.text
    assert "socket://host:port" in program.text


def test_help_explains_the_options_and_exit_codes(run: Any) -> None:
    program = run("--help")
    assert program.wait() == 0
    assert program.process.stdout is not None
    text = program.process.stdout.read()
    for option in ("--device", "--discovery", "--simulate", "--allow-any-url", "--tcp-host"):
        assert option in text
    assert "exit codes:" in text
    assert f"{EXIT_DISCOVERY_EXHAUSTED}  discovery including USB" in text


def test_inconsistent_timing_is_a_usage_error(run: Any) -> None:
    program = run("--simulate", "--reconnect-min", "5", "--reconnect-max", "1")
    assert program.wait() == EXIT_USAGE
    assert "reconnect_max (1.0) must be >= reconnect_min (5.0)" in program.text


def test_an_api_on_the_network_without_a_token_is_a_usage_error(run: Any) -> None:
    program = run("--simulate", "--http", "0.0.0.0:0")
    assert program.wait() == EXIT_USAGE
    assert "the HTTP API on 0.0.0.0 would be reachable from the network" in program.text


def test_an_unusable_datastore_exits_1_with_a_clear_error(run: Any, tmp_path: pathlib.Path) -> None:
    store = tmp_path / "spark.db"
    store.write_bytes(b"this is not an SQLite database, not even close" * 100)
    program = run("--simulate", "--log-format", "json", "--datastore", str(store))
    assert program.wait() == EXIT_FAILED, program.text
    failed = [json.loads(line) for line in program.lines if "start_failed" in line]
    assert len(failed) == 1
    assert str(store) in failed[0]["error"]


def test_help_prints_the_real_default_datastore_path() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "actors.spark", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env={**os.environ, "XDG_DATA_HOME": "/srv/data"},  # never created by --help
    )
    assert done.returncode == 0
    assert "default: /srv/data/actorfsm/spark.db)" in " ".join(done.stdout.split())


def test_an_interval_below_its_floor_is_a_usage_error_and_help_says_the_floor(run: Any) -> None:
    program = run("--simulate", "--ping-interval", "1e-9")
    assert program.wait() == EXIT_USAGE
    assert "argument --ping-interval: must be a finite number of seconds >= 0.01" in program.text
    helped = run("--help")
    assert helped.wait() == 0
    assert helped.process.stdout is not None
    text = " ".join(helped.process.stdout.read().split())
    assert text.count("; at least 0.01)") == 6  # every timing option


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_device_path_that_is_a_file_or_directory_is_refused_at_start(
    run: Any, tmp_path: pathlib.Path, kind: str
) -> None:
    path = tmp_path / "tty"
    if kind == "file":
        path.write_text("not a device")
    else:
        path.mkdir()
    program = run("--device", str(path), "--datastore", str(tmp_path / "s.db"))
    assert program.wait() == EXIT_USAGE, program.text
    assert f"device path {str(path)!r} is a " in program.text


@pytest.mark.timeout(60)
def test_a_damaged_datastore_exits_1_at_start_naming_the_cause(
    run: Any, tmp_path: pathlib.Path
) -> None:
    store = tmp_path / "spark.db"
    datastore = Datastore(store)
    for n in range(300):
        datastore.set_block_name("dev", n, f"block {n} " * 5)
    datastore.close()
    data = bytearray(store.read_bytes())
    data[3 * 4096 + 8 : 4 * 4096] = b"\xa5" * (4096 - 8)  # block_names' root page
    store.write_bytes(bytes(data))
    began = time.monotonic()
    program = run("--simulate", "--log-format", "json", "--datastore", str(store))
    assert program.wait() == EXIT_FAILED, program.text
    assert time.monotonic() - began < 15  # at start-up, not at the first write
    (failed,) = [json.loads(line) for line in program.lines if "start_failed" in line]
    assert "is corrupt: damaged pages" in failed["error"]


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` now, in MiB."""
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    (kib,) = (line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) / 1024


@pytest.mark.timeout(120)
def test_under_a_flood_memory_and_log_stay_bounded_and_sigterm_exits_at_once(
    run: Any, tmp_path: pathlib.Path
) -> None:
    simulator = subprocess.Popen(
        [sys.executable, "-m", "actors.spark.simulator", "--tcp", "127.0.0.1:0"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert simulator.stdout is not None and simulator.stdin is not None
        address = simulator.stdout.readline().split("tcp=")[1].strip()
        program = run(
            *("--device", f"socket://{address}", "--log-format", "json"),
            *("--datastore", str(tmp_path / "spark.db")),
        )
        program.wait_for_json({"event": "phase_changed", "new": "SYNCHRONIZED"})
        before = rss_mib(program.process.pid)
        simulator.stdin.write(f"flood={1 << 30}\n")  # 1 GiB: still flooding at the SIGTERM
        simulator.stdin.flush()
        program.wait_for_json({"event": "controller_error"})
        time.sleep(2.0)
        during = rss_mib(program.process.pid)
        program.process.send_signal(signal.SIGTERM)
        began = time.monotonic()
        assert program.wait(timeout=20) == 0, program.text
        assert time.monotonic() - began < 10
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.communicate(timeout=30)
    assert during - before < 40, (before, during)
    assert len(program.lines) < 100, program.text[-3000:]


SCRIPTS = pathlib.Path(sys.executable).parent
"""Where the installed programs are (``spark-connector``, ``spark-sim``)."""


def catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a handler for SIGTERM now (its ``SigCgt`` mask)."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & 1 << (signal.SIGTERM - 1))
    return False


def loaded(pid: int, library: str) -> bool:
    """Whether process ``pid`` has loaded the shared library (an extension module) ``library``."""
    return library in pathlib.Path(f"/proc/{pid}/maps").read_text()


def terminated_at(delays: tuple[float, ...], command: list[str]) -> list[tuple[int, str]]:
    """Start ``command`` once per delay, all at once; SIGTERM each that many seconds after it
    first catches SIGTERM; return each exit code and stderr. ``{n}`` in an argument becomes
    the run's index. At that first moment it must not have imported its heavy modules yet
    (``_ctypes``, which every program loads right after them, is not loaded)."""
    processes = [
        subprocess.Popen(
            [arg.format(n=n) for arg in command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(len(delays))
    ]
    due: dict[int, float] = {}
    late: list[int] = []
    deadline = time.monotonic() + WAIT
    while len(due) < len(processes) and time.monotonic() < deadline:
        for n, process in enumerate(processes):
            if n not in due and catches_sigterm(process.pid):
                due[n] = time.monotonic() + delays[n]
                if loaded(process.pid, "_ctypes"):
                    late.append(n)
        time.sleep(0.001)
    for n, when in sorted(due.items(), key=lambda item: item[1]):
        time.sleep(max(0.0, when - time.monotonic()))
        processes[n].send_signal(signal.SIGTERM)
    for n, process in enumerate(processes):
        if n not in due:
            process.kill()  # it never caught SIGTERM: fail below, leave nothing running
    results = []
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        results.append((process.returncode, stderr))
    assert len(due) == len(processes), "a program never caught SIGTERM"
    assert not late, "SIGTERM was caught only after the heavy imports"
    return results


DELAYS = (0.0, 0.1, 0.3, 0.6, 1.0, 2.5)
"""When the SIGTERM comes after the program first catches it: while it imports its modules
(the first ones), while it starts, and while it runs."""


@pytest.mark.timeout(180)
def test_sigterm_at_any_moment_exits_0_with_the_datastore_intact(tmp_path: pathlib.Path) -> None:
    command = [str(SCRIPTS / "spark-connector"), "--simulate", "--log-format", "json"]
    command += ["--datastore", f"{tmp_path}/{{n}}.db", "--ping-interval", "0.1"]
    for n, (code, stderr) in enumerate(terminated_at(DELAYS, command)):
        assert code == 0, (DELAYS[n], stderr)
        assert "Traceback" not in stderr
        store = tmp_path / f"{n}.db"
        if store.exists():  # opening checks its integrity and that it can be written
            Datastore(store).close()


@pytest.mark.timeout(120)
def test_spark_sim_exits_0_on_sigterm_at_any_moment_and_leaves_no_link(
    tmp_path: pathlib.Path,
) -> None:
    delays = DELAYS[::2]
    command = [str(SCRIPTS / "spark-sim"), "--pty", f"{tmp_path}/tty{{n}}"]
    for n, (code, stderr) in enumerate(terminated_at(delays, command)):
        assert code == 0, (delays[n], stderr)
        assert not (tmp_path / f"tty{n}").exists()
