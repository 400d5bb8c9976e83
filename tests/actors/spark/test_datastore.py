"""The SQLite datastore: created on first use, versioned, safe with bad files, user-only."""

from __future__ import annotations

import pathlib
import sqlite3
import stat
import threading

import pytest

from actors.spark.datastore import Datastore, DatastoreError, default_path


def test_created_on_first_use_with_user_only_permissions(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sub" / "spark.db"
    store = Datastore(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.autoconnecting is True
    store.set_block_name("C0FFEE", 1, "Fermenter")  # a write creates the WAL files too
    journal = sorted(p.name for p in path.parent.iterdir() if p != path)
    assert journal == ["spark.db-shm", "spark.db-wal"]
    for name in journal:
        assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600
    store.close()


def test_values_survive_a_restart(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    store = Datastore(path)
    store.autoconnecting = False
    store.set_reconnect_interval(4.5)
    store.set_block_name("ABCDEF", 100, "Fermenter")
    store.set_block_name("abcdef", 101, "Kettle")
    store.set_block_name("other", 100, "Elsewhere")
    store.close()
    again = Datastore(path)
    assert again.autoconnecting is False
    assert again.reconnect_interval(default=2.0) == 4.5
    assert again.block_names("AbCdEf") == {100: "Fermenter", 101: "Kettle"}
    assert again.block_names("nobody") == {}
    again.close()


def test_reconnect_interval_defaults_when_unset(tmp_path: pathlib.Path) -> None:
    store = Datastore(tmp_path / "spark.db")
    assert store.reconnect_interval(default=2.0) == 2.0
    store.close()


def test_names_are_stored_verbatim_never_interpreted_as_sql(tmp_path: pathlib.Path) -> None:
    store = Datastore(tmp_path / "spark.db")
    hostile = "x'); DROP TABLE block_names; --"
    store.set_block_name(hostile, 1, hostile)
    assert store.block_names(hostile) == {1: hostile}
    store.close()


def test_corrupt_file_is_a_clear_error_and_left_untouched(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    garbage = b"this is not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(DatastoreError, match="corrupt"):
        Datastore(path)
    assert path.read_bytes() == garbage


def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE mine (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(DatastoreError, match="not a Spark connector datastore"):
        Datastore(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    Datastore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(DatastoreError, match="schema version 99"):
        Datastore(path)


def test_locked_file_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    Datastore(path).close()
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatastoreError, match="locked by another program"):
            Datastore(path)
    finally:
        holder.rollback()
        holder.close()


def test_shared_between_threads(tmp_path: pathlib.Path) -> None:
    store = Datastore(tmp_path / "spark.db")

    def write(n: int) -> None:
        for i in range(20):
            store.set_block_name("dev", n * 100 + i, f"b{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(store.block_names("dev")) == 80
    store.close()


def test_default_path_is_under_the_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "/data/home")
    assert default_path() == pathlib.Path("/data/home/actorfsm/spark.db")


def test_a_relative_xdg_data_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_path() == pathlib.Path("/home/someone/.local/share/actorfsm/spark.db")
