"""``LoggedProgram``: a ``python -m`` subprocess whose stderr log lines are read on a thread.

The tests that run the Spark programs as real processes share it: every wait
is bounded (a helper thread feeds stderr lines to a queue), and what the
program logged so far is kept for the failure message.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import queue
import subprocess
import sys
import threading
import time
from typing import IO, Any

import pytest

WAIT = 30.0
"""Seconds to wait for a program (a fresh interpreter on a shared machine)."""

ROOT = pathlib.Path(__file__).resolve().parents[2]


class LoggedProgram:
    """``python -m module *args`` run from the repository's root, its stderr read line by line."""

    def __init__(self, module: str, *args: str, stdin: int | IO[Any] = subprocess.PIPE) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for_json(self, wanted: dict[str, Any], timeout: float = WAIT) -> dict[str, Any]:
        """Read stderr until a JSON line that has all of ``wanted``'s items (others are kept)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"the program ended before logging {wanted}:\n{self.text}")
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and wanted.items() <= entry.items():
                    return entry
        pytest.fail(f"no log line {wanted} within {timeout} s:\n{self.text}")

    def drain(self) -> list[dict[str, Any]]:
        """The JSON log lines that arrived so far (all lines are also kept in :attr:`lines`)."""
        self._collect()
        entries = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    @property
    def text(self) -> str:
        """Everything read from stderr so far."""
        return "".join(self.lines)

    def send(self, line: str) -> None:
        """Type ``line`` on the program's stdin (the simulator takes fault specs there)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait(self, timeout: float = WAIT) -> int:
        """Wait for the exit code; collect the rest of stderr."""
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        self._collect()
        return code

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(WAIT)
        self._close()
        return code

    def kill(self) -> None:
        """End the program now (a test's clean-up) and close its pipes."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)
        self._close()

    def _collect(self) -> None:
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)

    def _close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
