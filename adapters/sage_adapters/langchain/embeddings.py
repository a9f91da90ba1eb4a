"""The shipped all-MiniLM-L6-v2 (or any sentence-transformers model) as LangChain ``Embeddings``.

Shares the process-wide model cache of :mod:`sage_recipes.embedding`, offline. Holds the
LangChain interface only; must not hold model loading or encoding (those stay in the recipes,
which never import this module).

>>> emb = MiniLMEmbeddings()                    # doctest: +SKIP
>>> len(emb.embed_query("hello"))               # doctest: +SKIP
384
"""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from sage_recipes.embedding import encode_texts, load_sentence_transformer

__all__ = ["MiniLMEmbeddings"]


class MiniLMEmbeddings(Embeddings):
    """LangChain embeddings backed by sentence-transformers (default: the shipped all-MiniLM-L6-v2)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, device: str = "cpu"):
        self.model_name = model
        self.batch_size = batch_size
        self.device = device

    def _model(self) -> Any:
        return load_sentence_transformer(self.model_name, self.device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return encode_texts(self._model(), texts, self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
