"""A knowledge base over a folder of documents: incremental sync into sage_db, questions, a live index.

:class:`KnowledgeBase` ties the pieces together: :class:`~sage_recipes.folder_watch.FolderScanner`
finds what changed since the last sync (content hashes kept in a manifest next to the
index), :func:`~sage_recipes.document_index.add_document_index` applies the changes as a
SAGE job on any backend, :func:`sage_recipes.rag.ask` answers from the index, and
:meth:`KnowledgeBase.watch` keeps the index live while questions are answered.

Where the index lives: ``db_path`` if given, else ``<SAGE data dir>/kb/<folder name>-<hash
of its absolute path>``. The data dir is ``$SAGE_HOME`` if set, else
``$XDG_DATA_HOME/sage``, else ``~/.local/share/sage``.

Example::

    from sage_recipes.knowledge_base import KnowledgeBase

    kb = KnowledgeBase("docs")
    report = kb.sync()                   # only new/changed files are embedded; removed ones deleted
    print(report.summary())
    reply = kb.ask("How do I run a pipeline on Ray?")
    reply["answer"], reply["sources"]    # sources: the files the passages came from
    with kb.watch():                     # edits in docs/ reach the index within seconds
        kb.ask("...")
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sage_core import JobHandle, JobResult, LocalEnvironment
from sage_recipes.document_index import (
    add_document_index,
    index_settings,
    load_manifest,
    load_settings,
)
from sage_recipes.documents import DEFAULT_PATTERNS
from sage_recipes.folder_watch import FolderScanner, FolderWatcher
from sage_recipes.onnx_embedding import OnnxEmbedder
from sage_recipes.paths import sage_home
from sage_recipes.rag import RAG_CONFIG
from sage_recipes.rag import ask as rag_ask

__all__ = ["KnowledgeBase", "LiveIndex", "SyncReport", "default_docs_folder", "sage_home"]

Progress = Callable[[dict[str, Any]], None]

# Documents are large records (a dozen chunks each): a sync starts with 16 documents per
# bundle, so that the embedder gets batches of useful size (about ``max_batch``) from the
# first bundle on; the rest is RAG_CONFIG.
SYNC_CONFIG = {**RAG_CONFIG, "initial_bundle": 16}

# How questions are answered: hybrid retrieval with the dense score weighted 0.7 against
# BM25's, on Markdown sections of up to 1,200 characters. Chosen on tests/recipes/eval/
# docs_qa.jsonl (recall@3 and MRR in docs/benchmarks.md).
RETRIEVAL = {"mode": "hybrid", "fusion": "weighted", "alpha": 0.7}


def default_docs_folder() -> Path:
    """SAGE's own ``docs/`` folder (present in a source checkout, e.g. after ``pip install -e .``)."""
    folder = Path(__file__).resolve().parents[2] / "docs"
    if not folder.is_dir():
        msg = f"SAGE's own docs/ folder is not at {folder} (it ships with a source checkout only); give a folder of documents"
        raise FileNotFoundError(msg)
    return folder


def default_db_path(folder: Path) -> Path:
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
    return sage_home() / "kb" / f"{folder.name or 'root'}-{digest}"


