"""Keeping a sage_db collection equal to a folder of documents: change events in, chunks out.

A *change event* says what happened to one file: ``{"op": "upsert", "id", "path",
"version", "sha256", "size", "mtime_ns"}`` (new or changed) or ``{"op": "delete", "id",
"version"}`` (removed). ``version`` is the time the change was seen (``time.time_ns()``),
so later changes win whatever order their records reach the writer in.
:func:`add_document_index` turns a stream of events (a bounded list for a one-off sync, or
:class:`~sage_recipes.folder_watch.FolderWatcher` for a live index) into writes:

    events ─► read_event ─┬─► documents ─► MarkdownChunker ─► embedder (one call per bundle) ─┐
                          └─► removals ───────────────────────────────────────────────────┴─► DocumentIndexWriter

The chunking and embedding steps are :func:`sage_recipes.rag.add_embedding`: Markdown by
section (:class:`~sage_recipes.markdown_sections.MarkdownChunker`), vectors from
:class:`~sage_recipes.onnx_embedding.OnnxEmbedder` (all-MiniLM-L6-v2 without torch). The writer
(:class:`DocumentIndexWriter`, the collection's single writer) deletes a document's old
chunks before writing the first chunk of a newer version, deletes the chunks of removed
documents, and records each fully written document in a small JSON *manifest* next to the
database (``<db>/kb_manifest.<collection>.json``: ``{id: {"sha256", "size", "mtime",
"version", "chunks"}}``, with the ``settings`` the chunks were made with) so that the next
sync skips unchanged files, and re-indexes every file when the settings changed. An unreadable file
or a failing chunk becomes a dead letter and its document stays out of the manifest, so
the next sync tries it again.

Example::

    env = LocalEnvironment("sync", config=RAG_CONFIG)
    events = [upsert_event(info) for info in find_files("docs")]
    add_document_index(env.from_batch(events), "data/kb", "docs")
    env.submit()
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from sage_core.api.datastream import DataStream
from sage_recipes.batching import BatchMapFunction, batch_map
from sage_recipes.documents import FileInfo, read_document
from sage_recipes.markdown_sections import MarkdownChunker
from sage_recipes.onnx_embedding import OnnxEmbedder
from sage_recipes.rag import add_embedding
from sage_recipes.retrieval import SageDBWriter

__all__ = [
    "DocumentIndexWriter",
    "add_document_index",
    "chunk_ids",
    "delete_event",
    "index_settings",
    "load_manifest",
    "load_settings",
    "manifest_path",
    "read_event",
    "upsert_event",
]

CHUNK_COUNT_KEY = "chunks"
PROBE_PAGE = 64


def upsert_event(info: FileInfo, sha256: str, version: int | None = None) -> dict[str, Any]:
    """The event "file ``info`` is new or changed, its bytes hash to ``sha256``"."""
    return {
        "op": "upsert", "id": info.id, "path": info.path, "sha256": sha256, "size": info.size,
        "mtime_ns": info.mtime_ns, "version": version or time.time_ns(),
    }


def delete_event(doc_id: str, version: int | None = None) -> dict[str, Any]:
    """The event "document ``doc_id`` was removed"."""
    return {"op": "delete", "id": doc_id, "version": version or time.time_ns()}


# -- manifest ------------------------------------------------------------------------------
def manifest_path(db_path: str, collection: str) -> str:
    return os.path.join(str(db_path), f"kb_manifest.{collection}.json")


def load_manifest(db_path: str, collection: str) -> dict[str, dict[str, Any]]:
    """``{doc id: {"sha256", "size", "mtime", "version", "chunks"}}`` of the indexed documents."""
    path = manifest_path(db_path, collection)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("format") != "sage_kb_manifest":
        msg = f"{path} is not a knowledge-base manifest; delete it to re-index the folder"
        raise ValueError(msg)
    return dict(data["documents"])


def load_settings(db_path: str, collection: str) -> dict[str, Any] | None:
    """The :func:`index_settings` the indexed chunks were made with (``None``: not recorded)."""
    path = manifest_path(db_path, collection)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        settings = json.load(f).get("settings")
    return settings if isinstance(settings, dict) else None


def index_settings(chunk_size: int, chunk_overlap: int, chunker: type = MarkdownChunker, model: str = "all-MiniLM-L6-v2") -> dict[str, Any]:
    """What makes the chunks of an index: a different value means every file is indexed again.

    >>> index_settings(800, 100)
    {'chunker': 'MarkdownChunker', 'chunk_size': 800, 'chunk_overlap': 100, 'model': 'all-MiniLM-L6-v2'}
    """
    return {"chunker": chunker.__name__, "chunk_size": chunk_size, "chunk_overlap": chunk_overlap, "model": model}


def save_manifest(db_path: str, collection: str, documents: dict[str, dict[str, Any]], settings: dict[str, Any] | None = None) -> None:
    """Write the manifest atomically (temporary file, then rename)."""
    path = manifest_path(db_path, collection)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    body = {"format": "sage_kb_manifest", "version": 1, "collection": collection, "settings": settings, "documents": documents}
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def chunk_ids(col: Any, doc_id: str) -> list[str]:
    """Ids of ``doc_id``'s chunks in ``col`` (``<doc id>#<n>``, probed a page at a time)."""
    found: list[str] = []
    start = 0
    while True:
        page = [f"{doc_id}#{i}" for i in range(start, start + PROBE_PAGE)]
        present = [i for i, rec in zip(page, col.get(page)) if rec is not None]
        if not present:
            return found
        found.extend(present)
        start += PROBE_PAGE


