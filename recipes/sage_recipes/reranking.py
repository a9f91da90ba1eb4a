"""Rerankers: reorder a record's retrieved ``passages`` by relevance to its question.

A record ``{"question", "passages": [{"id", "score", "text", "metadata"}]}`` (what
:class:`~sage_recipes.retrieval.SageDBRetriever` produces) comes out with its passages
reordered, best first, each with a ``rerank_score`` added (the retrieval ``score`` is
kept). ``top_k`` keeps only the best ones.

:class:`EmbeddingReranker` scores each passage by the cosine similarity of its embedding to
the question's, with a sentence-transformers bi-encoder (default: the shipped
all-MiniLM-L6-v2). It is a :class:`~sage_recipes.batching.BatchMapFunction`: with
:func:`~sage_recipes.batching.batch_map` one ``encode`` call covers every question and
passage of a bundle. ``mmr=0.7`` orders by maximal marginal relevance instead
(``0.7 * relevance - 0.3 * similarity to the passages already chosen``), which pushes
near-duplicate passages down.

:class:`CompressorReranker` runs any LangChain ``BaseDocumentCompressor`` (a Cohere,
FlashRank or cross-encoder reranker, an LLM filter, or SAGE's own ``MiniLMReranker`` from
the LangChain adapters) over each record's passages.

Retrieval casts a wide net cheaply (e.g. ``k=20`` hybrid); the reranker then reads every
candidate against the question and keeps the best few for the prompt.

Example::

    passages = questions.map(SageDBRetriever, "data/kb", "docs", k=20, mode="text")
    reranked = batch_map(passages, EmbeddingReranker, top_k=4, mmr=0.7)

Holds the reranking steps and their scoring. Must not import ``sage_adapters``: the LangChain
adapters build on these steps (``MiniLMReranker`` wraps :class:`EmbeddingReranker`), and a
compressor reaches :class:`CompressorReranker` as an argument, used by duck typing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sage_recipes.batching import BatchMapFunction
from sage_recipes.embedding import encode_texts, load_sentence_transformer

__all__ = ["CompressorReranker", "EmbeddingReranker", "mmr_order"]


def _question_and_passages(op: Any, record: Any) -> tuple[str, list[dict[str, Any]]]:
    """The question and passages of ``record`` (keys from ``op``), or a TypeError saying what is wrong."""
    who = type(op).__name__
    question = record.get(op.question_key) if isinstance(record, dict) else None
    passages = record.get(op.passages_key) if isinstance(record, dict) else None
    if not isinstance(question, str) or not isinstance(passages, list):
        msg = f"{who}: a record needs a str {op.question_key!r} and a list {op.passages_key!r}, got {record!r:.120}"
        raise TypeError(msg)
    for i, p in enumerate(passages):
        if not isinstance(p, dict) or not isinstance(p.get("text"), str):
            msg = f"{who}: {op.passages_key}[{i}] needs a str 'text', got {p!r:.120}"
            raise TypeError(msg)
    return question, passages


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, lam: float, k: int | None = None) -> list[int]:
    """Indices picked greedily by maximal marginal relevance.

    ``relevance[i]`` is passage i's similarity to the query, ``similarity[i, j]`` between
    passages; each step picks ``argmax lam * relevance - (1 - lam) * max similarity to the
    picked ones``.

    >>> rel = np.array([0.9, 0.89, 0.5])
    >>> sim = np.array([[1.0, 0.99, 0.1], [0.99, 1.0, 0.1], [0.1, 0.1, 1.0]])
    >>> mmr_order(rel, sim, 1.0), mmr_order(rel, sim, 0.5)
    ([0, 1, 2], [0, 2, 1])
    """
    n = len(relevance)
    k = n if k is None else min(k, n)
    picked: list[int] = []
    redundancy = np.full(n, -np.inf)
    left = np.ones(n, dtype=bool)
    for _ in range(k):
        penalty = np.where(np.isfinite(redundancy), redundancy, 0.0)
        value = np.where(left, lam * relevance - (1 - lam) * penalty, -np.inf)
        i = int(np.argmax(value))
        picked.append(i)
        left[i] = False
        redundancy = np.maximum(redundancy, similarity[i])
    return picked


class EmbeddingReranker(BatchMapFunction):
    """Reorders ``passages`` by cosine similarity to ``question`` with a bi-encoder.

    ``model`` is a sentence-transformers folder or name (``None``: the shipped
    all-MiniLM-L6-v2, loaded once per process). ``top_k`` keeps the best passages;
    ``mmr`` (between 0 and 1) orders by maximal marginal relevance with that weight on
    relevance. A record without a str ``question`` or with malformed passages is a dead
    letter; the rest of the bundle goes on.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        top_k: int | None = None,
        mmr: float | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        question_key: str = "question",
        passages_key: str = "passages",
    ):
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            msg = f"EmbeddingReranker: top_k must be an integer >= 1 or None, got {top_k!r}"
            raise ValueError(msg)
        if mmr is not None and not 0.0 <= mmr <= 1.0:
            msg = f"EmbeddingReranker: mmr is the weight on relevance, between 0 and 1, got {mmr!r}"
            raise ValueError(msg)
        self.model_name = model
        self.top_k = top_k
        self.mmr = mmr
        self.batch_size = batch_size
        self.device = device
        self.question_key = question_key
        self.passages_key = passages_key
        self.model: Any = None

    def open(self) -> None:
        self.model = load_sentence_transformer(self.model_name, self.device)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            self.open()
        return encode_texts(self.model, texts, self.batch_size)

    def rerank(self, record: dict[str, Any], q: np.ndarray, P: np.ndarray) -> dict[str, Any]:
        """``record`` with its passages reordered, given the question vector and passage matrix."""
        passages = record[self.passages_key]
        relevance = P @ q if len(passages) else np.zeros(0, dtype=np.float32)
        if self.mmr is not None:
            order = mmr_order(relevance, P @ P.T, self.mmr, self.top_k)
        else:
            order = sorted(range(len(passages)), key=lambda i: (-float(relevance[i]), i))[: self.top_k]
        ranked = [{**passages[i], "rerank_score": float(relevance[i])} for i in order]
        return {**record, self.passages_key: ranked}

    def execute_batch(self, records: list[Any]) -> list[Any]:
        outs: list[Any] = []
        texts: list[str] = []
        index: dict[str, int] = {}  # each distinct text is encoded once per bundle
        jobs: list[tuple[int, int, list[int]]] = []
        for r in records:
            try:
                question, passages = _question_and_passages(self, r)
            except TypeError as exc:
                outs.append(exc)
                continue
            ids = [index.setdefault(t, len(index)) for t in [question, *(p["text"] for p in passages)]]
            jobs.append((len(outs), ids[0], ids[1:]))
            outs.append(None)
        texts = list(index)
        if texts:
            vectors = self._encode(texts)
            for pos, qi, pis in jobs:
                outs[pos] = self.rerank(records[pos], vectors[qi], vectors[pis].reshape(len(pis), -1))
        return outs


