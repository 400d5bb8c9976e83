"""The block names the service shows: the datastore's, cached per controller.

The service is the only writer of the names while it runs (it owns the port
and the datastore), so it reads a controller's names from the datastore once
and keeps them in memory; every change goes to the datastore first and then
to the cache. Reads from the cache never block; the methods that may touch
the datastore block (SQLite) and are called from the service's executor.
"""

from __future__ import annotations

import threading

from actors.spark.datastore import Datastore


class NameTaken(ValueError):
    """Another block of the same controller has that name already."""

    def __init__(self, name: str, object_id: int) -> None:
        super().__init__(f"the name {name!r} belongs to block {object_id}")
        self.name = name
        self.object_id = object_id


class NameBook:
    """The names of each controller's blocks (by device id), cached from the datastore."""

    def __init__(self, datastore: Datastore) -> None:
        self._datastore = datastore
        self._lock = threading.Lock()
        self._books: dict[str, dict[int, str]] = {}
        self._writing = threading.Lock()  # a rename's check and write are one step

    def cached(self, device_id: str) -> dict[int, str] | None:
        """The names of ``device_id``'s blocks if already loaded (never blocks on the file)."""
        with self._lock:
            book = self._books.get(device_id.lower())
            return None if book is None else dict(book)

    def names(self, device_id: str) -> dict[int, str]:
        """The names of ``device_id``'s blocks (read from the datastore the first time)."""
        key = device_id.lower()
        with self._lock:
            book = self._books.get(key)
            if book is None:
                book = self._books[key] = self._datastore.block_names(key)
            return dict(book)

    def id_of(self, device_id: str, name: str) -> int | None:
        """The id of the block called ``name``, or None."""
        for object_id, known in self.names(device_id).items():
            if known == name:
                return object_id
        return None

    def rename(self, device_id: str, object_id: int, name: str) -> None:
        """Call block ``object_id`` ``name``; :class:`NameTaken` if another block has it."""
        with self._writing:
            owner = self.id_of(device_id, name)
            if owner is not None and owner != object_id:
                raise NameTaken(name, owner)
            self._datastore.set_block_name(device_id, object_id, name)
            with self._lock:
                self._books.setdefault(device_id.lower(), {})[object_id] = name

    def forget(self, device_id: str, object_id: int) -> None:
        """Drop the name of block ``object_id`` (it was deleted)."""
        with self._writing:
            self._datastore.delete_block_name(device_id, object_id)
            with self._lock:
                self._books.get(device_id.lower(), {}).pop(object_id, None)