# -- pipeline steps ------------------------------------------------------------------------
def read_event(event: dict[str, Any]) -> dict[str, Any]:
    """An upsert event becomes its document (the version rides in the metadata); a delete
    event passes. A file with no text becomes a removal that records it as empty."""
    if not isinstance(event, dict) or event.get("op") not in ("upsert", "delete") or "id" not in event:
        msg = f"a change event is {{'op': 'upsert'|'delete', 'id', ...}}, got {event!r:.160}"
        raise TypeError(msg)
    if event["op"] == "delete":
        return event
    info = FileInfo(event["id"], event["path"], event["mtime_ns"], event["size"])
    doc = read_document(info, event["sha256"])
    doc["metadata"]["version"] = event["version"]
    if not doc["text"].strip():
        entry = _entry(doc["metadata"], 0)
        return {"op": "delete", "id": event["id"], "version": event["version"], "entry": entry}
    return doc


def is_document(record: dict[str, Any]) -> bool:
    return "op" not in record


def is_removal(record: dict[str, Any]) -> bool:
    return record.get("op") == "delete"


def discard(record: Any) -> None:
    """The end of the index pipeline: the writer's receipts are counted in its metrics."""


def _entry(metadata: dict[str, Any], chunks: int) -> dict[str, Any]:
    keys = ("sha256", "size", "mtime", "version")
    return {**{k: metadata[k] for k in keys}, "chunks": chunks}