class CompressorReranker(BatchMapFunction):
    """Reorders (and filters) ``passages`` with any LangChain ``BaseDocumentCompressor``.

    Each passage becomes a ``Document`` (``page_content`` = text, its metadata), the
    compressor's ``compress_documents(documents, question)`` picks and orders them, and the
    passages come back in that order, whole. A ``relevance_score`` the compressor puts in
    a document's metadata (as LangChain's rerankers do) becomes the passage's
    ``rerank_score``. One call per record; the compressor is pickled to Dask/Ray workers with
    the operator.

    Example::

        from langchain_community.document_compressors import FlashrankRerank
        reranked = batch_map(candidates, CompressorReranker, FlashrankRerank(top_n=4))
    """

    def __init__(self, compressor: Any, *, question_key: str = "question", passages_key: str = "passages"):
        if not callable(getattr(compressor, "compress_documents", None)):
            msg = f"CompressorReranker needs a LangChain BaseDocumentCompressor (with compress_documents), got {compressor!r:.120}"
            raise TypeError(msg)
        self.compressor = compressor
        self.question_key = question_key
        self.passages_key = passages_key

    def rerank(self, record: Any) -> dict[str, Any]:
        """One record through the compressor."""
        from langchain_core.documents import Document

        question, passages = _question_and_passages(self, record)
        docs = [Document(page_content=p["text"], metadata={**(p.get("metadata") or {}), "_sage_passage": i})
                for i, p in enumerate(passages)]
        kept = self.compressor.compress_documents(docs, question)
        ranked = []
        for doc in kept:
            i = doc.metadata.get("_sage_passage")
            if not isinstance(i, int) or not 0 <= i < len(passages):
                msg = f"CompressorReranker: {type(self.compressor).__name__} returned a document that is not one of the passages (metadata lost?)"
                raise ValueError(msg)
            passage = dict(passages[i])
            if "relevance_score" in doc.metadata:
                passage["rerank_score"] = float(doc.metadata["relevance_score"])
            ranked.append(passage)
        return {**record, self.passages_key: ranked}

    def execute_batch(self, records: list[Any]) -> list[Any]:
        return self.per_record(self.rerank, records)
