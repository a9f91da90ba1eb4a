"""A named collection of records: the public search and write API over one C++ core.

Holds the `Collection` handle and its `Hits` result type: argument checking, the choice
between FAISS and the exact C++ scan, multi-field scoring, hybrid fusion, log replay and
checkpoints. It does not hold file-format code (the C++ core writes and reads every byte) nor
database-level concerns such as locking and the collection directory (see database.py).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import warnings
import weakref
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sage_db import _core
from sage_db._errors import ReadOnlyError, SageDBCorruptionError, SageDBError
from sage_db._index import FieldIndex

if TYPE_CHECKING:
    from sage_db.database import SageDB

DEFAULT_FIELD = "default"
METRICS = ("cosine", "l2", "ip")
WAL_NAME = "wal.log"
SNAPSHOT_NAME = "snapshot.sdb"
# Automatic checkpoints (see Collection._maybe_checkpoint and docs/sage_db.md): a snapshot once
# this many records were written since the last one (0 = never by count) ...
DEFAULT_CHECKPOINT_RECORDS = {"flat": 0, "hnsw": 5_000, "ivf": 5_000}
# ... or once the log passes this many bytes.
DEFAULT_CHECKPOINT_BYTES = 256 << 20
# The largest k (or hybrid candidates) accepted; larger values are refused as mistakes. Any
# accepted k is capped at the number of live records before buffers are allocated.
MAX_K = 2**31 - 1


@dataclass(slots=True)
class Hits:
    """Results for one query, best first.

    ``scores`` follow the metric: cosine and ip similarities (higher is better), squared L2
    distances (lower is better), BM25 scores, or fused scores (higher is better).
    ``records`` holds ``{"id", "metadata", "text"}`` dicts when ``include`` asked for them.
    """

    ids: list[str]
    scores: np.ndarray
    records: list[dict[str, Any]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(zip(self.ids, self.scores.tolist(), strict=True))


def read_header(path: str) -> dict[str, Any]:
    """Reads only the header of a WAL or snapshot file (layout in docs/sage_db.md)."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24 or head[:8] not in (b"SAGEWAL\0", b"SAGESNP\0"):
            msg = f"{path}: not a sage_db file (bad magic bytes or header cut short)"
            raise SageDBCorruptionError(msg)
        version, base_lsn, config_len = struct.unpack("<IQI", head[8:24])
        rest = f.read(config_len + 4)
    if len(rest) < config_len + 4:
        msg = f"{path}: header is truncated"
        raise SageDBCorruptionError(msg)
    config = rest[:config_len]
    (crc,) = struct.unpack("<I", rest[config_len:])
    if zlib.crc32(head + config) != crc:
        msg = f"{path}: header checksum mismatch (file is damaged)"
        raise SageDBCorruptionError(msg)
    if version != _core.FORMAT_VERSION:
        msg = f"{path}: format version {version} is not supported (this build reads {_core.FORMAT_VERSION})"
        raise SageDBCorruptionError(msg)
    return {
        "kind": "wal" if head[:8] == b"SAGEWAL\0" else "snapshot",
        "version": version,
        "base_lsn": base_lsn,
        "config": json.loads(config.decode()),
        "size": 24 + config_len + 4,
    }


def make_config(
    name: str,
    *,
    fields: Mapping[str, int],
    metric: str,
    index: str,
    index_params: Mapping[str, Any],
) -> dict[str, Any]:
    if metric not in METRICS:
        msg = f"unknown metric {metric!r} for collection {name!r}; use one of {', '.join(METRICS)}"
        raise ValueError(msg)
    if not fields:
        msg = f"collection {name!r} needs a dimension: pass dim=... or fields={{'text': 384}}"
        raise ValueError(msg)
    for fname, dim in fields.items():
        if not isinstance(fname, str) or not fname:
            msg = f"vector field names must be non-empty str, got {fname!r}"
            raise ValueError(msg)
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim <= 0:
            msg = f"dimension of field {fname!r} must be a positive int, got {dim!r}"
            raise ValueError(msg)
    FieldIndex(index, metric, 1, dict(index_params))  # validates the index kind
    return {
        "name": name,
        "fields": [[f, int(d)] for f, d in fields.items()],
        "metric": metric,
        "index": index,
        "index_params": dict(index_params),
    }


