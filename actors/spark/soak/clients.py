"""The soak's client threads: a steady stream of commands whose every answer is checked.

Each :class:`CommandClient` owns one user object on the controller (its own
id) and loops: write a value no other command ever writes, read the object
back, list the objects, read a system object, ping. An answer must belong to
its own request: a write is answered with exactly the object written, a read
with the object asked for, holding a value this client may have left there
(the last value confirmed, or one whose write failed in a way that may have
run it), a list with the system objects and this client's object. Anything
else is *answered wrongly*. A command that gets neither a reply nor an error
within :func:`lost_after` seconds is *lost*. Both must never happen.
"""

from __future__ import annotations

import collections
import random
import struct
import threading
import time
from dataclasses import dataclass, field

import pykka

from actors.spark.config import ConnectorConfig
from actors.spark.connector import REPLY_MARGIN, SparkConnector
from actors.spark.errors import CommandFailed, IncompatibleFirmware, NotConnected, SparkError
from actors.spark.http_client import HttpCommands
from actors.spark.protocol import (
    SYSINFO_ID,
    SYSINFO_TYPE,
    TICKS_ID,
    TICKS_TYPE,
    USER_START_ID,
    Ack,
    CreateObject,
    Errcode,
    ListObjects,
    Noop,
    ObjectListReply,
    ObjectReply,
    ReadObject,
    Reply,
    Request,
    SparkObject,
    WriteObject,
)

OBJECT_TYPE = 301
"""The type of the clients' objects (any user type the simulator accepts)."""

PACE = 0.005
"""Seconds a client waits between commands, so that four of them leave the CPU some air."""

EXAMPLES = 5
"""How many lost or wrong commands a tally describes in words."""

_SYSTEM_TYPES = {SYSINFO_ID: SYSINFO_TYPE, TICKS_ID: TICKS_TYPE}


CommandPath = SparkConnector | HttpCommands
"""Where a client's commands go: the in-process API, or the HTTP API (``--via http``)."""


def lost_after(config: ConnectorConfig, timeout: float | None = None) -> float:
    """Seconds after which a command with ``timeout`` (default: the config's) counts as lost.

    A command may wait its timeout for SYNCHRONIZED and as long again for its
    answer; the margin is the connector's own safety net.
    """
    return 2 * (config.command_timeout if timeout is None else timeout) + REPLY_MARGIN


