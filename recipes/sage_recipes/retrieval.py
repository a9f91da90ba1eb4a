"""sage_db as pipeline steps: a sink that writes embedded chunks, a map that retrieves passages.

Records are dicts. :class:`SageDBWriter` takes ``{"id", "text", "vector", "metadata"?}``
(what :class:`~sage_recipes.chunking.TextChunker` followed by an embedder produces) and
upserts them in groups; it also takes whole ``pyarrow.RecordBatch``/``Table`` records
(columns ``id``, ``vector``, ``text``, the rest metadata), each upserted in one call.
:class:`SageDBRetriever` takes ``{"question", "vector"?}`` and adds ``"passages"``: a list of
``{"id", "score", "text", "metadata"}``, best first.

Example::

    # ingestion
    chunks = env.from_batch(docs).flatmap(TextChunker)
    batch_map(chunks, SentenceTransformerEmbedder).sink(SageDBWriter, "data/kb", "docs")
    # question answering
    qs = batch_map(env.from_batch([{"question": "What does with do?"}]), SentenceTransformerEmbedder, text_key="question")
    qs.map(SageDBRetriever, "data/kb", "docs", k=4, mode="hybrid")
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from sage_core.api.functions import MapFunction, SinkFunction
from sage_core.reliability.sinks import write_batch

__all__ = ["SageDBRetriever", "SageDBWriter"]

MODES = ("dense", "text", "hybrid")


class SageDBWriter(SinkFunction):
    """Upserts records into a sage_db collection: at the end of each bundle, and every
    ``batch_size`` records within a large one.

    Opens the database as its single writer on the worker (``parallelism=1``); creates the
    collection with ``metric``/``index`` if needed. ``sync=False`` skips fsync per write.

    A record may also be a ``pyarrow.RecordBatch`` or ``Table`` with the columns ``id``,
    ``vector_key`` (FixedSizeList<float32>, or a list of floats), optionally ``text`` (a
    missing column or a null counts as ``""``, as for dict records), and any others as
    metadata keys (sage_db's ``Collection.upsert`` reads it, see docs/sage_db.md). Buffered
    dict records are written first, then the batch in one upsert; a batch sage_db refuses
    goes to the dead-letter output whole.
    """

    def __init__(
        self,
        path: str,
        collection: str = "docs",
        *,
        dim: int | None = None,
        metric: str = "cosine",
        index: str = "flat",
        batch_size: int = 256,
        sync: bool = False,
        vector_key: str = "vector",
    ):
        self.path = str(path)
        self.collection_name = collection
        self.dim = dim
        self.metric = metric
        self.index = index
        self.batch_size = batch_size
        self.sync = sync
        self.vector_key = vector_key
        self.buffer: list[dict[str, Any]] = []
        self.db: Any = None
        self.col: Any = None
        self.written = 0

    def _ensure_open(self, dim: int) -> None:
        if self.col is None:
            from sage_db import SageDB

            if self.db is None:
                self.db = SageDB.open(self.path, dim=self.dim or dim or None, sync=self.sync)
            self.col = self.db.collection(self.collection_name, metric=self.metric, index=self.index)

    def execute(self, data: Any) -> None:
        if type(data).__module__.startswith("pyarrow") and type(data).__name__ in ("RecordBatch", "Table"):
            self.flush()  # keep the stream's order: an id written again later must win
            try:
                self._upsert_arrow(data)
            except Exception as exc:
                if getattr(self, "ctx", None) is None:  # used outside a job
                    raise
                self.ctx.dead_letter(data, exc)
                return
            self.written += data.num_rows
            return
        if not isinstance(data, dict) or "id" not in data or self.vector_key not in data:
            msg = f"SageDBWriter: a record needs 'id' and {self.vector_key!r} (embed it first), got keys {sorted(data) if isinstance(data, dict) else type(data).__name__}"
            raise TypeError(msg)
        self.buffer.append(data)
        if len(self.buffer) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Upsert the buffered records in one call; if sage_db refuses the batch, upsert them
        one by one and dead-letter the records it still refuses."""
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self.written += write_batch([(r, r) for r in batch], self._upsert, getattr(self, "ctx", None))

    finish_bundle = flush  # each bundle is searchable once it has been processed

    def _upsert(self, batch: list[dict[str, Any]]) -> None:
        vectors = np.stack([np.asarray(r[self.vector_key], dtype=np.float32) for r in batch])
        self._ensure_open(vectors.shape[1])
        self.col.upsert(
            ids=[str(r["id"]) for r in batch],
            vectors=vectors,
            metadata=[r.get("metadata") or None for r in batch],
            texts=[r.get("text") or "" for r in batch],
        )

    def _upsert_arrow(self, data: Any) -> None:
        """One RecordBatch or Table in one upsert; the ``text`` column as the dict path has it."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if data.num_rows == 0:
            return
        if isinstance(data, pa.RecordBatch):  # a one-chunk Table, without copying the columns
            data = pa.Table.from_batches([data])
        if "text" in data.schema.names:
            i = data.schema.get_field_index("text")
            text = data.column(i)
            if text.null_count and (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
                data = data.set_column(i, "text", pc.fill_null(text, ""))
        else:
            data = data.append_column("text", pa.array([""] * data.num_rows, pa.string()))
        if self.col is None:
            self._ensure_open(_arrow_dim(data, self.vector_key))
        self.col.upsert(data, vector_column=self.vector_key)

    def existing_collection(self) -> Any:
        """The collection opened for writing, or ``None`` while the database or collection does not exist."""
        if self.col is None:
            from sage_db import SageDB

            if self.db is None:
                if not os.path.exists(os.path.join(self.path, "SAGEDB")):
                    return None
                self.db = SageDB.open(self.path, dim=self.dim, sync=self.sync)
            if self.collection_name not in self.db.collections():
                return None
            self.col = self.db.collection(self.collection_name)
        return self.col

    def delete(self, ids: list[str]) -> int:
        """Write what is buffered, then delete ``ids``; returns how many existed."""
        self.flush()
        col = self.existing_collection()
        return int(col.delete(ids)) if col is not None and ids else 0

    def close(self) -> None:
        try:
            self.flush()
            if self.db is not None:
                self.db.checkpoint()
            if getattr(self, "ctx", None) is not None:
                self.ctx.metrics.inc("sage_db_written", self.written)
        finally:
            if self.db is not None:
                self.db.close()
                self.db = self.col = None


def _arrow_dim(data: Any, column: str) -> int:
    """The vector dimension of an Arrow batch: the list size, or the length of the first row
    (0 when unknown: sage_db then names the column and what is wrong)."""
    if column not in data.schema.names:
        return 0
    t = data.schema.field(column).type
    if hasattr(t, "list_size"):
        return int(t.list_size)
    col = data.column(column)
    first = col[0] if len(col) else None
    return len(first) if first is not None and first.is_valid else 0


class SageDBRetriever(MapFunction):
    """Adds ``passages`` (the ``k`` best chunks) to each question record.

    ``mode`` is ``"hybrid"`` (dense + BM25, fused by reciprocal rank, or with
    ``fusion="weighted"`` by ``alpha * dense + (1 - alpha) * bm25`` of normalised scores;
    needs ``vector``), ``"dense"`` (needs ``vector``) or ``"text"`` (BM25 on ``question``).
    ``where`` is a sage_db metadata filter. The database is opened read-only on the worker.
    """

    def __init__(
        self,
        path: str,
        collection: str = "docs",
        *,
        k: int = 4,
        mode: str = "hybrid",
        where: dict[str, Any] | None = None,
        fusion: str = "rrf",
        alpha: float = 0.5,
        question_key: str = "question",
        vector_key: str = "vector",
    ):
        if mode not in MODES:
            msg = f"SageDBRetriever: mode must be one of {MODES}, got {mode!r}"
            raise ValueError(msg)
        if fusion not in ("rrf", "weighted") or not 0.0 <= alpha <= 1.0:
            msg = f"SageDBRetriever: fusion must be 'rrf' or 'weighted' and alpha in [0, 1], got {fusion!r}, {alpha!r}"
            raise ValueError(msg)
        self.fusion = fusion
        self.alpha = alpha
        self.path = str(path)
        self.collection_name = collection
        self.k = k
        self.mode = mode
        self.where = where
        self.question_key = question_key
        self.vector_key = vector_key
        self.db: Any = None
        self.col: Any = None

    def open(self) -> None:
        from sage_db import SageDB

        self.db = SageDB.open(self.path, mode="r")
        if self.collection_name not in self.db.collections():
            msg = f"SageDBRetriever: no collection {self.collection_name!r} in {self.path} (it has {self.db.collections()}); ingest first"
            raise LookupError(msg)
        self.col = self.db.collection(self.collection_name)

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.col is None:
            self.open()
        question = data.get(self.question_key)
        vector = data.get(self.vector_key)
        include = ("metadata", "text")
        if self.mode != "text" and vector is None:
            msg = f"SageDBRetriever(mode={self.mode!r}) needs {self.vector_key!r} in the record: embed the question first"
            raise KeyError(msg)
        if self.mode == "dense":
            hits = self.col.search(np.asarray(vector, dtype=np.float32), self.k, where=self.where, include=include)
        elif self.mode == "text":
            hits = self.col.search_text(str(question), self.k, where=self.where, include=include)
        else:
            hits = self.col.hybrid(
                np.asarray(vector, dtype=np.float32), str(question), self.k, fusion=self.fusion, alpha=self.alpha, where=self.where, include=include
            )
        passages = [
            {"id": rec["id"], "score": float(score), "text": rec.get("text") or "", "metadata": rec.get("metadata") or {}}
            for rec, score in zip(hits.records or [], hits.scores.tolist())
        ]
        out = {k: v for k, v in data.items() if k != self.vector_key}
        out["passages"] = passages
        return out

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = self.col = None
