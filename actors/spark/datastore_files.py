"""The datastore's file on disk: making its path ready and naming why it cannot be used.

:func:`prepare` runs before SQLite opens the file. It refuses what SQLite
would misreport or only notice at the first write, minutes later: a dangling
symlink (``File exists`` otherwise), a read-only file, directory or
filesystem. Directories it creates are user-only (0700, whatever the umask),
and an existing file (or a symlink's target) readable by others is made
user-only, as a new one is created. :func:`describe_failure` turns an SQLite
error into its cause in words (a full disk, a file-size limit, a read-only
file, damaged pages, a lock), and :func:`remove_created` takes away a file
that was created but could not be set up, so no 0-byte file is left behind.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import resource
import shutil
import sqlite3
import stat

import structlog

log = structlog.get_logger("actors.spark.datastore")

USER_ONLY_FILE = 0o600
USER_ONLY_DIR = 0o700

LOW_SPACE = 1 << 20
"""Free bytes under which a failed write is put down to a full disk."""


class DatastoreError(Exception):
    """The datastore file cannot be used; the message says why and names the file."""


def prepare(path: pathlib.Path) -> bool:
    """Make ``path`` ready for SQLite; ``True`` if the (empty) file was created here.

    Raises :class:`DatastoreError` naming the cause when the file cannot be
    written or the path leads nowhere.
    """
    if path.is_symlink() and not path.exists():
        msg = (
            f"datastore {path} is a symlink to {os.readlink(path)}, which does not exist; "
            "create the file or fix the link"
        )
        raise DatastoreError(msg)
    if path.exists():
        if not path.is_file():
            raise DatastoreError(f"datastore {path} is not a regular file")
        _refuse_unwritable(path)
        _make_user_only(path)
        return False
    _make_dirs(path.parent)
    _refuse_unwritable(path)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, USER_ONLY_FILE)
    except OSError as exc:
        raise DatastoreError(f"cannot create datastore {path}: {exc.strerror}") from exc
    os.close(fd)
    return True


def describe_failure(path: pathlib.Path, exc: sqlite3.Error) -> str:
    """What an SQLite error on ``path`` means, in words (the error's text in brackets)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL"):
        return f"cannot be written: the disk is full ({exc})"
    if name.startswith("SQLITE_IOERR"):
        return f"cannot be written: {_write_limit(path) or 'an I/O error'} ({exc})"
    if name.startswith("SQLITE_READONLY"):
        return f"is {_unwritable(path) or 'read-only'} ({exc})"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc):
        return f"is locked by another program ({exc})"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return f"is corrupt: damaged pages or not an SQLite file ({exc})"
    return f"cannot be used ({exc})"


def remove_created(path: pathlib.Path) -> None:
    """Remove a datastore file created by :func:`prepare` and SQLite's files beside it."""
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()


def _make_dirs(directory: pathlib.Path) -> None:
    """Create ``directory`` and missing parents, each user-only (mkdir -p ignores the mode)."""
    missing: list[pathlib.Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for each in reversed(missing):
        try:
            each.mkdir(mode=USER_ONLY_DIR)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs to keep as it is
        except OSError as exc:
            raise DatastoreError(f"cannot create directory {each}: {exc.strerror}") from exc
        os.chmod(each, USER_ONLY_DIR)  # the umask may have taken bits away, never added


def _make_user_only(path: pathlib.Path) -> None:
    """Take group and other permissions off the file (a symlink's target, not the link)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            os.chmod(path, mode & ~0o077)
        except OSError as exc:
            msg = f"datastore {path} is readable by others and cannot be made user-only"
            raise DatastoreError(f"{msg}: {exc.strerror}") from exc
        log.warning("datastore_made_user_only", path=str(path), mode=oct(mode))


def _refuse_unwritable(path: pathlib.Path) -> None:
    reason = _unwritable(path)
    if reason is not None:
        raise DatastoreError(f"datastore {path} is {reason}; it was left untouched")


def _unwritable(path: pathlib.Path) -> str | None:
    """Why this user cannot write ``path`` (or create it and SQLite's files beside it)."""
    directory = path.resolve().parent
    if os.statvfs(directory).f_flag & os.ST_RDONLY:
        return f"on a read-only filesystem ({directory})"
    if path.exists() and not os.access(path, os.W_OK):
        return "read-only: this user may not write it"
    if not os.access(directory, os.W_OK | os.X_OK):
        return (
            f"in a directory this user may not write ({directory}); "
            "SQLite creates its -wal and -shm files there"
        )
    return None


def _write_limit(path: pathlib.Path) -> str | None:
    """A full disk or a file-size limit, if either explains a failed write."""
    free = shutil.disk_usage(path.resolve().parent).free
    if free < LOW_SPACE:
        return f"the disk is full ({free} bytes free)"
    limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit != resource.RLIM_INFINITY:
        return f"the file-size limit of this process (ulimit -f, {limit} bytes) is reached"
    return None
