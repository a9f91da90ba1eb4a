"""A collection's records and how they persist: the C++ core, its FAISS indexes and its files.

Holds `Store` (loading a collection from its snapshot and write-ahead log or from snapshot
bytes, replay and repair of damaged logs, the write path of upserts and deletes, keeping each
field's FAISS index in step with the core's slots, compaction and checkpoints), the file
names inside a collection's folder, and the readers of file and bundle headers. Every byte of
a log or snapshot is encoded and decoded by the C++ core (`_core.read_header` reads headers);
only the database bundle framing (``SAGEDBB``) is Python. Nothing here checks caller
arguments, searches, or knows about the database folder, its manifest or its lock.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from collections.abc import Iterator
from typing import Any

from sage_db import _core
from sage_db._errors import SageDBCorruptionError, SageDBError
from sage_db._index import FieldIndex

WAL_NAME = "wal.log"
SNAPSHOT_NAME = "snapshot.sdb"
# Automatic checkpoints (see Store.maybe_checkpoint and docs/sage_db.md): a snapshot once
# this many records were written since the last one (0 = never by count) ...
DEFAULT_CHECKPOINT_RECORDS = {"flat": 0, "hnsw": 5_000, "ivf": 5_000}
# ... or once the log passes this many bytes.
DEFAULT_CHECKPOINT_BYTES = 256 << 20
_BUNDLE_MAGIC = b"SAGEDBB\0"


def read_header(path: str) -> dict[str, Any]:
    """Reads only the header of a WAL or snapshot file (layout in docs/sage_db.md):
    ``{"kind": "wal" | "snapshot", "version", "base_lsn", "config" (parsed), "size"}``."""
    try:
        head = _core.read_header(path)
    except _core.CorruptionError as exc:
        raise SageDBCorruptionError(str(exc)) from exc
    head["config"] = json.loads(head["config"])
    return head


def stored_config(directory: str) -> dict[str, Any]:
    """The config of the collection stored in ``directory`` (snapshot first, else log)."""
    snap = os.path.join(directory, SNAPSHOT_NAME)
    wal = os.path.join(directory, WAL_NAME)
    return read_header(snap if os.path.exists(snap) else wal)["config"]


def snapshot_config(snap: bytes) -> dict[str, Any]:
    """The config in the header of snapshot bytes; the core checks the rest when loading."""
    if snap[:8] != b"SAGESNP\0":
        msg = "not a sage_db snapshot (bad magic bytes)"
        raise SageDBError(msg)
    (config_len,) = struct.unpack_from("<I", snap, 20)
    return json.loads(snap[24 : 24 + config_len].decode())


def pack_bundle(snapshots: list[tuple[str, bytes]]) -> bytes:
    """``SAGEDBB\\0 | u32 version | u32 n | n x (str name, u64 size, snapshot bytes)``."""
    parts = [_BUNDLE_MAGIC, struct.pack("<II", 1, len(snapshots))]
    for name, snap in snapshots:
        raw = name.encode()
        parts += [struct.pack("<I", len(raw)), raw, struct.pack("<Q", len(snap)), snap]
    return b"".join(parts)


def unpack_bundle(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The (name, snapshot bytes) pairs of a `pack_bundle` result, one at a time."""
    view = memoryview(data)
    if bytes(view[:8]) != _BUNDLE_MAGIC:
        msg = "not a sage_db bundle (bad magic bytes)"
        raise SageDBError(msg)
    version, n = struct.unpack_from("<II", view, 8)
    if version != 1:
        msg = f"sage_db bundle version {version} is not supported"
        raise SageDBError(msg)
    pos = 16
    for _ in range(n):
        (name_len,) = struct.unpack_from("<I", view, pos)
        name = bytes(view[pos + 4 : pos + 4 + name_len]).decode()
        pos += 4 + name_len
        (size,) = struct.unpack_from("<Q", view, pos)
        pos += 8
        snap = bytes(view[pos : pos + size])
        pos += size
        yield name, snap


