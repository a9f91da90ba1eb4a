"""Chunking: split documents into overlapping passages with langchain-text-splitters.

A document is a dict ``{"id", "text", "metadata"?}`` (or a plain string, whose id is its
position-free hash). Each chunk is ``{"id": f"{doc_id}#{i}", "text", "metadata"}`` where the
metadata is the document's plus ``doc_id`` and ``chunk`` (and, with ``count_key``, the
document's number of chunks under that key, so that a consumer knows when it has them all).

Example::

    env.from_batch(docs).flatmap(TextChunker, chunk_size=800, chunk_overlap=100)

>>> TextChunker(chunk_size=20, chunk_overlap=0).execute({"id": "d", "text": "one two three. four five six."})[0]
{'id': 'd#0', 'text': 'one two three. four', 'metadata': {'doc_id': 'd', 'chunk': 0}}
"""

from __future__ import annotations

import hashlib
from typing import Any

from sage_core.api.functions import FlatMapFunction

__all__ = ["TextChunker"]


class TextChunker(FlatMapFunction):
    """Splits each document with ``RecursiveCharacterTextSplitter`` (sizes in characters)."""

    def __init__(
        self,
        chunk_size: int = 800,
        chunk_overlap: int = 100,
        *,
        separators: list[str] | None = None,
        count_key: str | None = None,
    ):
        if chunk_overlap >= chunk_size:
            msg = f"TextChunker: chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
            raise ValueError(msg)
        try:
            from langchain_text_splitters import RecursiveCharacterTextSplitter
        except ImportError as exc:
            msg = "TextChunker needs langchain-text-splitters; install with `pip install -e '.[langchain]'`"
            raise ImportError(msg) from exc
        self.count_key = count_key
        self.splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap, separators=separators)

    def execute(self, data: Any) -> list[dict[str, Any]]:
        if isinstance(data, str):
            data = {"id": hashlib.sha1(data.encode()).hexdigest()[:16], "text": data}
        if not isinstance(data, dict) or not isinstance(data.get("text"), str) or "id" not in data:
            msg = f"TextChunker: a document must be a str or a dict with 'id' and str 'text', got {data!r:.120}"
            raise TypeError(msg)
        doc_id = str(data["id"])
        base = dict(data.get("metadata") or {})
        texts = self.splitter.split_text(data["text"])
        if self.count_key:
            base[self.count_key] = len(texts)
        return [
            {"id": f"{doc_id}#{i}", "text": text, "metadata": {**base, "doc_id": doc_id, "chunk": i}}
            for i, text in enumerate(texts)
        ]
