"""The SQLite datastore: created on first use, versioned, safe with bad files, user-only."""

from __future__ import annotations

import os
import pathlib
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
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


# ------------------------------------------------------------ start-up checks (file on disk)

OPEN = """
import sys
from actors.spark.datastore import Datastore, DatastoreError
try:
    Datastore(sys.argv[1]).close()
except DatastoreError as error:
    print(error)
    sys.exit(1)
print("opened")
"""


def open_in_a_child(
    path: pathlib.Path, *, other_user: bool = False, file_size_limit: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Open the datastore in a child process: without root's privilege over files, or with
    a file-size limit (RLIMIT_FSIZE: a write past it fails as on a full disk)."""

    def limit() -> None:
        if file_size_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write, not the process
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

    # Root writes any file. In a user namespace of its own (no uid mapped) it keeps its
    # files but loses that privilege, so the permission bits apply to it as to anyone.
    bare = other_user and os.geteuid() == 0
    return subprocess.run(
        [*(["unshare", "--user"] if bare else []), sys.executable, "-c", OPEN, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_a_read_only_file_is_refused_at_start_naming_the_cause(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    Datastore(path).close()
    path.chmod(0o444)
    before = path.read_bytes()
    done = open_in_a_child(path, other_user=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is read-only: this user may not write it" in done.stdout
    assert path.read_bytes() == before


def test_damaged_pages_are_refused_at_start(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    store = Datastore(path)
    for n in range(300):  # several pages of block names
        store.set_block_name("dev", n, f"block {n} " * 5)
    store.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 4 * 4096
    data[3 * 4096 + 8 : 4 * 4096] = b"\xa5" * (4096 - 8)  # page 4, block_names' root
    path.write_bytes(bytes(data))
    with pytest.raises(DatastoreError, match="is corrupt: damaged pages"):
        Datastore(path)
    assert path.read_bytes() == bytes(data)


def test_a_full_disk_at_creation_names_the_cause_and_leaves_no_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "spark.db"
    done = open_in_a_child(path, file_size_limit=0)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot be written: the file-size limit of this process" in done.stdout
    assert "corrupt" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_filesystem_is_named(tmp_path: pathlib.Path) -> None:
    """In a user and mount namespace (no privileges needed): a tmpfs, then remounted read-only."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    python = f"{sys.executable} -c '{OPEN}'"
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {mount} && {python} {mount}/spark.db >/dev/null && "
        f"mount -o remount,ro {mount} && {python} {mount}/spark.db; "
        f"{python} {mount}/new/spark.db"
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    if "unshare" in done.stderr or "mount" in done.stderr:
        pytest.skip(f"no user and mount namespaces here: {done.stderr.strip()}")
    existing, new = done.stdout.splitlines()
    assert f"is on a read-only filesystem ({mount})" in existing
    assert "cannot create directory" in new and "Read-only file system" in new
    assert "corrupt" not in done.stdout


def test_created_directories_are_user_only_even_under_umask_000(tmp_path: pathlib.Path) -> None:
    old = os.umask(0)
    try:
        Datastore(tmp_path / "a" / "b" / "spark.db").close()
    finally:
        os.umask(old)
    for directory in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE((tmp_path / "a" / "b" / "spark.db").stat().st_mode) == 0o600


def test_a_symlinked_datastore_keeps_no_world_readable_target(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "target.db"
    target.touch(mode=0o644)
    target.chmod(0o644)
    link = tmp_path / "spark.db"
    link.symlink_to(target)
    store = Datastore(link)
    store.set_block_name("dev", 1, "Fermenter")  # the -wal and -shm files appear
    for name in ("target.db", "target.db-wal", "target.db-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    store.close()


def test_a_dangling_symlink_is_a_clear_error(tmp_path: pathlib.Path) -> None:
    link = tmp_path / "spark.db"
    link.symlink_to(tmp_path / "gone" / "spark.db")
    with pytest.raises(DatastoreError, match=r"is a symlink to .*gone/spark.db, which does not"):
        Datastore(link)