@dataclass
class SyncReport:
    """What a sync did: counts of documents and chunks, time, and where the index lives."""

    folder: str
    db_path: str
    collection: str
    backend: str
    documents: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    chunks: int = 0
    seconds: float = 0.0
    failed: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line, e.g. ``12 documents (2 new, 1 changed, 0 removed) → 140 chunks ... in 3.1 s``."""
        text = (
            f"{self.documents} documents ({self.added} new, {self.changed} changed, {self.removed} removed, "
            f"{self.unchanged} unchanged) → {self.chunks} chunks ({self.chunks_written} embedded now) "
            f"in {self.seconds:.1f} s on {self.backend}; index: {self.db_path} [{self.collection}]"
        )
        if self.failed:
            text += f"; {len(self.failed)} failed: " + ", ".join(f["document"] for f in self.failed[:5])
        return text


def _failed_document(record: Any) -> str:
    if isinstance(record, dict):
        meta = record.get("metadata") or {}
        return str(meta.get("doc_id") or record.get("id") or "?")
    return "?"


class KnowledgeBase:
    """Documents of ``folder`` (``patterns``: .md .txt .rst .pdf) indexed in a sage_db collection.

    ``db_path`` defaults to the per-user data folder (see :func:`sage_home`). ``chunk_size``,
    ``chunk_overlap`` (characters) and ``index`` (``"flat"``, ``"hnsw"``) shape the index.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        db_path: str | os.PathLike[str] | None = None,
        collection: str = "docs",
        *,
        patterns: tuple[str, ...] | list[str] = DEFAULT_PATTERNS,
        chunk_size: int = 1200,
        chunk_overlap: int = 100,
        index: str = "flat",
    ):
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            msg = f"KnowledgeBase: documents folder {str(folder)!r} does not exist or is not a folder"
            raise FileNotFoundError(msg)
        self.db_path = str(Path(db_path).expanduser().resolve() if db_path else default_db_path(self.folder))
        self.collection = collection
        self.patterns = tuple(patterns)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.index = index

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.folder)!r}, db_path={self.db_path!r}, collection={self.collection!r})"

    def manifest(self) -> dict[str, dict[str, Any]]:
        """The indexed documents: ``{id: {"sha256", "size", "mtime", "version", "chunks"}}``."""
        return load_manifest(self.db_path, self.collection)

    def _known(self) -> dict[str, str]:
        return {doc: entry["sha256"] for doc, entry in self.manifest().items()}

    def _index_options(self) -> dict[str, Any]:
        return {"chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap, "index": self.index}

    def chunk_count(self) -> int:
        """Chunks in the collection (0 before the first sync)."""
        from sage_db import SageDB

        if not os.path.exists(os.path.join(self.db_path, "SAGEDB")):
            return 0
        with SageDB.open(self.db_path, mode="r") as db:
            return db.collection(self.collection).count() if self.collection in db.collections() else 0

    # -- sync ------------------------------------------------------------------------------
    def sync(self, backend: str = "local", *, progress: Progress | None = None, **submit_options: Any) -> SyncReport:
        """Embed new and changed files, delete removed ones; returns a :class:`SyncReport`.

        The work runs as one SAGE job on ``backend`` (``"local"``, ``"dask"``, ``"ray"`` ...,
        ``submit_options`` as for ``env.submit``). ``progress`` is called about five times a
        second with ``{"documents", "documents_read", "chunks", "chunks_embedded",
        "chunks_written"}`` while the job runs. Files that fail are listed in
        ``report.failed`` (the job's dead letters) and retried by the next sync.
        """
        from sage_db import SageDB

        start = time.perf_counter()
        SageDB.check_lock(self.db_path)  # a held index is reported before any document is embedded
        manifest = self.manifest()
        # chunks made with other settings (chunker, sizes, model) are all made again
        current = load_settings(self.db_path, self.collection) == index_settings(self.chunk_size, self.chunk_overlap)
        scanner = FolderScanner(self.folder, self.patterns, {d: e["sha256"] if current else "" for d, e in manifest.items()})
        events = scanner.changes()
        upserts = [e for e in events if e["op"] == "upsert"]
        report = SyncReport(str(self.folder), self.db_path, self.collection, backend)
        report.added = sum(e["id"] not in manifest for e in upserts)
        report.changed = len(upserts) - report.added
        report.removed = len(events) - len(upserts)
        report.documents = len(scanner.known)
        report.unchanged = report.documents - len(upserts)
        if events:
            env = LocalEnvironment("kb_sync", config=SYNC_CONFIG)
            add_document_index(env.from_batch(events, name="events"), self.db_path, self.collection, **self._index_options())
            handle: Any = env.submit(autostop=False, backend=backend, **submit_options)
            result = _wait(handle, len(upserts), progress)
            writer = result.metrics["write"].custom if "write" in result.metrics else {}
            report.chunks_written = int(writer.get("chunks_written", 0))
            report.chunks_deleted = int(writer.get("chunks_deleted", 0))
            report.failed = [
                {"document": _failed_document(d.record), "operator": d.operator, "error": d.error} for d in result.dead_letters
            ]
        report.chunks = self.chunk_count()
        report.seconds = time.perf_counter() - start
        return report

    # -- questions -------------------------------------------------------------------------
    def ask(self, question: str, k: int = 4, **options: Any) -> dict[str, Any]:
        """Answer ``question`` from the index: ``{"question", "answer", "generator", "passages", "sources"}``.

        ``passages`` are ``{"id", "path", "heading", "score", "text"}``, best first; ``sources`` the
        distinct paths they come from. The generator is the OpenAI-compatible endpoint of
        :func:`~sage_recipes.generation.endpoint_from_env` when one is configured, else the
        extractive one (``generator == "extractive"``). ``options`` go to
        :func:`sage_recipes.rag.add_answering` (``generator=``, ``where=``, ``mode=`` ...; the
        defaults are :data:`RETRIEVAL` and :class:`~sage_recipes.onnx_embedding.OnnxEmbedder`).
        """
        if not isinstance(question, str) or not question.strip():
            msg = f"KnowledgeBase.ask: the question must be a non-empty string, got {question!r}"
            raise ValueError(msg)
        if self.chunk_count() == 0:
            msg = f"the knowledge base at {self.db_path} is empty: call sync() first (folder {self.folder})"
            raise LookupError(msg)
        options = {"embedder": OnnxEmbedder, **RETRIEVAL, **options}
        [reply] = rag_ask([question], self.db_path, self.collection, k=k, **options)
        passages = [
            {
                "id": p["id"], "path": p["metadata"].get("path", p["metadata"].get("doc_id", "")),
                "heading": p["metadata"].get("heading", ""), "score": p["score"], "text": p["text"],
            }
            for p in reply["passages"]
        ]
        return {
            "question": question,
            "answer": reply["answer"],
            "generator": reply["generator"],
            "passages": passages,
            "sources": list(dict.fromkeys(p["path"] for p in passages)),
        }

    # -- live index ------------------------------------------------------------------------
    def watch(self, interval: float = 0.5, *, initial_sync: bool = True, progress: Progress | None = None) -> LiveIndex:
        """Keep the index live: a running job (local backend) applies every change in the folder.

        Syncs first (unless ``initial_sync=False``), then starts a pipeline whose source,
        :class:`~sage_recipes.folder_watch.FolderWatcher`, rescans the folder every
        ``interval`` seconds. Questions asked meanwhile see each change as soon as its
        chunks are written. Returns a :class:`LiveIndex`; ``stop()`` it (or use ``with``).
        """
        report = self.sync(progress=progress) if initial_sync else None
        token = uuid.uuid4().hex
        env = LocalEnvironment("kb_watch")
        events = env.from_source(
            FolderWatcher, str(self.folder), self.patterns, interval=interval, known=self._known(), stop_token=token, name="watch"
        )
        add_document_index(events, self.db_path, self.collection, **self._index_options())
        handle: Any = env.submit(autostop=False)
        return LiveIndex(handle, token, report)


def _wait(handle: JobHandle, documents: int, progress: Progress | None) -> JobResult:
    """Wait for a sync job, reporting progress from its live metrics."""
    while True:
        try:
            result = handle.wait(timeout=0.2)
        except TimeoutError:
            if progress is not None:
                progress(_progress(handle.metrics(), documents))
            continue
        if progress is not None:
            progress(_progress(result.metrics, documents))
        return result


def _progress(metrics: dict[str, Any], documents: int) -> dict[str, int]:
    def out(name: str) -> int:
        return metrics[name].records_out if name in metrics else 0

    written = metrics["write"].custom.get("chunks_written", 0) if "write" in metrics else 0
    return {
        "documents": documents,
        "documents_read": metrics["chunk"].records_in if "chunk" in metrics else 0,
        "chunks": out("chunk"),
        "chunks_embedded": out("embed_chunks"),
        "chunks_written": int(written),
    }


class LiveIndex:
    """A running live index (from :meth:`KnowledgeBase.watch`): ``stop()`` it, or use it in ``with``.

    ``initial`` is the report of the sync that preceded it; :meth:`counters` the writer's
    counters so far (``documents_indexed``, ``documents_removed``, ``chunks_written`` ...).
    """

    def __init__(self, handle: JobHandle, token: str, initial: SyncReport | None):
        self.handle = handle
        self.token = token
        self.initial = initial
        self.result: JobResult | None = None

    @property
    def running(self) -> bool:
        return not self.handle.done()

    def counters(self) -> dict[str, float]:
        metrics = self.handle.metrics()
        return dict(metrics["write"].custom) if "write" in metrics else {}

    def stop(self, timeout: float = 60.0) -> JobResult:
        """End the watcher, let the changes in flight be written, and return the job's result."""
        if self.result is None:
            FolderWatcher.request_stop(self.token)
            try:
                self.result = self.handle.wait(timeout)
            except TimeoutError:
                self.handle.cancel()
                self.result = self.handle.wait(timeout)
        return self.result

    def __enter__(self) -> LiveIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
