"""The database handle: a directory of named collections, its manifest, and pickling.

Holds `SageDB` and `SageDBRef`: opening and creating the folder and its JSON manifest, taking
the writer lock (`WriterLock`, from _lock.py), opening, creating and dropping collections,
and the in-memory copy. It does not search or write records (collection.py does) and
encodes no collection files or bundles (the C++ core and _storage.py do). Layout on disk::

    <path>/SAGEDB                        JSON manifest: {"format": "sage_db", "version": 1, "dim": ...}
    <path>/LOCK                          held (flock) by the one writer
    <path>/collections/<name>/wal.log    write-ahead log
    <path>/collections/<name>/snapshot.sdb   last checkpoint (absent until the first one)
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sage_db._checks import make_config
from sage_db._errors import ReadOnlyError, SageDBCorruptionError, SageDBError
from sage_db._lock import WriterLock
from sage_db._storage import (
    SNAPSHOT_NAME,
    WAL_NAME,
    pack_bundle,
    snapshot_config,
    stored_config,
    unpack_bundle,
)
from sage_db.collection import Collection

__all__ = ["MODES", "PICKLE_VERSION", "SageDB", "SageDBRef", "WriterLock"]

PICKLE_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
MODES = ("w", "r")


@dataclass(frozen=True)
class SageDBRef:
    """A picklable reference to a database on disk; ``open()`` it inside a worker.

    ``mode="w"`` makes the worker the writer (the parent must not hold the writer lock).
    """

    path: str
    mode: str = "r"
    sync: bool = True

    def open(self) -> SageDB:
        return SageDB.open(self.path, mode=self.mode, sync=self.sync)


class SageDB:
    """A vector database: a directory of named collections with one writer, many readers.

    >>> db = SageDB.open("data/kb", dim=384)            # doctest: +SKIP
    >>> col = db.collection("docs", metric="cosine", index="hnsw")  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | None,
        *,
        mode: str,
        dim: int | None,
        sync: bool = True,
        checkpoint_records: int | None = None,
        checkpoint_bytes: int | None = None,
    ) -> None:
        self._path = path
        self._checkpoint_records = checkpoint_records
        self._checkpoint_bytes = checkpoint_bytes
        self._mode = mode
        self._dim = dim
        self._sync = sync
        self._lock_file: WriterLock | None = None
        self._collections: dict[str, Collection] = {}
        self._repair = False

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        dim: int | None = None,
        *,
        mode: str = "w",
        sync: bool = True,
        repair: bool = False,
        checkpoint_records: int | None = None,
        checkpoint_bytes: int | None = None,
    ) -> SageDB:
        """Creates or reopens the database at ``path``.

        ``mode="w"``: the single writer (creates the directory; takes an exclusive lock).
        ``mode="r"``: a reader; sees writes made before it opened, and later ones after
        ``refresh()``. ``sync=True`` fsyncs the log on every write (survives power loss);
        ``sync=False`` only writes it (survives a killed process, not a crashed machine).
        ``repair=True`` cuts a damaged log at its first bad record instead of raising.
        Automatic checkpoints (writer): a collection is snapshotted once
        ``checkpoint_records`` ids were upserted or deleted since its last snapshot (default
        5,000 for HNSW and IVF, 0 = off for flat) or its log passes ``checkpoint_bytes``
        (default 256 MiB), which bounds the log a reopen after a crash replays.
        """
        if mode not in MODES:
            msg = f"mode must be 'w' (writer) or 'r' (reader), not {mode!r}"
            raise ValueError(msg)
        root = os.path.abspath(os.fspath(path))
        manifest = os.path.join(root, "SAGEDB")
        if mode == "r" and not os.path.exists(manifest):
            msg = f"no sage_db database at {root} (missing SAGEDB manifest); open it once with mode='w'"
            raise FileNotFoundError(msg)
        for name, value in (
            ("checkpoint_records", checkpoint_records),
            ("checkpoint_bytes", checkpoint_bytes),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                msg = f"{name} must be a non-negative int or None, got {value!r}"
                raise ValueError(msg)
        db = cls(
            root,
            mode=mode,
            dim=dim,
            sync=sync,
            checkpoint_records=checkpoint_records,
            checkpoint_bytes=checkpoint_bytes,
        )
        db._repair = repair
        if mode == "w":
            os.makedirs(os.path.join(root, "collections"), exist_ok=True)
            db._acquire_lock()
        if os.path.exists(manifest):
            try:
                info = _read_manifest(manifest)
            except SageDBError:
                db.close()
                raise
            stored = info.get("dim")
            if dim is not None and stored is not None and stored != dim:
                db.close()
                msg = f"database {root} was created with dim={stored}, not dim={dim}"
                raise ValueError(msg)
            db._dim = stored if stored is not None else dim
        else:
            db._write_manifest()
        return db

    @staticmethod
    def check_lock(path: str | os.PathLike[str]) -> None:
        """Raises `SageDBLockedError` (naming the holder's pid) if a writer holds ``path``.

        For a job that will open the writer only after expensive work: call this first so that
        a held lock is reported before the work, not after it. Does nothing when no database
        exists at ``path`` yet. The lock is taken and released at once, so a writer that opens
        between this check and the job's own open is still reported then.

        >>> import tempfile
        >>> SageDB.check_lock(tempfile.mkdtemp())
        """
        root = os.path.abspath(os.fspath(path))
        if os.path.exists(os.path.join(root, "LOCK")):
            WriterLock.take(root).release()

    @classmethod
    def from_bytes(cls, data: bytes) -> SageDB:
        """A read-only in-memory database from :meth:`to_bytes` output."""
        db = cls(None, mode="memory", dim=None)
        for name, snap in unpack_bundle(data):
            db._collections[name] = Collection(
                db,
                name,
                snapshot_config(snap),
                directory=None,
                mode="memory",
                snapshot_bytes=snap,
            )
        return db

    def to_bytes(self) -> bytes:
        """Every collection as one bundle: ``SAGEDBB\\0 | u32 version | u32 n | n x (str name,
        u64 size, snapshot bytes)``."""
        return pack_bundle([(n, self.collection(n).snapshot_bytes()) for n in self.collections()])

    def frozen(self) -> SageDB:
        """A read-only in-memory copy; it pickles by bytes."""
        return SageDB.from_bytes(self.to_bytes())

    def ref(self, mode: str = "r") -> SageDBRef:
        """A picklable reference to reopen this database elsewhere."""
        if self._path is None:
            msg = "an in-memory database has no path; pickle it directly (by bytes)"
            raise SageDBError(msg)
        return SageDBRef(self._path, mode, self._sync)

    def _acquire_lock(self) -> None:
        assert self._path is not None
        self._lock_file = WriterLock.take(self._path)

    def _write_manifest(self) -> None:
        assert self._path is not None
        manifest = os.path.join(self._path, "SAGEDB")
        tmp = manifest + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": "sage_db", "version": 1, "dim": self._dim}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, manifest)

    # -- properties -------------------------------------------------------------------------
    @property
    def path(self) -> str | None:
        return self._path

    @property
    def mode(self) -> str:
        """'w' (writer), 'r' (reader on disk), 'memory' (read-only copy) or 'closed'."""
        return self._mode

    @property
    def dim(self) -> int | None:
        return self._dim

    def __repr__(self) -> str:
        return f"SageDB({self._path!r}, mode={self._mode!r}, collections={self.collections()})"

    # -- collections ------------------------------------------------------------------------
    def _collection_dir(self, name: str) -> str:
        assert self._path is not None
        return os.path.join(self._path, "collections", name)

    def collections(self) -> list[str]:
        """Names of the collections, sorted."""
        if self._path is None:
            return sorted(self._collections)
        base = os.path.join(self._path, "collections")
        if not os.path.isdir(base):
            return []
        return sorted(
            n
            for n in os.listdir(base)
            if _NAME.match(n) and os.path.exists(os.path.join(base, n, WAL_NAME))
        )

    def collection(
        self,
        name: str,
        *,
        metric: str | None = None,
        index: str | None = None,
        dim: int | None = None,
        fields: Mapping[str, int] | None = None,
        **index_params: Any,
    ) -> Collection:
        """Opens collection ``name``, creating it (writer only) when it does not exist.

        ``fields={"text": 384, "image": 512}`` declares several vector fields; otherwise one
        field named ``"default"`` of dimension ``dim`` (or the database's). ``metric`` is
        ``"cosine"`` (default), ``"l2"`` or ``"ip"``; ``index`` is ``"flat"`` (default),
        ``"hnsw"`` (``M``, ``ef_construction``, ``ef_search``) or ``"ivf"`` (``nlist``,
        ``nprobe``). Given options must match an existing collection's.
        """
        self._check_open()
        if not isinstance(name, str) or not _NAME.match(name):
            msg = f"collection name {name!r} must match {_NAME.pattern}"
            raise ValueError(msg)
        col = self._collections.get(name)
        if col is None:
            if self._path is None:
                msg = f"no collection {name!r} in this in-memory database; it has {self.collections()}"
                raise KeyError(msg)
            directory = self._collection_dir(name)
            exists = os.path.exists(os.path.join(directory, WAL_NAME)) or os.path.exists(
                os.path.join(directory, SNAPSHOT_NAME)
            )
            if exists:
                config = stored_config(directory)
            elif self._mode != "w":
                msg = f"no collection {name!r} in {self._path} (readers cannot create collections)"
                raise KeyError(msg)
            else:
                if fields is None:
                    d = dim if dim is not None else self._dim
                    fields = {} if d is None else {"default": d}
                config = make_config(
                    name,
                    fields=fields,
                    metric=metric or "cosine",
                    index=index or "flat",
                    index_params=index_params,
                )
                os.makedirs(directory, exist_ok=True)
            col = Collection(
                self,
                name,
                config,
                directory=directory,
                mode=self._mode,
                sync=self._sync,
                repair=self._repair,
                checkpoint_records=self._checkpoint_records,
                checkpoint_bytes=self._checkpoint_bytes,
            )
            self._collections[name] = col
        _check_matches(col, metric=metric, index=index, dim=dim, fields=fields)
        return col

    def __getitem__(self, name: str) -> Collection:
        return self.collection(name)

    def drop_collection(self, name: str) -> None:
        """Deletes a collection and its files."""
        self._check_open()
        if self._mode != "w":
            msg = f"cannot drop {name!r}: this handle is read-only ({self._mode!r})"
            raise ReadOnlyError(msg)
        if name not in self.collections():
            msg = f"no collection {name!r}; collections: {self.collections()}"
            raise KeyError(msg)
        col = self._collections.pop(name, None)
        if col is not None:
            col._close(checkpoint=False)
        directory = self._collection_dir(name)
        trash = directory + ".dropped"
        os.replace(directory, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def refresh(self) -> int:
        """Reader: picks up the writer's new records in every open collection."""
        return sum(c.refresh() for c in self._collections.values())

    def checkpoint(self) -> None:
        """Writer: snapshot every open collection and start fresh logs."""
        for c in self._collections.values():
            c.checkpoint()

    def close(self, *, checkpoint: bool | None = None) -> None:
        """Releases the writer lock and the log files. The handle is unusable afterwards.

        ``checkpoint=None`` (default) snapshots HNSW/IVF collections with records logged since
        their last snapshot, so that reopening loads their graph instead of rebuilding it;
        ``True`` snapshots every collection with pending records, ``False`` none.
        """
        for c in self._collections.values():
            c._close(checkpoint)
        self._collections.clear()
        if self._lock_file is not None:
            self._lock_file.release()
            self._lock_file = None
        self._mode = "closed"

    def __enter__(self) -> SageDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._mode == "closed":
            msg = f"database {self._path} is closed"
            raise SageDBError(msg)

    # -- pickling ---------------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        if self._path is None:
            state: dict[str, Any] = {
                "ser_version": PICKLE_VERSION,
                "kind": "bytes",
                "data": self.to_bytes(),
            }
        else:
            # By path; a writer's pickle reopens as a reader (there is one writer).
            state = {"ser_version": PICKLE_VERSION, "kind": "path", "path": self._path, "mode": "r"}
        return (_restore, (state,))


def _restore(state: dict[str, Any]) -> SageDB:
    version = state.get("ser_version")
    if version != PICKLE_VERSION:
        msg = f"Unpickle error: sage_db handle state version {version!r}, expected {PICKLE_VERSION}"
        raise SageDBError(msg)
    if state["kind"] == "bytes":
        return SageDB.from_bytes(state["data"])
    return SageDB.open(state["path"], mode=state["mode"])


def _read_manifest(manifest: str) -> dict[str, Any]:
    """The parsed ``SAGEDB`` manifest; `SageDBCorruptionError` naming the file if unreadable."""
    fix = (
        "The collections under collections/ are separate files and are not affected: restore "
        "the manifest from a backup, or rewrite it as "
        '{"format": "sage_db", "version": 1, "dim": <the dimension, or null>}'
    )
    try:
        with open(manifest, encoding="utf-8") as f:
            info = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"sage_db manifest {manifest} is damaged ({exc}). {fix}"
        raise SageDBCorruptionError(msg) from None
    if not isinstance(info, dict) or info.get("format") != "sage_db" or info.get("version") != 1:
        msg = f"{manifest} is not a sage_db version 1 manifest (it holds {info!r:.80}). {fix}"
        raise SageDBCorruptionError(msg)
    return info


def _check_matches(
    col: Collection,
    *,
    metric: str | None,
    index: str | None,
    dim: int | None,
    fields: Mapping[str, int] | None,
) -> None:
    problems = []
    if metric is not None and metric != col.metric:
        problems.append(f"metric {col.metric!r} (asked {metric!r})")
    if index is not None and index != col.index_kind:
        problems.append(f"index {col.index_kind!r} (asked {index!r})")
    if fields is not None and dict(fields) != col.fields:
        problems.append(f"fields {col.fields} (asked {dict(fields)})")
    if dim is not None and fields is None and list(col.fields.values()) != [dim]:
        problems.append(f"fields {col.fields} (asked dim={dim})")
    if problems:
        msg = f"collection {col.name!r} exists with " + ", ".join(problems)
        raise ValueError(msg)
