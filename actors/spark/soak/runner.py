"""Running a soak: the simulator, the connector, the clients, the chaos and the measurements.

:func:`run` starts a simulated controller (pty or TCP) and a connector on it
(a real SQLite datastore in a temporary directory, short timings so that a
thousand faults take minutes), waits for SYNCHRONIZED, starts the client
threads, and then plays the seed's schedule (:mod:`.schedule`) one episode at
a time:

1. inject the episode's faults; an identity switch (firmware, protocol
   version, device id) is brought up by a restart, as a reflash does;
2. a single incompatible switch must park the connector at ACKNOWLEDGED;
3. hold the lasting faults, then clear them; after an identity switch the
   soak waits briefly for the connector to synchronize by itself and, if it
   does not, restarts the controller (the reflash back);
4. probe with Noops until one succeeds: the time from the fault's end to that
   answer is the recovery time (a client command is answered only while
   SYNCHRONIZED).

With ``via="http"`` (``--via http``) the clients send every command through
the HTTP API, served from this process on a free loopback port, each over its
own kept-alive connection; an answer that does not come within the command's
timeout plus a second counts as lost. The recovery probes stay in-process.

The error lines logged from one episode's end to the next's are that failure
streak's. At the end the clients stop, then the connector, then the
simulator, and the process is sampled once more.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TextIO

import pykka

from actors.spark.config import ConnectorConfig
from actors.spark.connector import SparkConnector
from actors.spark.errors import SparkError
from actors.spark.http_client import HttpCommands
from actors.spark.phase import Phase
from actors.spark.protocol import Noop
from actors.spark.service import Service, ServiceOptions
from actors.spark.simulator import DEFAULT_HANDSHAKE, Fault, FaultKind, Simulator
from actors.spark.soak.clients import (
    CommandClient,
    CommandPath,
    CommandTally,
    lost_after,
    run_command,
)
from actors.spark.soak.figures import (
    MAX_ERROR_LINES_PER_STREAK,
    THREAD_SLACK,
    CommandFigures,
    Figures,
    KindFigures,
    LogFigures,
    PhaseFigures,
)
from actors.spark.soak.logtally import LogTally
from actors.spark.soak.phases import REFUSED, PhaseLog, PhaseRecorder
from actors.spark.soak.resources import Resources, settled_sample, start_shared_threads
from actors.spark.soak.schedule import IDENTITY, INCOMPATIBLE, Episode, episodes

Transport = Literal["pty", "tcp"]
Via = Literal["api", "http"]

TIMINGS = ConnectorConfig(
    None,
    ping_interval=0.2,
    handshake_timeout=1.0,
    command_timeout=0.5,
    broadcast_interval=0.5,
    reconnect_min=0.05,
    reconnect_factor=2.0,
    reconnect_max=0.5,
)
"""The connector's timings in a soak (seconds): short, so that recovery takes a second or so."""

START_BOUND = 30.0
"""Seconds the connector has to synchronize at start and the clients to create their objects."""

PARK_BOUND = 10.0
"""Seconds an incompatible controller has to park the connector at ACKNOWLEDGED."""

RECOVERY_BOUND = 30.0
"""Seconds after a fault's end within which the connector must answer again."""

SWITCH_BACK_GRACE = 2 * TIMINGS.ping_interval
"""Seconds a parked connector is given to synchronize by itself after the switch back."""

PROBE_TIMEOUT = 1.0
"""The timeout of each recovery probe (a Noop)."""

PROBE_PAUSE = 0.02
"""Seconds between probes that failed at once (a parked connector refuses without waiting)."""

PROGRESS_EVERY = 0.05
"""Print a progress line each time this share of the faults has been injected."""


