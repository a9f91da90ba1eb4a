"""A named collection of records: the public search and write API.

Holds the `Collection` handle, its `Hits` result type and its pickling. Each method checks
its arguments (with _checks.py), takes the collection's lock and delegates: records, files,
replay, index upkeep and checkpoints to `_storage.Store`, the search strategy and fusion to
_search.py. It holds no file-format code, no search strategy and no database-level concerns
such as locking and the collection directory (see database.py).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sage_db import _search
from sage_db._checks import (
    MAX_K,
    METRICS,
    check_fusion,
    check_include,
    check_k,
    check_real,
    field_name,
    id_list,
    is_arrow,
    make_config,
    multi_query,
    vector_list,
)
from sage_db._errors import ReadOnlyError
from sage_db._search import capped
from sage_db._storage import (
    DEFAULT_CHECKPOINT_BYTES,
    DEFAULT_CHECKPOINT_RECORDS,
    SNAPSHOT_NAME,
    WAL_NAME,
    Store,
    read_header,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from sage_db.database import SageDB

__all__ = [
    "DEFAULT_CHECKPOINT_BYTES",
    "DEFAULT_CHECKPOINT_RECORDS",
    "DEFAULT_FIELD",
    "MAX_K",
    "METRICS",
    "SNAPSHOT_NAME",
    "WAL_NAME",
    "Collection",
    "Hits",
    "make_config",
    "read_header",
]

DEFAULT_FIELD = "default"


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
        self._lock = threading.RLock()
        self._exact_fraction = exact_fraction
        self._selections = _search.Selections()
        self._fields: list[tuple[str, int]] = [(f, int(d)) for f, d in config["fields"]]
        self._store = Store(
            name,
            config,
            directory=directory,
            mode=mode,
            sync=sync,
            tombstone_ratio=tombstone_ratio,
            checkpoint_bytes=checkpoint_bytes,
            checkpoint_records=checkpoint_records,
        )
        if snapshot_bytes is not None:
            self._store.load_bytes(snapshot_bytes)
        else:
            self._store.load_files(repair=repair)

    # -- properties -------------------------------------------------------------------------
    @property
    def _core(self) -> Any:
        """The C++ core holding the records (replaced when the files are reloaded)."""
        return self._store.core

    @property
    def _mode(self) -> str:
        return self._store.mode

    @property
    def _dir(self) -> str | None:
        return self._store.dir

    @property
    def _logged_records(self) -> int:
        """Ids upserted or deleted since the last snapshot (replayed ones included)."""
        return self._store.logged_records

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
        return int(self._store.core.count)

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, id: str) -> bool:
        return id in self._store.core

    def stats(self) -> dict[str, Any]:
        core = self._store.core
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

    def _check_writable(self) -> None:
        if self._mode != "w":
            msg = (
                f"collection {self.name!r} is open read-only ({self._mode!r}); writes go through the "
                "single writer: SageDB.open(path, mode='w')"
            )
            raise ReadOnlyError(msg)

    # -- writes -----------------------------------------------------------------------------
    def upsert(
        self,
        ids: Sequence[str] | pa.RecordBatch | pa.Table,
        vectors: Any = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        texts: Sequence[str] | None = None,
        *,
        id_column: str | None = None,
        vector_column: str | Mapping[str, str] | None = None,
        text_column: str | None = None,
    ) -> None:
        """Inserts or replaces records; returns once the write is in the log.

        ``vectors`` is an ``(n, dim)`` array, or ``{field: array}`` for multi-field collections.
        Arrays are read without copying when they are C-contiguous float32; anything else
        (float64, strided views) is converted first. All checks run before anything is
        written: on error nothing changes.

        ``ids`` may instead be a ``pyarrow.RecordBatch`` or ``pyarrow.Table`` holding whole
        records (then pass nothing else): the ids in ``id_column`` (default ``"id"``), the
        vectors in ``vector_column`` (default ``"vector"``; ``{field: column}`` for several
        fields, by default each field's name), the texts in ``text_column`` (default
        ``"text"``, if present) and every other column as one metadata key (docs/sage_db.md,
        "From Arrow").
        """
        self._check_writable()
        meta: list[Any] | None
        txt: list[str] | None
        if is_arrow(ids):
            if vectors is not None or metadata is not None or texts is not None:
                msg = (
                    "upsert of a pyarrow RecordBatch/Table takes vectors, metadata and texts from "
                    "its columns: pass no vectors, metadata or texts arguments"
                )
                raise TypeError(msg)
            from sage_db._arrow import upsert_arguments

            id_strs, vecs, meta, txt = upsert_arguments(
                self.name,
                self.fields,
                ids,
                id_column=id_column,
                vector_column=vector_column,
                text_column=text_column,
            )
        else:
            if id_column is not None or vector_column is not None or text_column is not None:
                msg = "id_column, vector_column and text_column apply to pyarrow RecordBatch/Table input only"
                raise TypeError(msg)
            if vectors is None:
                msg = "upsert needs vectors: upsert(ids, vectors, ...) or upsert(record_batch)"
                raise TypeError(msg)
            id_strs = id_list(ids)
            vecs = vector_list(self.name, self.fields, vectors)
            meta = None if metadata is None else list(metadata)
            txt = None if texts is None else list(texts)
        with self._lock:
            self._store.upsert(id_strs, vecs, meta, txt)

    def delete(self, ids: Sequence[str]) -> int:
        """Deletes records by id; unknown ids are ignored. Returns how many were deleted."""
        self._check_writable()
        ids = id_list(ids)
        with self._lock:
            return self._store.delete(ids)

    def checkpoint(self) -> None:
        """Writes a snapshot (with the FAISS index for hnsw/ivf) and starts an empty log."""
        self._check_writable()
        with self._lock:
            self._store.checkpoint()

    def refresh(self) -> int:
        """Reader: applies the writer's new log records. Returns how many were applied."""
        if self._dir is None or self._mode == "w":
            return 0
        with self._lock:
            return self._store.refresh()

    def snapshot_bytes(self) -> bytes:
        """The collection as snapshot bytes (same format as snapshot.sdb)."""
        with self._lock:
            return self._store.snapshot_bytes()

    def _close(self, checkpoint: bool | None = None) -> None:
        """Detaches the log. ``checkpoint=None``: snapshot HNSW/IVF collections that have
        logged records since their last snapshot (so reopening does not rebuild the graph)."""
        with self._lock:
            self._store.close(checkpoint)

    # -- reads ------------------------------------------------------------------------------
    def get(
        self, ids: Sequence[str], *, include_vectors: bool = False
    ) -> list[dict[str, Any] | None]:
        """Records by id (``None`` for unknown ids): ``{"id", "metadata", "text"[, "vectors"]}``."""
        ids = id_list(ids)
        with self._lock:
            core = self._store.core
            slots = core.slots_of(ids)
            out: list[dict[str, Any] | None] = []
            for s in slots.tolist():
                if s < 0:
                    out.append(None)
                    continue
                rec = core.record(s)
                if include_vectors:
                    rec["vectors"] = {
                        f: np.array(core.vectors(f, s, s + 1)[0]) for f, _ in self._fields
                    }
                out.append(rec)
            return out

    def _hits(
        self, ids: list[str], scores: np.ndarray, slots: np.ndarray, include: Sequence[str]
    ) -> Hits:
        records = None
        if include:
            check_include(include)
            records = [self._store.core.record(int(s)) for s in slots[: len(ids)]]
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
            check_k(k)
        if type(query) is np.ndarray:
            if query.dtype.kind == "c":
                check_real(query, "query")
        elif isinstance(query, Mapping):
            return self._search_multi(
                query, k, where=where, weights=weights, ef_search=ef_search, include=include
            )
        fname = (
            self._fields[0][0]
            if field is None and len(self._fields) == 1
            else field_name(self.name, self.fields, field)
        )
        with self._lock:
            core = self._store.core
            q = core.prepare_queries(fname, query)
            sel = None if where is None else self._selections.select(core, where)
            k = capped(k, core)
            ids, scores, counts, slots = _search.dense(
                core,
                fname,
                self._store.indexes[fname],
                q,
                k,
                sel,
                ef_search,
                exact_fraction=self._exact_fraction,
                selections=self._selections,
            )
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
        arrays, w, single = multi_query(self.name, self.fields, query, weights)
        with self._lock:
            store = self._store
            core = store.core
            sel = self._selections.select(core, where)
            prepared = {f: core.prepare_queries(f, a) for f, a in arrays.items()}
            ranked = _search.multi_field(
                core,
                store.indexes,
                self.metric,
                prepared,
                w,
                k,
                sel,
                ef_search,
                exact_fraction=self._exact_fraction,
                selections=self._selections,
            )
            out = [self._hits(core.ids_of(slots), sc, slots, include) for slots, sc in ranked]
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
        check_k(k)
        if not isinstance(text, str):
            msg = f"search_text takes a str, not {type(text).__name__}"
            raise TypeError(msg)
        with self._lock:
            core = self._store.core
            sel = self._selections.select(core, where)
            slots, scores = core.bm25_search(text, capped(k, core), sel)
            return self._hits(core.ids_of(slots), scores, slots, include)

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
        check_k(k)
        check_fusion(fusion, alpha)
        if candidates is not None:
            check_k(candidates, "candidates")
        check_real(query, "query")
        fname = field_name(self.name, self.fields, field)
        with self._lock:
            store = self._store
            core = store.core
            k = capped(k, core)
            n_cand = capped(candidates or max(5 * k, 50), core)
            q = core.prepare_queries(fname, query)
            if len(q) != 1:
                msg = "hybrid takes one query vector"
                raise ValueError(msg)
            sel = self._selections.select(core, where)
            slots, scores = _search.hybrid(
                core,
                fname,
                store.indexes[fname],
                self.metric,
                q,
                text,
                k,
                fusion=fusion,
                alpha=alpha,
                rrf_k=rrf_k,
                n_cand=n_cand,
                sel=sel,
                exact_fraction=self._exact_fraction,
                selections=self._selections,
            )
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


# Pickles name these two functions by this module's path: they stay here.
def _restore_collection(db: SageDB, name: str) -> Collection:
    return db.collection(name)


def _reopen_collection(path: str, name: str) -> Collection:
    from sage_db.database import SageDB

    return SageDB.open(path, mode="r").collection(name)