class DocumentIndexWriter(BatchMapFunction):
    """The single writer of a knowledge-base collection: applies embedded chunks and removals.

    Receives whole bundles (via :func:`~sage_recipes.batching.batch_map`) and writes each
    bundle with one upsert through :class:`~sage_recipes.retrieval.SageDBWriter`, so a live
    index shows changes as soon as their bundle is written. Emits one receipt per record:
    ``{"id", "op": "upsert" | "delete" | "stale"}`` (``stale``: a newer version of the
    document was already applied). Counters: ``chunks_written``, ``chunks_deleted``,
    ``documents_indexed``, ``documents_removed``.
    """

    def __init__(
        self, path: str, collection: str = "docs", *, metric: str = "cosine", index: str = "flat", sync: bool = False,
        settings: dict[str, Any] | None = None,
    ):
        self.path = str(path)
        self.settings = settings
        self.collection = collection
        self.metric = metric
        self.index = index
        self.sync = sync
        self.writer: SageDBWriter | None = None

    def open(self) -> None:
        if self.ctx.parallelism != 1:
            msg = f"DocumentIndexWriter {self.ctx.name!r}: a sage_db collection has one writer; use parallelism=1"
            raise ValueError(msg)
        self.writer = SageDBWriter(self.path, self.collection, metric=self.metric, index=self.index, batch_size=2**31, sync=self.sync)
        self.writer.ctx = self.ctx
        self.manifest = load_manifest(self.path, self.collection)
        self.current = {doc: int(e["version"]) for doc, e in self.manifest.items()}
        self.progress: dict[str, set[int]] = {}
        self.staged: list[dict[str, Any]] = []
        self.dirty = False

    # -- bookkeeping -----------------------------------------------------------------------
    def _write_staged(self) -> None:
        """Write the buffered chunks, then count them towards their documents."""
        assert self.writer is not None
        self.writer.flush()
        for meta in self.staged:
            doc, version = meta["doc_id"], int(meta["version"])
            if self.current.get(doc) != version:
                continue
            done = self.progress.setdefault(doc, set())
            done.add(int(meta["chunk"]))
            if len(done) == int(meta[CHUNK_COUNT_KEY]):
                self.manifest[doc] = _entry(meta, len(done))
                self.progress.pop(doc, None)
                self.dirty = True
                self.ctx.metrics.inc("documents_indexed")
        self.ctx.metrics.inc("chunks_written", len(self.staged))
        self.staged = []

    def _replace(self, doc: str, version: int) -> None:
        """Make ``version`` the current one of ``doc``: its older chunks go."""
        assert self.writer is not None
        self._write_staged()
        col = self.writer.existing_collection()
        old = chunk_ids(col, doc) if col is not None else []
        self.ctx.metrics.inc("chunks_deleted", self.writer.delete(old))
        self.current[doc] = version
        self.progress.pop(doc, None)

    def _apply(self, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict) or "id" not in record:
            msg = f"DocumentIndexWriter: expected an embedded chunk or a removal, got {record!r:.120}"
            raise TypeError(msg)
        if is_removal(record):
            doc, version = str(record["id"]), int(record["version"])
            if version < self.current.get(doc, -1):
                return {"id": doc, "op": "stale"}
            self._replace(doc, version)
            entry = record.get("entry")
            if entry is None:
                self.manifest.pop(doc, None)
                self.ctx.metrics.inc("documents_removed")
            else:
                self.manifest[doc] = entry
            self.dirty = True
            return {"id": doc, "op": "delete"}
        meta = record.get("metadata") or {}
        missing = [k for k in ("doc_id", "chunk", "version", "sha256", CHUNK_COUNT_KEY) if k not in meta]
        if missing or "vector" not in record:
            msg = f"DocumentIndexWriter: chunk {record['id']!r} lacks {missing or ['vector']}; build it with add_document_index()"
            raise TypeError(msg)
        doc, version = str(meta["doc_id"]), int(meta["version"])
        if version < self.current.get(doc, -1):
            return {"id": record["id"], "op": "stale"}
        if version > self.current.get(doc, -1):
            self._replace(doc, version)
        assert self.writer is not None
        self.writer.execute(record)
        self.staged.append(meta)
        return {"id": record["id"], "op": "upsert"}

    # -- operator --------------------------------------------------------------------------
    def execute_batch(self, records: list[Any]) -> list[Any]:
        self.staged = []
        outs: list[Any] = []
        for record in records:
            try:
                outs.append(self._apply(record))
            except TypeError as exc:
                outs.append(exc)
        self._write_staged()
        if self.dirty:
            save_manifest(self.path, self.collection, self.manifest, self.settings)
            self.dirty = False
        return outs

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def add_document_index(
    events: DataStream,
    db_path: str,
    collection: str = "docs",
    *,
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    max_batch: int = 256,
    embedder: type[BatchMapFunction] = OnnxEmbedder,
    embedder_kwargs: dict[str, Any] | None = None,
    index: str = "flat",
) -> DataStream:
    """Apply change ``events`` to ``collection`` of the sage_db at ``db_path``; returns the final stream.

    The manifest records :func:`index_settings` of ``chunk_size`` and ``chunk_overlap``.
    """
    read = events.map(read_event, name="read")
    documents = read.filter(is_document, name="documents")
    removals = read.filter(is_removal, name="removals")
    chunks = add_embedding(
        documents, chunk_size=chunk_size, chunk_overlap=chunk_overlap, max_batch=max_batch, chunker=MarkdownChunker,
        chunker_kwargs={"count_key": CHUNK_COUNT_KEY}, embedder=embedder, embedder_kwargs=embedder_kwargs,
    )
    merged = chunks.connect(removals).comap(_same, _same, name="changes")
    settings = index_settings(chunk_size, chunk_overlap)
    receipts = batch_map(merged, DocumentIndexWriter, db_path, collection, index=index, settings=settings, name="write", parallelism=1)
    return receipts.sink(discard, name="done")


def _same(record: Any) -> Any:
    return record