@dataclass(frozen=True, slots=True)
class SoakOptions:
    """What to run: the seed, how many faults (and at most how long), over what, how many clients.

    ``echo`` gets the error-level log lines as they happen, ``progress`` a line
    now and then (None: silent).
    """

    seed: int = 1
    faults: int = 1000
    duration: float | None = None
    transport: Transport = "pty"
    clients: int = 4
    via: Via = "api"
    echo: TextIO | None = None
    progress: TextIO | None = None


def run(options: SoakOptions) -> Figures:
    """Run one soak and return its figures (``problems(figures)`` gives the verdict)."""
    started = time.monotonic()
    start_shared_threads()
    before = Resources.sample()
    figures = Figures(
        options.seed, options.transport, options.clients, options.faults, via=options.via
    )
    with (
        LogTally(echo=options.echo) as tally,
        tempfile.TemporaryDirectory(prefix="spark-soak-") as tmp,
        _simulator(options.transport) as simulator,
    ):
        url = simulator.pty_path if options.transport == "pty" else simulator.tcp_url
        config = dataclasses.replace(
            TIMINGS,
            device_url=url,
            datastore=f"{tmp}/spark.db",
            device_id=DEFAULT_HANDSHAKE.device_id,
        )
        soak = Soak(options, simulator, tally, figures)
        try:
            soak.start(config)
            soak.chaos(started)
        except TimeoutError as error:
            figures.aborted = str(error)
        except KeyboardInterrupt:
            figures.aborted = "interrupted"
        finally:
            soak.stop()
    figures.resources.before = before
    figures.resources.after_stop = settled_sample(before.threads + THREAD_SLACK)
    figures.elapsed_s = round(time.monotonic() - started, 1)
    soak.count_logs()
    return figures


@contextlib.contextmanager
def _simulator(transport: Transport) -> Iterator[Simulator]:
    tcp = ("127.0.0.1", 0) if transport == "tcp" else None
    with Simulator(tcp=tcp, pty=transport == "pty") as simulator:
        yield simulator


