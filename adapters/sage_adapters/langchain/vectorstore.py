"""sage_db as a LangChain ``VectorStore`` (and, through ``as_retriever()``, a retriever).

Documents are stored with their id, embedding, metadata and text in one sage_db
collection. Scalar metadata (str, int, float, bool) is stored as sage_db columns, so
``filter=`` takes sage_db's filter language (``{"year": {"$gte": 2020}}``, ``$in``,
``$and``/``$or`` ...) and is evaluated in C++. Other values (lists, dicts, ``None``) are
kept as JSON and returned intact, but cannot be filtered on.

Example::

    from sage_adapters.langchain import SageDBVectorStore
    from langchain_core.embeddings import DeterministicFakeEmbedding

    store = SageDBVectorStore.from_texts(
        ["SAGE runs on Ray", "sage_db uses FAISS"], DeterministicFakeEmbedding(size=32),
        metadatas=[{"topic": "backends"}, {"topic": "storage"}], path="data/lc_store")
    store.similarity_search("FAISS", k=1, filter={"topic": "storage"})
    store.as_retriever(search_kwargs={"k": 4}).invoke("Which backends?")
    store.hybrid_search("FAISS vectors", k=2)        # dense + BM25, fused
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

__all__ = ["SageDBVectorStore"]

_JSON_KEY = "__lc_json__"
_SCALARS = (str, int, float, bool)


def _encode_metadata(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    flat: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == _JSON_KEY:
            msg = f"metadata key {_JSON_KEY!r} is reserved by SageDBVectorStore"
            raise ValueError(msg)
        if isinstance(value, _SCALARS) and not (isinstance(value, float) and not math.isfinite(value)):
            flat[str(key)] = value
        else:
            extra[str(key)] = value
    if extra:
        flat[_JSON_KEY] = json.dumps(extra, default=str)
    return flat or None


def _where(filter: Any) -> dict[str, Any] | None:
    """LangChain's ``filter`` is sage_db's ``where``: a dict, checked here so the error names it."""
    if filter is not None and not isinstance(filter, dict):
        msg = (
            f"filter must be a dict such as {{'topic': 'storage'}} or {{'year': {{'$gte': 2020}}}} "
            f"(sage_db's where syntax, docs/sage_db.md), not the {type(filter).__name__} {filter!r}"
        )
        raise TypeError(msg)
    return filter or None


def _decode_metadata(stored: dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {}
    out = {k: v for k, v in stored.items() if k != _JSON_KEY}
    if _JSON_KEY in stored:
        out.update(json.loads(stored[_JSON_KEY]))
    return out


class SageDBVectorStore(VectorStore):
    """A LangChain vector store over one sage_db collection.

    ``path`` is the database folder (a temporary folder when ``None``), opened as its
    writer; or pass an open ``db`` (a ``sage_db.SageDB``). The collection is created on the
    first write with ``metric`` (``"cosine"``, ``"l2"``, ``"ip"``) and ``index``
    (``"flat"``, ``"hnsw"``, ``"ivf"``); its dimension is that of the embeddings.
    """

    def __init__(
        self,
        embedding: Embeddings,
        path: str | None = None,
        collection: str = "langchain",
        *,
        db: Any = None,
        metric: str = "cosine",
        index: str = "flat",
        sync: bool = False,
    ):
        from sage_db import SageDB

        self.embedding = embedding
        self.collection_name = collection
        self.metric = metric
        self.index = index
        self._owns_db = db is None
        self.db = db if db is not None else SageDB.open(path or tempfile.mkdtemp(prefix="sage_lc_"), sync=sync)
        self._col = self.db.collection(collection) if collection in self.db.collections() else None

    # -- LangChain interface ---------------------------------------------------------------
    @property
    def embeddings(self) -> Embeddings:
        return self.embedding

    @property
    def collection(self) -> Any:
        """The sage_db ``Collection`` (``None`` until the first write)."""
        return self._col

    def _collection_for(self, dim: int) -> Any:
        if self._col is None:
            self._col = self.db.collection(self.collection_name, metric=self.metric, index=self.index, dim=dim)
        return self._col

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert ``texts``; returns their ids (new UUIDs where none are given)."""
        texts = list(texts)
        if not texts:
            return []
        if metadatas is not None and len(metadatas) != len(texts):
            msg = f"add_texts: {len(metadatas)} metadatas for {len(texts)} texts"
            raise ValueError(msg)
        if ids is not None and len(ids) != len(texts):
            msg = f"add_texts: {len(ids)} ids for {len(texts)} texts"
            raise ValueError(msg)
        given: list[Any] = list(ids) if ids is not None else [None] * len(texts)
        ids = [str(i) if i is not None else str(uuid.uuid4()) for i in given]
        vectors = np.asarray(self.embedding.embed_documents(texts), dtype=np.float32)
        col = self._collection_for(vectors.shape[1])
        metas = [_encode_metadata(m) for m in (metadatas if metadatas is not None else [None] * len(texts))]
        # sage_db rejects duplicate ids in one call: the last occurrence wins, as in a dict
        last = {i: n for n, i in enumerate(ids)}
        keep = sorted(last.values())
        col.upsert(ids=[ids[n] for n in keep], vectors=vectors[keep], metadata=[metas[n] for n in keep], texts=[texts[n] for n in keep])
        return ids

    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add documents; ``ids=`` or each ``Document.id`` is used when given."""
        ids = kwargs.pop("ids", None)
        if ids is None and any(d.id for d in documents):
            ids = [d.id for d in documents]
        return self.add_texts(
            [d.page_content for d in documents], [dict(d.metadata) for d in documents], ids=ids, **kwargs
        )

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (unknown ids are ignored); ``ids=None`` deletes nothing and returns ``None``."""
        if ids is None:
            return None
        if self._col is not None and ids:
            self._col.delete([str(i) for i in ids])
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids (missing ones are left out)."""
        if self._col is None or not ids:
            return []
        return [
            Document(page_content=r.get("text") or "", metadata=_decode_metadata(r.get("metadata")), id=r["id"])
            for r in self._col.get([str(i) for i in ids])
            if r is not None
        ]

    def _docs(self, hits: Any) -> list[tuple[Document, float]]:
        return [
            (Document(page_content=r.get("text") or "", metadata=_decode_metadata(r.get("metadata")), id=r["id"]), float(s))
            for r, s in zip(hits.records or [], hits.scores.tolist())
        ]

    def similarity_search_by_vector_with_score(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Nearest documents to a vector, with sage_db scores (cosine/ip similarity, or squared L2)."""
        where = _where(filter)
        if self._col is None or self._col.count() == 0:
            return []
        hits = self._col.search(np.asarray(embedding, dtype=np.float32), k, where=where, include=("metadata", "text"), **kwargs)
        return self._docs(hits)

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        if self._col is None or self._col.count() == 0:
            return []
        return self.similarity_search_by_vector_with_score(self.embedding.embed_query(query), k, filter, **kwargs)

    def similarity_search(self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in self.similarity_search_by_vector_with_score(embedding, k, filter, **kwargs)]

    def hybrid_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Dense + BM25 search fused by sage_db (``fusion="rrf"`` or ``"weighted"``, ``alpha=``)."""
        where = _where(filter)
        if self._col is None or self._col.count() == 0:
            return []
        vec = np.asarray(self.embedding.embed_query(query), dtype=np.float32)
        hits = self._col.hybrid(vec, query, k, where=where, include=("metadata", "text"), **kwargs)
        return self._docs(hits)

    def hybrid_search(self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.hybrid_search_with_score(query, k, filter, **kwargs)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        if self.metric == "cosine":
            return lambda s: (s + 1.0) / 2.0  # cosine similarity in [-1, 1] -> [0, 1]
        if self.metric == "l2":
            return lambda d: 1.0 - math.sqrt(max(d, 0.0)) / math.sqrt(2)
        return self._max_inner_product_relevance_score_fn

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        path: str | None = None,
        collection: str = "langchain",
        **kwargs: Any,
    ) -> SageDBVectorStore:
        """A new store at ``path`` (temporary when ``None``) holding ``texts``."""
        store = cls(embedding, path, collection, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def close(self) -> None:
        """Close the database if this store opened it."""
        if self._owns_db and self.db is not None and self.db.mode != "closed":
            self.db.close()
