"""SAGE's embedding reranker as a LangChain ``BaseDocumentCompressor``.

:class:`MiniLMReranker` reorders documents by the cosine similarity of their embedding to
the query (the shipped all-MiniLM-L6-v2 by default, offline), keeps ``top_n`` and writes
``relevance_score`` into each document's metadata, like LangChain's other rerankers. Use
it in a LangChain app (``ContextualCompressionRetriever``) or in a SAGE pipeline through
:class:`sage_recipes.reranking.CompressorReranker`.

Holds the LangChain interface only; must not hold the scoring (that is
:class:`sage_recipes.reranking.EmbeddingReranker`, which never imports this module).

>>> from langchain_core.documents import Document
>>> r = MiniLMReranker(top_n=1)                                            # doctest: +SKIP
>>> r.compress_documents([Document(page_content="cats purr"), Document(page_content="SQL joins")],
...                      "How do databases combine tables?")[0].page_content  # doctest: +SKIP
'SQL joins'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.documents import BaseDocumentCompressor, Document

from sage_recipes.reranking import EmbeddingReranker

__all__ = ["MiniLMReranker"]


class MiniLMReranker(BaseDocumentCompressor):
    """Bi-encoder reranking (``model``: a sentence-transformers folder or name, ``None`` = MiniLM).

    ``top_n=None`` keeps every document; ``mmr`` orders by maximal marginal relevance.
    """

    model: str | None = None
    top_n: int | None = 4
    mmr: float | None = None

    def compress_documents(self, documents: Sequence[Document], query: str, callbacks: Any = None) -> Sequence[Document]:
        reranker = EmbeddingReranker(self.model, top_k=self.top_n, mmr=self.mmr)
        record = {"question": query, "passages": [{"text": d.page_content, "index": i} for i, d in enumerate(documents)]}
        [out] = reranker.execute_batch([record])
        if isinstance(out, BaseException):
            raise out
        ranked = []
        for p in out["passages"]:
            doc = documents[p["index"]]
            ranked.append(Document(page_content=doc.page_content, metadata={**doc.metadata, "relevance_score": p["rerank_score"]}, id=doc.id))
        return ranked
