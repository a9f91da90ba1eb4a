"""Sentence embeddings without torch: the shipped all-MiniLM-L6-v2 on ONNX Runtime with ``tokenizers``.

:class:`OnnxSentenceEncoder` tokenizes with the model's own ``tokenizer.json`` (Hugging Face
``tokenizers``), runs the graph built by :func:`sage_recipes.bert_onnx.build_bert_onnx` (with ONNX Runtime's
fused attention, residual-LayerNorm and GELU kernels) on ONNX Runtime, and returns float32 vectors equal to ``SentenceTransformer.encode``'s (cosine
>= 0.999, tested on every chunk of SAGE's docs/). The graph is converted once from the
model's safetensors weights and cached under ``<SAGE data dir>/models/`` (see
:func:`sage_recipes.paths.sage_home`); loading it takes well under a second, and importing
this module pulls neither torch nor sentence-transformers.

:class:`OnnxEmbedder` is the pipeline step (same records as
:class:`~sage_recipes.embedding.SentenceTransformerEmbedder`): the knowledge base behind
``sage ask`` embeds documents and questions with it.

Holds the ONNX Runtime encoder and its loader. Must not hold record handling or model
caching of its own: :class:`~sage_recipes.embedding.ModelEmbedder` and
:func:`~sage_recipes.embedding.shared_model` are shared with the sentence-transformers step.

Example::

    from sage_recipes.onnx_embedding import load_onnx_encoder

    encoder = load_onnx_encoder()                  # the shipped all-MiniLM-L6-v2
    encoder.encode(["How do I run a pipeline on Ray?"]).shape     # (1, 384), unit length
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sage_recipes.embedding import ModelEmbedder, minilm_path, shared_model
from sage_recipes.paths import sage_home

__all__ = ["OnnxEmbedder", "OnnxSentenceEncoder", "converted_model", "load_onnx_encoder"]

_convert_lock = threading.Lock()


def _import_runtime() -> tuple[Any, Any]:
    try:
        import onnxruntime
        from tokenizers import Tokenizer
    except ImportError as exc:
        msg = f"the ONNX embedder needs onnxruntime and tokenizers ({exc}); install with `pip install -e '.[recipes]'`"
        raise ImportError(msg) from exc
    return onnxruntime, Tokenizer


def converted_model(model_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """The ONNX file of the BERT model in ``model_dir``: built on first use, then reused.

    The cache file's name carries a digest of the weights file's path, size and mtime and of
    the graph builder's version, so a new model or a new builder makes a new file.
    """
    from sage_recipes.bert_onnx import GRAPH_VERSION

    folder = Path(model_dir).resolve()
    weights = folder / "model.safetensors"
    if not weights.is_file():
        msg = f"{folder} has no model.safetensors: the ONNX embedder converts a BERT model's safetensors weights"
        raise FileNotFoundError(msg)
    st = weights.stat()
    digest = hashlib.sha1(f"{weights}|{st.st_size}|{st.st_mtime_ns}|{GRAPH_VERSION}".encode()).hexdigest()[:12]
    cache = Path(cache_dir) if cache_dir is not None else sage_home() / "models"
    path = cache / f"{folder.name}-{digest}.onnx"
    if path.is_file():
        return path
    with _convert_lock:
        if not path.is_file():
            from sage_recipes.bert_onnx import build_bert_onnx

            build_bert_onnx(folder, path)
    return path


def _max_tokens(folder: Path) -> int:
    """sentence-transformers' ``max_seq_length`` for the model (256 for all-MiniLM-L6-v2)."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return 512


class OnnxSentenceEncoder:
    """Tokenizer + ONNX Runtime session for one sentence-transformers BERT model (mean pooling).

    ``model_dir`` defaults to the shipped all-MiniLM-L6-v2; ``threads`` is ONNX Runtime's
    intra-op thread count (``None``: one per core). Texts longer than the model's
    ``max_seq_length`` tokens are truncated, as sentence-transformers does.
    """

    def __init__(self, model_dir: str | Path | None = None, *, threads: int | None = None, cache_dir: str | Path | None = None):
        ort, Tokenizer = _import_runtime()
        self.folder = Path(model_dir or minilm_path()).resolve()
        self.max_tokens = _max_tokens(self.folder)
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(converted_model(self.folder, cache_dir)), options, providers=["CPUExecutionProvider"])
        self.dim = int(self.session.get_outputs()[0].shape[1])

    def __repr__(self) -> str:
        return f"OnnxSentenceEncoder({str(self.folder)!r}, dim={self.dim}, max_tokens={self.max_tokens})"

    def encode(self, texts: list[str], batch_size: int = 8, normalize: bool = True) -> np.ndarray:
        """Vectors of ``texts`` as a float32 ``[len(texts), dim]`` array, unit length unless ``normalize=False``.

        Texts are batched by token count (longest first), so that little padding is computed;
        small batches of long texts ran fastest on two cores (the matrix products dominate).
        """
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), max(1, batch_size)):
            batch = order[start : start + batch_size]
            width = len(encodings[batch[0]].ids)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                tokens = encodings[i].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            out[batch] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        if normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def load_onnx_encoder(model: str | None = None, threads: int | None = None) -> OnnxSentenceEncoder:
    """The process's shared :class:`OnnxSentenceEncoder` for ``model`` (``None``: the shipped all-MiniLM-L6-v2)."""
    key = ("onnx", str(Path(model).resolve()) if model else "", threads)
    encoder: OnnxSentenceEncoder = shared_model(key, lambda: OnnxSentenceEncoder(model, threads=threads))
    return encoder


class OnnxEmbedder(ModelEmbedder):
    """Embeds texts on ONNX Runtime (default: the shipped all-MiniLM-L6-v2, 384 dims, no torch).

    The same records and options as :class:`~sage_recipes.embedding.SentenceTransformerEmbedder`;
    vectors match it (cosine >= 0.999).

    >>> emb = OnnxEmbedder()
    >>> emb.execute_batch(["a cat", "a kitten"])[0]["vector"].shape
    (384,)
    """

    load_model = staticmethod(load_onnx_encoder)
    encode_with = staticmethod(OnnxSentenceEncoder.encode)

    def __init__(
        self,
        model: str | None = None,
        *,
        batch_size: int = 8,
        normalize: bool = True,
        threads: int | None = None,
        text_key: str = "text",
        vector_key: str = "vector",
    ):
        super().__init__(model, batch_size, normalize, text_key, vector_key, threads=threads)