@dataclass
class CommandTally:
    """What one client's commands came to (owned by its thread; read after it ended).

    ``answered`` counts replies, right or ``wrong``; ``failed`` errors by name,
    of which ``unclear`` are not a :class:`SparkError`.
    """

    sent: int = 0
    answered: int = 0
    failed: collections.Counter[str] = field(default_factory=collections.Counter)
    unclear: int = 0
    lost: int = 0
    wrong: int = 0
    slowest_s: float = 0.0
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Keep ``text`` as an example, if there are not enough yet."""
        if len(self.examples) < EXAMPLES:
            self.examples.append(text)


def error_name(error: BaseException) -> str:
    """The name a failure is counted under: its type, with the errcode for ``CommandFailed``."""
    if isinstance(error, CommandFailed):
        return f"CommandFailed({error.errcode.name})"
    return type(error).__name__


def may_have_run(error: BaseException) -> bool:
    """Whether a write that failed with ``error`` may still have reached the controller."""
    return not (
        type(error) is NotConnected or isinstance(error, IncompatibleFirmware | CommandFailed)
    )


def run_command(
    connector: CommandPath, request: Request, tally: CommandTally, timeout: float | None = None
) -> Reply | BaseException | None:
    """Run ``request``; the reply, or the error it failed with (counted in ``tally`` either way)."""
    tally.sent += 1
    bound = lost_after(connector.config, timeout)
    started = time.monotonic()
    future = connector.execute(request, block=False, timeout=timeout)
    try:
        reply = future.get(timeout=bound)
    except pykka.Timeout as lost:  # the HTTP path: no answer within its timeout + 1 s
        tally.lost += 1
        tally.note(f"lost: {request!r} unanswered after {bound} s")
        return lost
    except SparkError as error:
        tally.failed[error_name(error)] += 1
        return error
    except Exception as error:  # not a SparkError: an error a client cannot act on
        tally.failed[error_name(error)] += 1
        tally.unclear += 1
        tally.note(f"unclear: {request!r} failed with {error!r}")
        return error
    finally:
        tally.slowest_s = max(tally.slowest_s, time.monotonic() - started)
    tally.answered += 1
    return reply


class CommandClient(threading.Thread):
    """Sends commands through ``connector`` until ``stopping`` is set, checking every answer."""

    def __init__(
        self, connector: CommandPath, index: int, seed: int, stopping: threading.Event
    ) -> None:
        super().__init__(name=f"soak-client-{index}", daemon=True)
        self.connector = connector
        self.index = index
        self.stopping = stopping
        self.rng = random.Random(f"{seed}/client/{index}")
        self.object_id = USER_START_ID + index
        self.sequence = 0
        self.possible = {self.value()}
        self.tally = CommandTally()
        self.ready = threading.Event()
        """Set once the client's object exists on the controller."""

    def value(self) -> bytes:
        """The data of this client's next write: unique to the client and the write."""
        return struct.pack("<HI", self.index, self.sequence)

    def own(self, data: bytes) -> SparkObject:
        """This client's object holding ``data``."""
        return SparkObject(self.object_id, 1, OBJECT_TYPE, data)

    def run(self) -> None:
        while not self.ready.is_set() and not self.stopping.is_set():
            self.create()
        while not self.stopping.wait(PACE):
            self.step()

    def create(self) -> None:
        """Create the client's object; one already there was made by an earlier attempt."""
        created = self.own(self.value())
        match self.command(CreateObject(created)):
            case ObjectReply(obj) if obj == created:
                self.ready.set()
            case CommandFailed(errcode=Errcode.INVALID_OBJECT_ID):
                self.ready.set()
            case ObjectReply() as reply:
                self.wrong(CreateObject(created), reply)
            case _:
                self.stopping.wait(PACE)

    def step(self) -> None:
        """Send one command, chosen at random, and check what comes back."""
        draw = self.rng.random()
        if draw < 0.3:
            self.write()
        elif draw < 0.6:
            self.check(ReadObject(self.object_id))
        elif draw < 0.75:
            self.check(ListObjects())
        elif draw < 0.9:
            self.check(ReadObject(self.rng.choice((SYSINFO_ID, TICKS_ID))))
        else:
            self.check(Noop())

    def write(self) -> None:
        """Write a fresh value; the object may now hold it unless the write surely did not run."""
        self.sequence += 1
        written = self.own(self.value())
        request = WriteObject(written)
        match self.command(request):
            case ObjectReply(obj) if obj == written:
                self.possible = {written.data}
            case BaseException() as error:
                if may_have_run(error):
                    self.possible.add(written.data)
            case reply:
                self.wrong(request, reply)

    def check(self, request: Request) -> None:
        """Send a request that changes nothing and check its reply, if one comes."""
        outcome = self.command(request)
        if isinstance(outcome, BaseException):
            return
        if not self.belongs(request, outcome):
            self.wrong(request, outcome)

    def belongs(self, request: Request, reply: Reply | None) -> bool:
        """Whether ``reply`` is a right answer to ``request`` (noting what the object holds)."""
        match request, reply:
            case Noop(), Ack():
                return True
            case ReadObject(object_id), ObjectReply(obj) if object_id == self.object_id:
                return self.confirm(obj)
            case ReadObject(object_id), ObjectReply(obj):
                return obj.object_id == object_id and obj.object_type == _SYSTEM_TYPES[object_id]
            case ListObjects(), ObjectListReply(objects):
                found = {obj.object_id: obj for obj in objects}
                mine = found.get(self.object_id)
                return {SYSINFO_ID, TICKS_ID} <= found.keys() and (
                    mine is not None and self.confirm(mine)
                )
        return False

    def confirm(self, obj: SparkObject) -> bool:
        """The client's object as read: right if it holds a value this client may have left."""
        if obj != self.own(obj.data) or obj.data not in self.possible:
            return False
        self.possible = {obj.data}
        return True

    def command(self, request: Request) -> Reply | BaseException | None:
        """Run ``request``, counted in this client's tally."""
        return run_command(self.connector, request, self.tally)

    def wrong(self, request: Request, reply: Reply | None) -> None:
        """Count and describe an answer that does not belong to its request."""
        self.tally.wrong += 1
        self.tally.note(f"wrong: {request!r} answered {reply!r} (may hold {self.possible!r})")