class Soak:
    """One run's moving parts and the figures they add up to."""

    def __init__(
        self, options: SoakOptions, simulator: Simulator, tally: LogTally, figures: Figures
    ) -> None:
        self.options = options
        self.simulator = simulator
        self.tally = tally
        self.figures = figures
        self.phases = PhaseLog()
        self.connector: SparkConnector | None = None
        self.service: Service | None = None
        self.paths: list[HttpCommands] = []
        """With ``via`` http: each client's connection to the HTTP API."""
        self.recorder: pykka.ActorRef[PhaseRecorder] | None = None
        self.stopping = threading.Event()
        self.clients: list[CommandClient] = []
        self.probes = CommandTally()
        self.streaks: collections.Counter[int] = collections.Counter()
        """How many failure streaks logged each number of error lines."""
        self.error_mark = 0
        figures.faults = {kind.value: KindFigures() for kind in FaultKind}

    # ------------------------------------------------------------- start and stop

    def start(self, config: ConnectorConfig) -> None:
        """Connect, wait for SYNCHRONIZED, start the clients and wait for their objects."""
        self.connector = connector = SparkConnector.start(config)
        self.recorder = PhaseRecorder.start(self.phases)
        connector.subscribe(self.recorder)
        connector.wait_for(Phase.SYNCHRONIZED, START_BOUND)
        self.clients = [
            CommandClient(self.path(connector), index, self.options.seed, self.stopping)
            for index in range(self.options.clients)
        ]
        for client in self.clients:
            client.start()
        deadline = time.monotonic() + START_BOUND
        for client in self.clients:
            if not client.ready.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"{client.name} could not create its object")
        self.error_mark = self.tally.mark()
        self.streaks[self.error_mark] += 1  # the start's
        self.figures.resources.start = Resources.sample()

    def path(self, connector: SparkConnector) -> CommandPath:
        """Where a client sends its commands: the connector, or (``via`` http) the HTTP API,
        served on a free loopback port from the first call on."""
        if self.options.via == "api":
            return connector
        if self.service is None:
            self.service = Service.start(connector, ServiceOptions(http=("127.0.0.1", 0)))
        assert self.service.http is not None
        commands = HttpCommands(self.service.http.url, connector.config)
        self.paths.append(commands)
        return commands

    def stop(self) -> None:
        """Stop the clients (each finishes its command), the HTTP API if any, then the
        connector and the recorder."""
        self.stopping.set()
        bound = lost_after(self.connector.config) if self.connector else 0.0
        for client in self.clients:
            client.join(bound + 1.0)
        for commands in self.paths:
            commands.close()
        if self.service is not None:
            self.service.stop()
        if self.connector is not None:
            if self.recorder is not None:
                self.connector.unsubscribe(self.recorder)
            self.connector.stop()
        if self.recorder is not None:
            self.recorder.stop()

    # ------------------------------------------------------------- chaos

    def chaos(self, started: float) -> None:
        """Play the schedule until its faults are injected, the duration is up or it breaks."""
        options = self.options
        injected = 0
        next_report = PROGRESS_EVERY * options.faults
        for episode in episodes(options.seed, options.faults):
            if options.duration is not None and time.monotonic() - started > options.duration:
                break
            self.episode(episode)
            injected += len(episode.faults)
            if self.figures.aborted:
                return
            if self.figures.resources.halfway is None and 2 * injected >= options.faults:
                self.figures.resources.halfway = Resources.sample()
            if options.progress is not None and injected >= next_report:
                next_report += PROGRESS_EVERY * options.faults
                self.report(injected, started)
        self.figures.resources.end = Resources.sample()

    def report(self, injected: int, started: float) -> None:
        """One progress line: how far, how long, how slow the slowest recovery was."""
        assert self.options.progress is not None
        self.options.progress.write(
            f"soak: {injected}/{self.options.faults} faults, "
            f"{time.monotonic() - started:.0f} s, "
            f"slowest recovery {self.figures.slowest_recovery_s:.2f} s, "
            f"unrecovered {self.figures.unrecovered}\n"
        )
        self.options.progress.flush()

    def episode(self, episode: Episode) -> None:
        """Inject, hold and clear one episode's faults; measure the recovery."""
        simulator = self.simulator
        self.phases.forget()  # the previous episodes' phases are counted already
        time.sleep(episode.pause)
        for fault, gap in zip(episode.faults, (0.0, *episode.gaps), strict=True):
            time.sleep(gap)
            simulator.inject(fault)
        identity = bool(episode.kinds & IDENTITY)
        reflash = self.phases.mark()
        if identity:
            simulator.inject(Fault(FaultKind.RESTART))
        parks = len(episode.faults) == 1 and bool(episode.kinds & INCOMPATIBLE)
        parked = parks and self.phases.wait(Phase.ACKNOWLEDGED, reflash, PARK_BOUND)
        if episode.held:
            time.sleep(episode.hold)
        if episode.kinds & INCOMPATIBLE:
            self.check_not_accepted(reflash)
        ended = time.monotonic()
        self_recovered = False
        if episode.held or identity:
            cleared = self.phases.mark()
            simulator.clear_faults()
            ended = time.monotonic()
            if parked:
                self_recovered = self.phases.wait(Phase.SYNCHRONIZED, cleared, SWITCH_BACK_GRACE)
            if identity and not self_recovered:
                simulator.inject(Fault(FaultKind.RESTART))
        recovery = self.recover(ended)
        if recovery is None:
            self.rescue()
        self.account(episode, recovery, parks, parked, self_recovered)

    def check_not_accepted(self, reflash: int) -> None:
        """An incompatible controller must never be synchronized: no SYNCHRONIZED after the
        link dropped for the reflash (one before the drop may be a late report)."""
        entered = self.phases.since(reflash)
        if Phase.DISCONNECTED in entered:
            after_drop = entered[entered.index(Phase.DISCONNECTED) :]
            if Phase.SYNCHRONIZED in after_drop:
                self.figures.incompatible_accepted += 1

    def recover(self, ended: float) -> float | None:
        """Probe until a Noop is answered; the seconds since ``ended``, or None past the bound."""
        assert self.connector is not None
        deadline = ended + RECOVERY_BOUND
        while (left := deadline - time.monotonic()) > 0:
            if self.connector.failed.is_set():
                self.figures.aborted = f"the connector gave up: {self.connector.failure!r}"
                return None
            outcome = run_command(self.connector, Noop(), self.probes, min(left, PROBE_TIMEOUT))
            if not isinstance(outcome, BaseException):
                return time.monotonic() - ended
            if isinstance(outcome, SparkError):
                time.sleep(PROBE_PAUSE)
        return None

    def rescue(self) -> None:
        """After a failed recovery (counted as such): clear everything, restart the
        controller and wait once more, so the next episode starts from SYNCHRONIZED;
        if even that fails, the run is aborted."""
        if self.figures.aborted:
            return
        self.simulator.clear_faults()
        self.simulator.inject(Fault(FaultKind.RESTART))
        if self.recover(time.monotonic()) is None:
            self.figures.aborted = f"no recovery within {2 * RECOVERY_BOUND} s"

    # ------------------------------------------------------------- figures

    def account(
        self,
        episode: Episode,
        recovery: float | None,
        parks: bool,
        parked: bool,
        self_recovered: bool,
    ) -> None:
        """Add one episode to the figures; its error lines close the current failure streak."""
        figures = self.figures
        figures.episodes += 1
        for fault in episode.faults:
            kind = figures.faults[fault.kind.value]
            kind.injected += 1
            kind.parks_expected += parks
            kind.parked += parked
            kind.self_recovered += self_recovered
            if recovery is None:
                figures.unrecovered += 1
                continue
            kind.recovered += 1
            kind.slowest_recovery_s = round(max(kind.slowest_recovery_s, recovery), 3)
        if recovery is not None:
            figures.slowest_recovery_s = round(max(figures.slowest_recovery_s, recovery), 3)
        mark = self.tally.mark()
        self.streaks[mark - self.error_mark] += 1
        self.error_mark = mark

    def count_logs(self) -> None:
        """Fill in the commands, phases and logs figures (after the stop)."""
        figures = self.figures
        commands = CommandFigures()
        failed: dict[str, int] = {}
        commands.slowest_client_response_s = round(
            max((client.tally.slowest_s for client in self.clients), default=0.0), 3
        )
        for tally in [self.probes, *(client.tally for client in self.clients)]:
            commands.sent += tally.sent
            commands.succeeded += tally.answered - tally.wrong
            commands.unclear += tally.unclear
            commands.lost += tally.lost
            commands.answered_wrongly += tally.wrong
            commands.examples += tally.examples
            for name, count in tally.failed.items():
                failed[name] = failed.get(name, 0) + count
        commands.failed = dict(sorted(failed.items()))
        figures.commands = commands
        refused = self.tally.warnings[REFUSED]
        figures.phases = PhaseFigures(
            changes=sum(self.phases.changes.values()),
            entered={p.name: self.phases.changes[p.name] for p in Phase},
            illegal_applied=len(self.phases.illegal),
            illegal_refused=refused,
            examples=self.phases.illegal[:5],
        )
        self.streaks[self.tally.mark() - self.error_mark] += 1  # the stop's
        figures.logs = LogFigures(
            streaks=self.streaks.total(),
            error_lines=self.tally.error_lines,
            max_error_lines_per_streak=max(self.streaks, default=0),
            streaks_over_limit=sum(
                count for lines, count in self.streaks.items() if lines > MAX_ERROR_LINES_PER_STREAK
            ),
            errors_by_event=dict(sorted(self.tally.errors.items())),
            warnings_by_event=dict(self.tally.warnings.most_common()),
            warning_samples=dict(self.tally.samples),
        )