class Store:
    """The records of one collection: the C++ core, one FAISS index per vector field, and
    (on disk) the log and snapshot they are loaded from and written to.

    Not thread-safe: the owning `Collection` calls it under its lock and checks that writes
    are allowed before calling the write methods.
    """

    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        *,
        directory: str | None,
        mode: str,
        sync: bool,
        tombstone_ratio: float,
        checkpoint_bytes: int | None,
        checkpoint_records: int | None,
    ) -> None:
        self.name = name
        self.config = config
        self.dir = directory
        self.mode = mode
        self.sync = sync
        self.tombstone_ratio = tombstone_ratio
        self.checkpoint_bytes = (
            DEFAULT_CHECKPOINT_BYTES if checkpoint_bytes is None else checkpoint_bytes
        )
        if checkpoint_records is None:
            checkpoint_records = DEFAULT_CHECKPOINT_RECORDS[config["index"]]
        self.checkpoint_records = int(checkpoint_records)
        self.logged_records = 0  # ids upserted or deleted since the last snapshot
        self.wal_offset = 0
        self.wal_base = 0
        self.layout = 0
        self.fields: list[tuple[str, int]] = [(f, int(d)) for f, d in config["fields"]]
        self.core: Any = None
        self.indexes: dict[str, FieldIndex] = {}

    # -- loading ----------------------------------------------------------------------------
    def paths(self) -> tuple[str, str]:
        assert self.dir is not None
        return os.path.join(self.dir, WAL_NAME), os.path.join(self.dir, SNAPSHOT_NAME)

    def _new_core(self) -> Any:
        return _core.CollectionCore(
            self.fields, self.config["metric"], json.dumps(self.config, sort_keys=True)
        )

    def _new_indexes(self) -> dict[str, FieldIndex]:
        params = self.config.get("index_params", {})
        kind, metric = self.config["index"], self.config["metric"]
        return {f: FieldIndex(kind, metric, d, params) for f, d in self.fields}

    def _adopt(self, core: Any, blobs: list[tuple[str, bytes]], n_snapshot: int) -> None:
        indexes = self._new_indexes()
        for fname, blob in blobs:
            fi = indexes.get(fname)
            if fi is None:
                continue
            fi.load(blob)
            if fi.ntotal != n_snapshot or core.layout_version != 0:
                fi.reset()  # stale index blob: rebuilt from the stored vectors
        self.core = core
        self.indexes = indexes
        self.layout = core.layout_version
        self.sync_indexes()

    def load_bytes(self, data: bytes) -> None:
        core = self._new_core()
        try:
            blobs = core.load_snapshot_bytes(data)
        except _core.CorruptionError as exc:
            raise SageDBCorruptionError(str(exc)) from exc
        self._adopt(core, blobs, core.n_slots)

    def load_files(self, *, repair: bool) -> None:
        wal, snap = self.paths()
        attempts = 1 if self.mode == "w" else 5
        for attempt in range(attempts):
            try:
                self._load_files_once(wal, snap, repair=repair)
                return
            except (SageDBCorruptionError, FileNotFoundError):
                # A reader can race the writer's checkpoint (snapshot and log replaced one
                # after the other); reading again settles it.
                if attempt == attempts - 1:
                    raise

    def _load_files_once(self, wal: str, snap: str, *, repair: bool) -> None:
        core = self._new_core()
        blobs: list[tuple[str, bytes]] = []
        try:
            if os.path.exists(snap):
                blobs = core.load_snapshot_file(snap)
            n_snapshot = core.n_slots
            if not os.path.exists(wal):
                if self.mode != "w":
                    msg = f"collection {self.name!r}: write-ahead log {wal} is missing"
                    raise FileNotFoundError(msg)
                core.reset_wal(wal, self.sync)
            info = core.replay_wal(wal, 0)
        except _core.CorruptionError as exc:
            raise SageDBCorruptionError(str(exc)) from exc
        self._handle_wal_status(wal, info, repair=repair)
        self.wal_offset = info["offset"]
        self.wal_base = info["base_lsn"]
        self.logged_records = core.n_slots - n_snapshot
        if self.mode == "w" and not core.has_wal:
            core.attach_wal(wal, self.sync)
        self._adopt(core, blobs, n_snapshot)

    def _handle_wal_status(self, wal: str, info: dict[str, Any], *, repair: bool) -> None:
        # Warnings point at the caller of load_files (stacklevel counts this frame as 1).
        status = info["status"]
        if status == "ok":
            return
        size = os.path.getsize(wal)
        if status == "torn_tail":
            if self.mode != "w":
                return  # the writer may be in the middle of an append; read it next refresh
            warnings.warn(
                f"sage_db: {wal}: {info['message']}; cutting {size - info['offset']} bytes of an "
                "unfinished write (it was never acknowledged). Every record before it is kept.",
                RuntimeWarning,
                stacklevel=4,
            )
            _core.truncate_file(wal, info["offset"])
            return
        if self.mode == "w" and repair:
            warnings.warn(
                f"sage_db: {wal}: {info['message']}; repair=True cut the log at offset "
                f"{info['offset']}, dropping {size - info['offset']} bytes (the damaged record and "
                "everything after it).",
                RuntimeWarning,
                stacklevel=4,
            )
            _core.truncate_file(wal, info["offset"])
            return
        msg = (
            f"collection {self.name!r}: write-ahead log {wal} is damaged: {info['message']}. "
            f"Records before offset {info['offset']} are intact. Reopen with "
            "SageDB.open(path, repair=True) to cut the log there (later records are lost), or "
            "restore the file from a backup."
        )
        raise SageDBCorruptionError(msg)

    # -- index upkeep -----------------------------------------------------------------------
    def sync_indexes(self) -> None:
        core = self.core
        if self.layout != core.layout_version:
            for fi in self.indexes.values():
                fi.reset()
            self.layout = core.layout_version
        n = core.n_slots
        for fname, fi in self.indexes.items():
            if fi.kind == "flat":
                # FAISS searches the core's rows in place; re-pointed after every write.
                fi.attach(core.vectors(fname, 0, n))
                continue
            if not fi.ready:
                if core.count >= fi.ivf_min_train():
                    fi.train_ivf(core.vectors(fname, 0, n))
                continue
            if fi.ntotal < n:
                fi.add(core.vectors(fname, fi.ntotal, n))

    def _maybe_compact(self) -> None:
        core = self.core
        dead = core.n_dead
        if dead > 64 and dead > self.tombstone_ratio * core.n_slots:
            core.compact()
            self.sync_indexes()

    def _index_blobs(self) -> list[tuple[str, Any]]:
        return [
            (f, fi.serialize()) for f, fi in self.indexes.items() if fi.kind != "flat" and fi.ready
        ]

    # -- writes -----------------------------------------------------------------------------
    def upsert(
        self, ids: list[str], vecs: list[Any], meta: list[Any] | None, txt: list[str] | None
    ) -> None:
        core = self.core
        # The core copies the vectors (checking them) and starts the log append on a
        # background thread; meanwhile FAISS adds the staged rows. upsert_finish waits for
        # the append (write + fdatasync) and commits, or undoes everything and raises.
        try:
            keep = core.upsert_begin(ids, vecs, meta, txt)
        except BaseException:
            self.sync_indexes()  # nothing changed, but rows may have moved (out of memory)
            raise
        added: list[FieldIndex] = []
        try:
            if self.layout == core.layout_version:
                n = core.n_slots
                for fname, fi in self.indexes.items():
                    if fi.kind != "flat" and fi.ready and fi.ntotal == n:
                        added.append(fi)
                        fi.add(core.staged_vectors(fname))
        except BaseException:
            self._abort_upsert(added)
            raise
        try:
            core.upsert_finish()
        except BaseException:
            self._abort_upsert(added)
            raise
        del keep
        self.logged_records += len(ids)
        self.sync_indexes()
        self._maybe_compact()
        self._maybe_checkpoint()

    def _abort_upsert(self, added: list[FieldIndex]) -> None:
        """An upsert failed after FAISS saw its staged rows: rebuild those indexes."""
        if self.core.upsert_pending:
            try:
                self.core.upsert_finish()
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        for fi in added:
            fi.reset()
        self.sync_indexes()

    def delete(self, ids: list[str]) -> int:
        n = int(self.core.delete(ids))
        self.logged_records += len(ids)
        self._maybe_compact()
        self._maybe_checkpoint()
        return n

    def _maybe_checkpoint(self) -> None:
        """Automatic checkpoint: once the log holds ``checkpoint_records`` writes' worth of
        records since the last snapshot, or grows past ``checkpoint_bytes``. This bounds
        how much log a reopen after a crash must replay (and, for HNSW, how much graph it must
        rebuild)."""
        if self.dir is None:
            return
        limit = self.checkpoint_records
        if limit and self.core.count and self.logged_records >= limit:
            self.checkpoint()
            return
        if self.checkpoint_bytes:
            wal, _ = self.paths()
            if os.path.getsize(wal) > self.checkpoint_bytes:
                self.checkpoint()

    def checkpoint(self) -> None:
        """Writes a snapshot (with the FAISS index for hnsw/ivf) and starts an empty log."""
        core = self.core
        if core.n_dead:
            core.compact()
            self.sync_indexes()
        blobs = self._index_blobs()
        wal, snap = self.paths()
        core.write_snapshot(snap, blobs)
        core.reset_wal(wal, self.sync)
        self.wal_base = core.lsn
        self.wal_offset = 0
        self.logged_records = 0

    # -- readers ----------------------------------------------------------------------------
    def refresh(self) -> int:
        """Reader: applies the writer's new log records. Returns how many were applied."""
        wal, _ = self.paths()
        if not os.path.exists(wal):
            msg = f"collection {self.name!r} was dropped (its log {wal} is gone)"
            raise SageDBError(msg)
        try:
            info = self.core.replay_wal(wal, self.wal_offset, self.wal_base)
        except _core.CorruptionError as exc:
            # Records before the damage were applied: the indexes must follow them (a
            # flat index views the core's rows, which may have moved).
            self.sync_indexes()
            raise SageDBCorruptionError(str(exc)) from exc
        if info["reset"]:
            before = self.core.lsn
            self.load_files(repair=False)
            return int(self.core.lsn - before)
        self.sync_indexes()
        self._handle_wal_status(wal, info, repair=False)
        self.wal_offset = info["offset"]
        self._maybe_compact()
        return int(info["applied"])

    def snapshot_bytes(self) -> bytes:
        """The collection as snapshot bytes (same format as snapshot.sdb)."""
        blobs = self._index_blobs() if self.core.n_dead == 0 else []
        return bytes(self.core.snapshot(blobs))

    def close(self, checkpoint: bool | None) -> None:
        """Detaches the log, after a snapshot when ``checkpoint`` asks for one (``None``:
        HNSW/IVF collections with records logged since their last snapshot)."""
        if self.mode == "w" and self.core is not None:
            pending = self.core.lsn > self.wal_base
            if checkpoint is None:
                checkpoint = pending and self.config["index"] != "flat"
            if checkpoint and pending:
                self.checkpoint()
        if self.core is not None and self.core.has_wal:
            self.core.detach_wal()
        self.mode = "closed" if self.mode == "w" else self.mode
