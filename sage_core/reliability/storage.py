"""The storage protocol: where checkpoints (and other durable job data) are kept.

A storage is a small key-value store of bytes. Two are built in: :class:`DirectoryStorage`
(one file per key, written atomically) and :class:`SQLiteStorage` (one table in a SQLite
file). Anything with the same four methods works (for example a Redis or S3 client wrapper).

Example::

    >>> import tempfile
    >>> store = storage_from(tempfile.mkdtemp())
    >>> store.put("job/1", b"state")
    >>> store.get("job/1"), store.keys("job/")
    (b'state', ['job/1'])
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote, unquote

__all__ = ["DirectoryStorage", "SQLiteStorage", "Storage", "storage_from"]


@runtime_checkable
class Storage(Protocol):
    """Bytes under string keys. ``put`` is atomic and durable when it returns."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def keys(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...


class DirectoryStorage:
    """One file per key in a local directory; writes go to a temporary file, are fsynced, then
    renamed over the old one, so a crash leaves either the old or the new value."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        return self.path / quote(key, safe="")

    def put(self, key: str, data: bytes) -> None:
        final = self._file(key)
        tmp = final.with_name(final.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes | None:
        try:
            return self._file(key).read_bytes()
        except FileNotFoundError:
            return None

    def keys(self, prefix: str = "") -> list[str]:
        names = (unquote(p.name) for p in self.path.iterdir() if not p.name.endswith(".tmp"))
        return sorted(k for k in names if k.startswith(prefix))

    def delete(self, key: str) -> None:
        self._file(key).unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"DirectoryStorage({str(self.path)!r})"


class SQLiteStorage:
    """Keys and values in one table of a SQLite file (WAL journal, full sync on commit)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS sage_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sage_kv (key, value) VALUES (?, ?)", (key, data)
            )

    def get(self, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM sage_kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def keys(self, prefix: str = "") -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT key FROM sage_kv ORDER BY key").fetchall()
        return [k for (k,) in rows if k.startswith(prefix)]

    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sage_kv WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStorage({str(self.path)!r})"


def storage_from(spec: str | os.PathLike[str] | Storage) -> Storage:
    """A storage from a path (a directory), ``"sqlite:///path/file.db"``, or a storage object.

    >>> import tempfile
    >>> type(storage_from("sqlite://" + tempfile.mkdtemp() + "/state.db")).__name__
    'SQLiteStorage'
    """
    if isinstance(spec, Storage) and not isinstance(spec, (str, os.PathLike)):
        return spec
    if isinstance(spec, str) and spec.startswith("sqlite://"):
        return SQLiteStorage(spec[len("sqlite://") :])
    if isinstance(spec, (str, os.PathLike)):
        return DirectoryStorage(spec)
    msg = f"storage must be a directory path, 'sqlite:///file.db' or an object with put/get/keys/delete, got {spec!r}"
    raise TypeError(msg)
