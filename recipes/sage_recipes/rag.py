"""A minimal RAG recipe as SAGE pipelines: ingest documents into sage_db, answer questions.

Ingestion: documents → :class:`~sage_recipes.chunking.TextChunker` → embedder (one call
per bundle; by default :class:`~sage_recipes.onnx_embedding.OnnxEmbedder`, the shipped
all-MiniLM-L6-v2 without torch) → :class:`~sage_recipes.retrieval.SageDBWriter`.
Questions: question → embedder → :class:`~sage_recipes.retrieval.SageDBRetriever`
(hybrid: dense + BM25) → :class:`~sage_recipes.prompting.QAPromptor` → generator (an
OpenAI-compatible endpoint if configured, else the extractive one).

``add_ingestion`` / ``add_answering`` add the steps to your own environment (any backend);
``build_index`` / ``ask`` run them as local jobs and return the results.

Example::

    from sage_recipes.rag import ask, build_index
    from sage_recipes.sources import pydoc_topics

    build_index(pydoc_topics(), "data/pydoc_kb")
    [reply] = ask(["What does the with statement do?"], "data/pydoc_kb")
    print(reply["answer"], reply["passages"][0]["metadata"]["topic"])
"""

from __future__ import annotations

from typing import Any

from sage_core import LocalEnvironment
from sage_core.api.datastream import DataStream
from sage_core.api.functions import FlatMapFunction
from sage_recipes.batching import BatchMapFunction, batch_map
from sage_recipes.chunking import TextChunker
from sage_recipes.generation import default_generator
from sage_recipes.onnx_embedding import OnnxEmbedder
from sage_recipes.prompting import QAPromptor
from sage_recipes.retrieval import SageDBRetriever, SageDBWriter

__all__ = ["RAG_CONFIG", "AnsweringError", "add_answering", "add_embedding", "add_ingestion", "ask", "build_index", "to_question"]

# Larger bundles keep the embedding model fed with batches of useful size.
RAG_CONFIG = {"bundle_target_ms": 500.0}


def to_question(record: Any) -> dict[str, Any]:
    """``"text"`` → ``{"question": "text"}``; dicts with a ``question`` pass unchanged."""
    if isinstance(record, str):
        return {"question": record}
    if isinstance(record, dict) and isinstance(record.get("question"), str):
        return record
    msg = f"a question must be a str or a dict with a str 'question', got {record!r:.120}"
    raise TypeError(msg)


def add_embedding(
    documents: DataStream,
    *,
    chunk_size: int = 800,
    chunk_overlap: int = 100,
    chunker: type[FlatMapFunction] = TextChunker,
    chunker_kwargs: dict[str, Any] | None = None,
    embedder: type[BatchMapFunction] = OnnxEmbedder,
    embedder_kwargs: dict[str, Any] | None = None,
    max_batch: int = 256,
) -> DataStream:
    """Chunk and embed ``documents`` (``{"id", "text", "metadata"?}``): the stream of embedded chunks.

    ``chunker`` (default :class:`~sage_recipes.chunking.TextChunker`) is built with
    ``chunk_size, chunk_overlap`` and ``chunker_kwargs`` (e.g. ``count_key``).
    """
    chunks = documents.flatmap(chunker, chunk_size, chunk_overlap, name="chunk", **(chunker_kwargs or {}))
    return batch_map(chunks, embedder, max_batch=max_batch, name="embed_chunks", **(embedder_kwargs or {}))


def add_ingestion(
    documents: DataStream,
    db_path: str,
    collection: str = "docs",
    **options: Any,
) -> DataStream:
    """Chunk, embed and write ``documents`` (``{"id", "text", "metadata"?}``) into ``db_path``.

    ``options`` are those of :func:`add_embedding`.
    """
    vectors = add_embedding(documents, **options)
    return vectors.sink(SageDBWriter, db_path, collection, name="write_sage_db", parallelism=1)


def add_answering(
    questions: DataStream,
    db_path: str,
    collection: str = "docs",
    *,
    k: int = 4,
    mode: str = "hybrid",
    where: dict[str, Any] | None = None,
    fusion: str = "rrf",
    alpha: float = 0.5,
    embedder: type[BatchMapFunction] = OnnxEmbedder,
    embedder_kwargs: dict[str, Any] | None = None,
    generator: type[BatchMapFunction] | None = None,
    generator_kwargs: dict[str, Any] | None = None,
) -> DataStream:
    """Answer ``questions`` (str or ``{"question"}``): returns the stream of answer records.

    Each output holds ``question``, ``passages``, ``messages``, ``answer``, ``generator``.
    ``generator=None`` picks :func:`~sage_recipes.generation.default_generator`; ``mode``,
    ``where``, ``fusion`` and ``alpha`` go to :class:`~sage_recipes.retrieval.SageDBRetriever`.
    """
    if generator is None:
        generator, generator_kwargs = default_generator(**(generator_kwargs or {}))
    qs = questions.map(to_question, name="to_question")
    vecs = batch_map(qs, embedder, name="embed_questions", **{"text_key": "question", **(embedder_kwargs or {})})
    passages = vecs.map(SageDBRetriever, db_path, collection, k=k, mode=mode, where=where, fusion=fusion, alpha=alpha, name="retrieve")
    prompts = passages.map(QAPromptor, name="prompt")
    return batch_map(prompts, generator, name="generate", **(generator_kwargs or {}))


def build_index(documents: list[dict[str, Any]], db_path: str, collection: str = "docs", **options: Any) -> Any:
    """Run the ingestion as a local job; returns its ``JobResult`` (raises on dead letters)."""
    env = LocalEnvironment("rag_ingest", config=RAG_CONFIG)
    add_ingestion(env.from_batch(documents, name="documents"), db_path, collection, **options)
    result = env.submit()
    _raise_dead_letters(result, "ingestion")
    return result


def ask(questions: list[Any], db_path: str, collection: str = "docs", **options: Any) -> list[dict[str, Any]]:
    """Answer ``questions`` as a local job; returns the answers in question order.

    Raises :class:`AnsweringError` when a question fails (an endpoint that refuses, ...).
    """
    qs = [to_question(q) for q in questions]
    tagged = [{**q, "_order": i} for i, q in enumerate(qs)]
    env = LocalEnvironment("rag_ask", config=RAG_CONFIG)
    add_answering(env.from_batch(tagged, name="questions"), db_path, collection, **options).collect("answers")
    result: Any = env.submit()
    _raise_dead_letters(result, "answering")
    answers = sorted(result.collected["answers"], key=lambda a: a["_order"])
    return [{k: v for k, v in a.items() if k != "_order"} for a in answers]


class AnsweringError(RuntimeError):
    """Questions that failed in the answering job: ``operator`` and ``error`` of the first
    (e.g. ``"generate"`` and the endpoint's refusal, secrets masked)."""

    def __init__(self, message: str, operator: str, error: str):
        super().__init__(message)
        self.operator = operator
        self.error = error


def _raise_dead_letters(result: Any, what: str) -> None:
    if result.dead_letters:
        first = result.dead_letters[0]
        msg = f"RAG {what}: {len(result.dead_letters)} record(s) failed; first at {first.operator!r}: {first.error}"
        if what == "answering":
            raise AnsweringError(msg, first.operator, first.error)
        raise RuntimeError(msg)