class Collection:
    """A named set of records: string id, one or more vectors, metadata, optional text.

    Obtain one with :meth:`sage_db.SageDB.collection`. Methods are thread-safe (one lock per
    collection). Handles pickle: a collection of a database on disk reopens read-only by
    path; a collection of an in-memory database travels as bytes.
    """

    def __init__(
        self,
        db: SageDB | None,
        name: str,
        config: dict[str, Any],
        *,
        directory: str | None,
        mode: str,
        sync: bool = True,
        repair: bool = False,
        snapshot_bytes: bytes | None = None,
        tombstone_ratio: float = 0.2,
        exact_fraction: float = 0.03,
        checkpoint_bytes: int | None = None,
        checkpoint_records: int | None = None,
    ) -> None:
        # The database is referred to weakly (it refers to its collections): dropping the last
        # handle frees both at once. The writer lock is held by each collection as well, so a
        # collection that outlives its database handle still writes under the lock.
        self._db: Any = (lambda: db) if db is None or db.path is None else weakref.ref(db)
        self._writer_lock = getattr(db, "_lock_file", None)
        self.name = name
        self._config = config
        self._dir = directory
        self._mode = mode
        self._sync = sync
        self._lock = threading.RLock()
        self._tombstone_ratio = tombstone_ratio
        self._exact_fraction = exact_fraction
        self._checkpoint_bytes = (
            DEFAULT_CHECKPOINT_BYTES if checkpoint_bytes is None else checkpoint_bytes
        )
        if checkpoint_records is None:
            checkpoint_records = DEFAULT_CHECKPOINT_RECORDS[config["index"]]
        self._checkpoint_records = int(checkpoint_records)
        self._logged_records = 0
        self._wal_offset = 0
        self._wal_base = 0
        self._layout = 0
        self._sel_cache: tuple[Any, Any, np.ndarray] | None = None
        self._fields: list[tuple[str, int]] = [(f, int(d)) for f, d in config["fields"]]
        self._core: Any = None
        self._indexes: dict[str, FieldIndex] = {}
        if snapshot_bytes is not None:
            self._load_bytes(snapshot_bytes)
        else:
            self._load_files(repair=repair)

    # -- properties -------------------------------------------------------------------------
    @property
    def metric(self) -> str:
        return str(self._config["metric"])

    @property
    def index_kind(self) -> str:
        return str(self._config["index"])

    @property
    def fields(self) -> dict[str, int]:
        """Vector fields and their dimensions."""
        return dict(self._fields)

    @property
    def writable(self) -> bool:
        return self._mode == "w"

    def count(self) -> int:
        """Number of live records."""
        return int(self._core.count)

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, id: str) -> bool:
        return id in self._core

    def stats(self) -> dict[str, Any]:
        core = self._core
        return {
            "name": self.name,
            "count": core.count,
            "tombstones": core.n_dead,
            "lsn": core.lsn,
            "metric": self.metric,
            "index": self.index_kind,
            "fields": self.fields,
            "bm25": core.bm25_stats,
            "mode": self._mode,
        }

    def __repr__(self) -> str:
        return (
            f"Collection({self.name!r}, count={self.count()}, metric={self.metric!r}, "
            f"index={self.index_kind!r}, fields={self.fields}, mode={self._mode!r})"
        )

    # -- loading ----------------------------------------------------------------------------
    def _paths(self) -> tuple[str, str]:
        assert self._dir is not None
        return os.path.join(self._dir, WAL_NAME), os.path.join(self._dir, SNAPSHOT_NAME)

    def _new_core(self) -> Any:
        return _core.CollectionCore(
            self._fields, self.metric, json.dumps(self._config, sort_keys=True)
        )

    def _new_indexes(self) -> dict[str, FieldIndex]:
        params = self._config.get("index_params", {})
        return {f: FieldIndex(self.index_kind, self.metric, d, params) for f, d in self._fields}

    def _adopt(self, core: Any, blobs: list[tuple[str, bytes]], n_snapshot: int) -> None:
        indexes = self._new_indexes()
        for fname, blob in blobs:
            fi = indexes.get(fname)
            if fi is None:
                continue
            fi.load(blob)
            if fi.ntotal != n_snapshot or core.layout_version != 0:
                fi.reset()  # stale index blob: rebuilt from the stored vectors
        self._core = core
        self._indexes = indexes
        self._layout = core.layout_version
        self._sync_indexes()

    def _load_bytes(self, data: bytes) -> None:
        core = self._new_core()
        try:
            blobs = core.load_snapshot_bytes(data)
        except _core.CorruptionError as exc:
            raise SageDBCorruptionError(str(exc)) from exc
        self._adopt(core, blobs, core.n_slots)

    def _load_files(self, *, repair: bool) -> None:
        wal, snap = self._paths()
        attempts = 1 if self._mode == "w" else 5
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
                if self._mode != "w":
                    msg = f"collection {self.name!r}: write-ahead log {wal} is missing"
                    raise FileNotFoundError(msg)
                core.reset_wal(wal, self._sync)
            info = core.replay_wal(wal, 0)
        except _core.CorruptionError as exc:
            raise SageDBCorruptionError(str(exc)) from exc
        self._handle_wal_status(wal, info, repair=repair)
        self._wal_offset = info["offset"]
        self._wal_base = info["base_lsn"]
        self._logged_records = core.n_slots - n_snapshot
        if self._mode == "w" and not core.has_wal:
            core.attach_wal(wal, self._sync)
        self._adopt(core, blobs, n_snapshot)

    def _handle_wal_status(self, wal: str, info: dict[str, Any], *, repair: bool) -> None:
        status = info["status"]
        if status == "ok":
            return
        size = os.path.getsize(wal)
        if status == "torn_tail":
            if self._mode != "w":
                return  # the writer may be in the middle of an append; read it next refresh
            warnings.warn(
                f"sage_db: {wal}: {info['message']}; cutting {size - info['offset']} bytes of an "
                "unfinished write (it was never acknowledged). Every record before it is kept.",
                RuntimeWarning,
                stacklevel=4,
            )
            _core.truncate_file(wal, info["offset"])
            return
        if self._mode == "w" and repair:
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
    def _sync_indexes(self) -> None:
        core = self._core
        if self._layout != core.layout_version:
            for fi in self._indexes.values():
                fi.reset()
            self._layout = core.layout_version
        n = core.n_slots
        for fname, fi in self._indexes.items():
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
        core = self._core
        dead = core.n_dead
        if dead > 64 and dead > self._tombstone_ratio * core.n_slots:
            core.compact()
            self._sync_indexes()

    def _check_writable(self) -> None:
        if self._mode != "w":
            msg = (
                f"collection {self.name!r} is open read-only ({self._mode!r}); writes go through the "
                "single writer: SageDB.open(path, mode='w')"
            )
            raise ReadOnlyError(msg)

    # -- writes -----------------------------------------------------------------------------
    def _vector_list(self, vectors: Any, n: int) -> list[Any]:
        if isinstance(vectors, Mapping):
            unknown = set(vectors) - {f for f, _ in self._fields}
            if unknown:
                msg = f"collection {self.name!r} has no vector field(s) {sorted(unknown)}; fields: {self.fields}"
                raise ValueError(msg)
            missing = [f for f, _ in self._fields if f not in vectors]
            if missing:
                msg = f"upsert into {self.name!r} must give every vector field; missing {missing}"
                raise ValueError(msg)
            for f, _ in self._fields:
                _check_real(vectors[f], f"vectors[{f!r}] for {self.name!r}")
            return [vectors[f] for f, _ in self._fields]
        if len(self._fields) != 1:
            msg = f"collection {self.name!r} has fields {self.fields}: pass vectors as a dict by field"
            raise ValueError(msg)
        _check_real(vectors, f"vectors for {self.name!r}")
        return [vectors]

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Any,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Inserts or replaces records; returns once the write is in the log.

        ``vectors`` is an ``(n, dim)`` array, or ``{field: array}`` for multi-field collections.
        Arrays are read without copying when they are C-contiguous float32; anything else
        (float64, strided views) is converted first. All checks run before anything is
        written: on error nothing changes.
        """
        self._check_writable()
        ids = _id_list(ids)
        vecs = self._vector_list(vectors, len(ids))
        meta = None if metadata is None else list(metadata)
        txt = None if texts is None else list(texts)
        with self._lock:
            core = self._core
            # The core copies the vectors (checking them) and starts the log append on a
            # background thread; meanwhile FAISS adds the staged rows. upsert_finish waits for
            # the append (write + fdatasync) and commits, or undoes everything and raises.
            try:
                keep = core.upsert_begin(ids, vecs, meta, txt)
            except BaseException:
                self._sync_indexes()  # nothing changed, but rows may have moved (out of memory)
                raise
            added: list[FieldIndex] = []
            try:
                if self._layout == core.layout_version:
                    n = core.n_slots
                    for fname, fi in self._indexes.items():
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
            self._logged_records += len(ids)
            self._sync_indexes()
            self._maybe_compact()
            self._maybe_checkpoint()

    def _abort_upsert(self, added: list[FieldIndex]) -> None:
        """An upsert failed after FAISS saw its staged rows: rebuild those indexes."""
        if self._core.upsert_pending:
            try:
                self._core.upsert_finish()
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        for fi in added:
            fi.reset()
        self._sync_indexes()

    def delete(self, ids: Sequence[str]) -> int:
        """Deletes records by id; unknown ids are ignored. Returns how many were deleted."""
        self._check_writable()
        ids = _id_list(ids)
        with self._lock:
            n = int(self._core.delete(ids))
            self._logged_records += len(ids)
            self._maybe_compact()
            self._maybe_checkpoint()
            return n

    def _maybe_checkpoint(self) -> None:
        """Automatic checkpoint: once the log holds ``checkpoint_records`` writes' worth of
        records since the last snapshot, or grows past ``checkpoint_bytes``. This bounds
        how much log a reopen after a crash must replay (and, for HNSW, how much graph it must
        rebuild)."""
        if self._dir is None:
            return
        limit = self._checkpoint_records
        if limit and self._core.count and self._pending_records() >= limit:
            self.checkpoint()
            return
        if self._checkpoint_bytes:
            wal, _ = self._paths()
            if os.path.getsize(wal) > self._checkpoint_bytes:
                self.checkpoint()

    def _pending_records(self) -> int:
        """Ids upserted or deleted since the last snapshot (replayed ones included)."""
        return self._logged_records

    def checkpoint(self) -> None:
        """Writes a snapshot (with the FAISS index for hnsw/ivf) and starts an empty log."""
        self._check_writable()
        with self._lock:
            core = self._core
            if core.n_dead:
                core.compact()
                self._sync_indexes()
            blobs = [
                (f, fi.serialize())
                for f, fi in self._indexes.items()
                if fi.kind != "flat" and fi.ready
            ]
            wal, snap = self._paths()
            core.write_snapshot(snap, blobs)
            core.reset_wal(wal, self._sync)
            self._wal_base = core.lsn
            self._wal_offset = 0
            self._logged_records = 0

    def refresh(self) -> int:
        """Reader: applies the writer's new log records. Returns how many were applied."""
        if self._dir is None or self._mode == "w":
            return 0
        wal, _ = self._paths()
        with self._lock:
            if not os.path.exists(wal):
                msg = f"collection {self.name!r} was dropped (its log {wal} is gone)"
                raise SageDBError(msg)
            try:
                info = self._core.replay_wal(wal, self._wal_offset, self._wal_base)
            except _core.CorruptionError as exc:
                # Records before the damage were applied: the indexes must follow them (a
                # flat index views the core's rows, which may have moved).
                self._sync_indexes()
                raise SageDBCorruptionError(str(exc)) from exc
            if info["reset"]:
                before = self._core.lsn
                self._load_files(repair=False)
                return int(self._core.lsn - before)
            self._sync_indexes()
            self._handle_wal_status(wal, info, repair=False)
            self._wal_offset = info["offset"]
            self._maybe_compact()
            return int(info["applied"])

    def snapshot_bytes(self) -> bytes:
        """The collection as snapshot bytes (same format as snapshot.sdb)."""
        with self._lock:
            blobs = [
                (f, fi.serialize())
                for f, fi in self._indexes.items()
                if fi.kind != "flat" and fi.ready and self._core.n_dead == 0
            ]
            return bytes(self._core.snapshot(blobs))

    def _close(self, checkpoint: bool | None = None) -> None:
        """Detaches the log. ``checkpoint=None``: snapshot HNSW/IVF collections that have
        logged records since their last snapshot (so reopening does not rebuild the graph)."""
        if self._mode == "w" and self._core is not None:
            pending = self._core.lsn > self._wal_base
            if checkpoint is None:
                checkpoint = pending and self.index_kind != "flat"
            if checkpoint and pending:
                self.checkpoint()
        if self._core is not None and self._core.has_wal:
            self._core.detach_wal()
        self._mode = "closed" if self._mode == "w" else self._mode

    # -- reads ------------------------------------------------------------------------------
    def get(
        self, ids: Sequence[str], *, include_vectors: bool = False
    ) -> list[dict[str, Any] | None]:
        """Records by id (``None`` for unknown ids): ``{"id", "metadata", "text"[, "vectors"]}``."""
        ids = _id_list(ids)
        with self._lock:
            slots = self._core.slots_of(ids)
            out: list[dict[str, Any] | None] = []
            for s in slots.tolist():
                if s < 0:
                    out.append(None)
                    continue
                rec = self._core.record(s)
                if include_vectors:
                    rec["vectors"] = {
                        f: np.array(self._core.vectors(f, s, s + 1)[0]) for f, _ in self._fields
                    }
                out.append(rec)
            return out

    def _selection(self, where: Mapping[str, Any] | None) -> Any:
        """Evaluates ``where`` in C++. The last result is reused while the filter text, the
        log position and the slot layout are unchanged (a service answering many queries
        with one filter evaluates it once)."""
        if where is None:
            return None
        _check_where(where)
        core = self._core
        key = (repr(where), core.lsn, core.layout_version)
        cached = self._sel_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        sel = core.select(_core.Filter(dict(where)))
        self._sel_cache = (key, sel, sel.bitmap())
        return sel

    def _bitmap(self, sel: Any) -> np.ndarray:
        cached = self._sel_cache
        if cached is not None and cached[1] is sel:
            return cached[2]
        return sel.bitmap()

    def _field_name(self, field: str | None) -> str:
        if field is None:
            if len(self._fields) != 1:
                msg = f"collection {self.name!r} has fields {self.fields}: pass field=... or a dict query"
                raise ValueError(msg)
            return self._fields[0][0]
        if field not in self.fields:
            msg = f"collection {self.name!r} has no vector field {field!r}; fields: {self.fields}"
            raise KeyError(msg)
        return field

    def _dense(self, fname: str, queries: np.ndarray, k: int, sel: Any, ef_search: int | None):
        """Top-k per query row: (ids, scores, counts, slots) as returned by the core's resolve."""
        core = self._core
        fi = self._indexes[fname]
        n_slots = core.n_slots
        live = core.count
        if live == 0 or (sel is not None and sel.count == 0):
            nq = len(queries)
            return (
                [[] for _ in range(nq)],
                np.full((nq, k), np.nan, np.float32),
                np.zeros(nq, np.int64),
                np.full((nq, k), -1, np.int64),
            )
        if not fi.ready or (sel is not None and sel.count <= self._exact_fraction * n_slots):
            labels, scores = core.exact_search(fname, queries, k, sel)
            return core.resolve(labels, scores, k, None)
        bitmap = None
        kk = k
        if sel is not None:
            bitmap = self._bitmap(sel)
        elif core.n_dead:
            if core.n_dead <= 256:
                kk = k + core.n_dead
            else:
                sel = core.select(None)
                bitmap = sel.bitmap()
        fraction = (sel.count / n_slots) if sel is not None else 1.0
        labels, scores = fi.search(queries, kk, bitmap, fraction, ef_search)
        ids, sc, counts, slots = core.resolve(labels, scores, k, sel)
        want = min(k, sel.count if sel is not None else live)
        if min(map(len, ids)) < want:
            short = np.flatnonzero(counts < want)
            # The graph walk found fewer than k allowed neighbours: scan those queries exactly.
            el, es = core.exact_search(fname, queries[short], k, sel)
            eids, esc, ecounts, eslots = core.resolve(el, es, k, None)
            for j, row in enumerate(short.tolist()):
                ids[row] = eids[j]
                sc[row] = esc[j]
                counts[row] = ecounts[j]
                slots[row] = eslots[j]
        return ids, sc, counts, slots

    def _hits(
        self, ids: list[str], scores: np.ndarray, slots: np.ndarray, include: Sequence[str]
    ) -> Hits:
        records = None
        if include:
            unknown = set(include) - {"metadata", "text"}
            if unknown:
                msg = f"include accepts 'metadata' and 'text', not {sorted(unknown)}"
                raise ValueError(msg)
            records = [self._core.record(int(s)) for s in slots[: len(ids)]]
            for r in records:
                if "metadata" not in include:
                    r.pop("metadata")
                if "text" not in include:
                    r.pop("text")
        return Hits(ids, scores[: len(ids)], records)

    def search(
        self,
        query: Any,
        k: int = 10,
        *,
        where: Mapping[str, Any] | None = None,
        field: str | None = None,
        weights: Mapping[str, float] | None = None,
        ef_search: int | None = None,
        include: Sequence[str] = (),
    ) -> Hits | list[Hits]:
        """Nearest records to ``query``: one vector gives `Hits`, a 2-D batch a list of them.

        ``where`` is a Chroma-style filter evaluated in C++; results are exact with respect to
        it (k hits whenever k records match). A dict query ``{"text": q1, "image": q2}``
        searches several vector fields together, scored by ``sum(weights[f] * sim_f)``.
        """
        if type(k) is not int or k <= 0 or k > MAX_K:
            _check_k(k)
        if type(query) is np.ndarray:
            if query.dtype.kind == "c":
                _check_real(query, "query")
        elif isinstance(query, Mapping):
            return self._search_multi(
                query, k, where=where, weights=weights, ef_search=ef_search, include=include
            )
        fname = (
            self._fields[0][0]
            if field is None and len(self._fields) == 1
            else self._field_name(field)
        )
        with self._lock:
            q = self._core.prepare_queries(fname, query)
            sel = None if where is None else self._selection(where)
            k = _capped(k, self._core)
            ids, scores, counts, slots = self._dense(fname, q, k, sel, ef_search)
            if not include:
                hits = [Hits(ids[i], scores[i, : len(ids[i])]) for i in range(len(ids))]
            else:
                hits = [self._hits(ids[i], scores[i], slots[i], include) for i in range(len(ids))]
        single = (query.ndim if type(query) is np.ndarray else np.ndim(query)) == 1
        return hits[0] if single else hits

    def _search_multi(
        self,
        query: Mapping[str, Any],
        k: int,
        *,
        where: Mapping[str, Any] | None,
        weights: Mapping[str, float] | None,
        ef_search: int | None,
        include: Sequence[str],
    ) -> Hits | list[Hits]:
        if not query:
            msg = "a dict query needs at least one field"
            raise ValueError(msg)
        for f, q in query.items():
            self._field_name(f)
            _check_real(q, f"query[{f!r}]")
        w = (
            {f: 1.0 for f in query}
            if weights is None
            else {f: float(weights.get(f, 0.0)) for f in query}
        )
        arrays = {f: np.asarray(q, dtype=np.float32) for f, q in query.items()}
        dims = {a.ndim for a in arrays.values()}
        if len(dims) != 1:
            msg = "all fields of a dict query must be single vectors, or batches of the same length"
            raise ValueError(msg)
        single = dims == {1}
        if single:
            arrays = {f: a[None, :] for f, a in arrays.items()}
        nq = {len(a) for a in arrays.values()}
        if len(nq) != 1:
            msg = "all fields of a dict query must hold the same number of queries"
            raise ValueError(msg)
        out: list[Hits] = []
        with self._lock:
            core = self._core
            sel = self._selection(where)
            prepared = {f: core.prepare_queries(f, a) for f, a in arrays.items()}
            k = _capped(k, core)
            n_cand = _capped(max(4 * k, 40), core)
            per_field = {
                f: self._dense(f, prepared[f], n_cand, sel, ef_search)[3] for f in prepared
            }
            for i in range(next(iter(nq))):
                cand = np.unique(np.concatenate([per_field[f][i] for f in prepared]))
                cand = cand[cand >= 0]
                total = np.zeros(len(cand), np.float64)
                for f in prepared:
                    if w[f] == 0.0:
                        continue
                    s = core.score_slots(f, prepared[f][i], cand).astype(np.float64)
                    total += w[f] * (-s if self.metric == "l2" else s)
                order = np.lexsort((cand, -total))[:k]
                slots = cand[order]
                out.append(
                    self._hits(core.ids_of(slots), total[order].astype(np.float32), slots, include)
                )
        return out[0] if single else out

    def search_text(
        self,
        text: str,
        k: int = 10,
        *,
        where: Mapping[str, Any] | None = None,
        include: Sequence[str] = (),
    ) -> Hits:
        """BM25 keyword search over the records' texts (tokenizer in docs/sage_db.md)."""
        _check_k(k)
        if not isinstance(text, str):
            msg = f"search_text takes a str, not {type(text).__name__}"
            raise TypeError(msg)
        with self._lock:
            sel = self._selection(where)
            slots, scores = self._core.bm25_search(text, _capped(k, self._core), sel)
            return self._hits(self._core.ids_of(slots), scores, slots, include)

    def hybrid(
        self,
        query: Any,
        text: str,
        k: int = 10,
        *,
        fusion: str = "rrf",
        alpha: float = 0.5,
        rrf_k: float = 60.0,
        candidates: int | None = None,
        where: Mapping[str, Any] | None = None,
        field: str | None = None,
        include: Sequence[str] = (),
    ) -> Hits:
        """Dense + BM25 search fused by reciprocal rank (``"rrf"``) or normalised scores
        (``"weighted"``: ``alpha * dense + (1 - alpha) * bm25``). Formulas in docs/sage_db.md.
        """
        _check_k(k)
        if fusion not in ("rrf", "weighted"):
            msg = f"unknown fusion {fusion!r}; use 'rrf' or 'weighted'"
            raise ValueError(msg)
        if not 0.0 <= alpha <= 1.0:
            msg = f"alpha must lie in [0, 1], got {alpha}"
            raise ValueError(msg)
        if candidates is not None:
            _check_k(candidates, "candidates")
        _check_real(query, "query")
        fname = self._field_name(field)
        with self._lock:
            core = self._core
            k = _capped(k, core)
            n_cand = _capped(candidates or max(5 * k, 50), core)
            q = core.prepare_queries(fname, query)
            if len(q) != 1:
                msg = "hybrid takes one query vector"
                raise ValueError(msg)
            sel = self._selection(where)
            _, dscores, dcounts, dslots = self._dense(fname, q, n_cand, sel, None)
            nd = int(dcounts[0])
            bslots, bscores = core.bm25_search(text, n_cand, sel)
            w_dense, w_text = (alpha, 1.0 - alpha) if fusion == "weighted" else (1.0, 1.0)
            lists = [
                (dslots[0][:nd], dscores[0][:nd], self.metric != "l2", w_dense),
                (bslots, bscores, True, w_text),
            ]
            slots, scores = core.fuse(lists, fusion, k, rrf_k)
            return self._hits(core.ids_of(slots), scores, slots, include)

    # -- pickling ---------------------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        db = self._db()
        if db is not None:
            return (_restore_collection, (db, self.name))
        if self._dir is not None:  # the handle was dropped: reopen read-only by path
            return (_reopen_collection, (os.path.dirname(os.path.dirname(self._dir)), self.name))
        msg = "this collection has no database handle to pickle"
        raise TypeError(msg)


