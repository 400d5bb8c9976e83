"""The connector's datastore: one SQLite file holding what must survive a restart.

It holds the service config (``autoconnecting``, default true), block names
per controller device id, and the current reconnect interval (so a restart of
the program keeps backing off instead of hammering a dead controller).

The file is created on first use with user-only permissions (0600), in
user-only directories. Its schema is versioned (``PRAGMA application_id`` marks
it as ours, ``PRAGMA user_version`` is the schema version). At start-up the file
is checked for integrity (``PRAGMA quick_check``) and writability (a write
begun and rolled back); a corrupt, damaged, foreign, newer, locked or read-only
file raises :class:`DatastoreError` naming the cause (see
:mod:`actors.spark.datastore_files`) and is left untouched; a file this start
created and could not set up (a full disk) is removed. Every
write is one transaction. SQL is always parameterised.

Our file runs in WAL mode with ``synchronous=NORMAL`` (SQLite's advice for
applications): a commit is atomic and survives a crash of the program, readers
never wait for a writer, and a commit does not wait for the disk. An OS crash
or power cut may undo the last few commits but never corrupts the file. With
the default (a full sync per commit, 1.5-5 ms here) every reconnect paid for
two syncs, and reading the block names during a sync waited behind them. The
``-wal`` and ``-shm`` files beside it get the same user-only permissions
(SQLite copies the database file's).

Default path: ``$XDG_DATA_HOME/actorfsm/spark.db`` (``~/.local/share/actorfsm/spark.db``
when ``XDG_DATA_HOME`` is unset or relative); ``--datastore PATH`` overrides it.
"""

from __future__ import annotations

import os
import pathlib
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from actors.spark.datastore_files import DatastoreError, describe_failure, prepare, remove_created

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "Datastore", "DatastoreError", "default_path"]

APPLICATION_ID = 0x53504B31  # "SPK1"
SCHEMA_VERSION = 1

_SCHEMA = (
    "CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE block_names ("
    " device_id TEXT NOT NULL, object_id INTEGER NOT NULL, name TEXT NOT NULL,"
    " PRIMARY KEY (device_id, object_id))",
)


def default_path() -> pathlib.Path:
    """Where the datastore lives unless configured: under the user's data directory.

    A relative ``XDG_DATA_HOME`` is ignored, as the XDG Base Directory
    specification says, so the file never lands under the working directory.
    """
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return pathlib.Path(base) / "actorfsm" / "spark.db"


class Datastore:
    """A small key-value and block-name store in one SQLite file, safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = pathlib.Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        created = prepare(self.path)
        try:
            db = sqlite3.connect(self.path, timeout=2.0, check_same_thread=False)
        except sqlite3.Error as exc:
            if created:
                remove_created(self.path)
            raise DatastoreError(f"cannot open datastore {self.path}: {exc}") from exc
        try:
            self._check_or_create(db)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            self._check_integrity(db)
            self._check_writable(db)
        except (sqlite3.Error, DatastoreError) as exc:
            db.close()
            if created:
                remove_created(self.path)
            if isinstance(exc, DatastoreError):
                raise
            cause = describe_failure(self.path, exc)
            left = "it was removed" if created else "it was left untouched"
            raise DatastoreError(f"datastore {self.path} {cause}; {left}") from exc
        return db

    def _check_integrity(self, db: sqlite3.Connection) -> None:
        """Refuse damaged pages now rather than at the first read that meets them."""
        verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
        if verdict != "ok":
            raise DatastoreError(
                f"datastore {self.path} is corrupt: damaged pages (quick_check: {verdict}); "
                "it was left untouched"
            )

    @staticmethod
    def _check_writable(db: sqlite3.Connection) -> None:
        """Start a write and roll it back: a file SQLite opened read-only fails here.

        ``BEGIN IMMEDIATE`` alone only takes the lock (WAL lets readers past a
        writer); writing a header field makes SQLite open the write transaction.
        """
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            db.execute("ROLLBACK")

    def _check_or_create(self, db: sqlite3.Connection) -> None:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:
            with db:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if application_id != APPLICATION_ID:
            raise DatastoreError(
                f"{self.path} is not a Spark connector datastore "
                f"(application_id {application_id:#x}); it was left untouched"
            )
        if version != SCHEMA_VERSION:
            raise DatastoreError(
                f"{self.path} has schema version {version}, this program knows "
                f"{SCHEMA_VERSION}; it was left untouched"
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with self._db:
                    yield self._db
            except sqlite3.Error as exc:
                cause = describe_failure(self.path, exc)
                raise DatastoreError(f"datastore {self.path} {cause}") from exc

    def _get(self, key: str) -> str | None:
        with self._transaction() as db:
            row = db.execute("SELECT value FROM config WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO config (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def autoconnecting(self) -> bool:
        """Whether the connector may connect; false pauses it (the controller is away)."""
        return self._get("autoconnecting") != "false"

    @autoconnecting.setter
    def autoconnecting(self, value: bool) -> None:
        self._set("autoconnecting", "true" if value else "false")

    def reconnect_interval(self, default: float) -> float:
        """The persisted reconnect interval in seconds, or ``default`` if none was saved."""
        value = self._get("reconnect_interval")
        try:
            return default if value is None else float(value)
        except ValueError:
            return default

    def set_reconnect_interval(self, seconds: float) -> None:
        """Persist the current reconnect interval."""
        self._set("reconnect_interval", repr(float(seconds)))

    def block_names(self, device_id: str) -> dict[int, str]:
        """The block names stored for the controller ``device_id`` (case-insensitive)."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT object_id, name FROM block_names WHERE device_id = ? ORDER BY object_id",
                (device_id.lower(),),
            ).fetchall()
        return {int(object_id): str(name) for object_id, name in rows}

    def set_block_name(self, device_id: str, object_id: int, name: str) -> None:
        """Name the block ``object_id`` of controller ``device_id``."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO block_names (device_id, object_id, name) VALUES (?, ?, ?) "
                "ON CONFLICT (device_id, object_id) DO UPDATE SET name = excluded.name",
                (device_id.lower(), object_id, name),
            )

    def delete_block_name(self, device_id: str, object_id: int) -> None:
        """Forget the name of block ``object_id`` of controller ``device_id`` (if it has one)."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM block_names WHERE device_id = ? AND object_id = ?",
                (device_id.lower(), object_id),
            )

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