def _restore_collection(db: SageDB, name: str) -> Collection:
    return db.collection(name)


def _reopen_collection(path: str, name: str) -> Collection:
    from sage_db.database import SageDB

    return SageDB.open(path, mode="r").collection(name)


def _id_list(ids: Any) -> list[str]:
    if isinstance(ids, (str, bytes)):
        msg = f"ids must be a list of str, not a single {type(ids).__name__}: wrap it as [{ids!r}]"
        raise TypeError(msg)
    return list(ids)


def _check_k(k: int, name: str = "k") -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        msg = f"{name} must be a positive int, got {k!r}"
        raise ValueError(msg)
    if k > MAX_K:
        msg = (
            f"{name}={k} is beyond any collection sage_db can hold (at most {MAX_K:,}); ask for "
            f"the number of results you will read (a {name} above the number of records returns "
            "them all)"
        )
        raise ValueError(msg)


def _capped(k: int, core: Any) -> int:
    """``k`` limited to the live records: buffers are sized by this, never by the caller's k."""
    return max(1, min(int(k), int(core.count)))


def _check_where(where: Any) -> None:
    if where is not None and not isinstance(where, Mapping):
        msg = (
            f"where must be a dict filter, not the {type(where).__name__} {where!r}; write it as "
            """{"n": 1}, {"n": {"$gte": 1}} or {"$or": [{"lang": "en"}, {"lang": "de"}]} """
            "(operators in docs/sage_db.md)"
        )
        raise TypeError(msg)


def _check_real(array: Any, what: str) -> None:
    """Complex arrays would be cast to float32 with their imaginary part dropped."""
    if isinstance(array, np.ndarray) and array.dtype.kind == "c":
        msg = (
            f"{what} has complex dtype {array.dtype}; sage_db stores real vectors only: pass "
            "array.real, np.abs(array) or both parts side by side (np.hstack([a.real, a.imag]))"
        )
        raise TypeError(msg)
