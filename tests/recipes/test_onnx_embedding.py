"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as sentence-transformers, a cached
conversion, and a `sage ask` that never imports torch."""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="needs the recipes extra")
pytest.importorskip("langchain_text_splitters", reason="needs the recipes extra")

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.batching import batch_map  # noqa: E402
from sage_recipes.bert_onnx import build_bert_onnx  # noqa: E402
from sage_recipes.documents import load_documents  # noqa: E402
from sage_recipes.embedding import minilm_path  # noqa: E402
from sage_recipes.knowledge_base import KnowledgeBase, default_docs_folder  # noqa: E402
from sage_recipes.markdown_sections import MarkdownChunker  # noqa: E402
from sage_recipes.onnx_embedding import (  # noqa: E402
    OnnxEmbedder,
    OnnxSentenceEncoder,
    converted_model,
    load_onnx_encoder,
)
from tests.recipes.kb_helpers import write_corpus  # noqa: E402

QUESTIONS = ["How do I run a pipeline on Ray?", "What is a tumbling window?", "   ", "ünïcödé, emoji 🚀 and CJK 数据流"]


def docs_chunks() -> list[str]:
    chunker = MarkdownChunker(KnowledgeBase(default_docs_folder()).chunk_size)
    return [c["text"] for d in load_documents(default_docs_folder()) for c in chunker.execute(d)]


def test_vectors_match_sentence_transformers_on_every_docs_chunk(minilm):
    from sage_recipes.embedding import encode_texts

    texts = docs_chunks() + QUESTIONS + ["x " * 600]  # the last one is cut at 256 tokens by both
    assert len(texts) > 100
    ours = load_onnx_encoder().encode(texts)
    theirs = encode_texts(minilm, texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    cosine = np.sum(ours * theirs, axis=1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.999, f"cosine {cosine.min():.6f} on {texts[worst][:120]!r}"
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_the_vectors():
    encoder = load_onnx_encoder()
    texts = docs_chunks()[:40]
    one_by_one = np.stack([encoder.encode([t])[0] for t in texts])
    assert np.allclose(encoder.encode(texts, batch_size=7), one_by_one, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)
    raw = encoder.encode(texts[:2], normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_the_converted_model_is_built_once_then_reused(tmp_path):
    path = converted_model(minilm_path(), tmp_path)
    assert path.parent == tmp_path and path.suffix == ".onnx" and path.stat().st_size > 80e6
    built = path.stat().st_mtime_ns
    assert converted_model(minilm_path(), tmp_path) == path and path.stat().st_mtime_ns == built
    encoder = OnnxSentenceEncoder(cache_dir=tmp_path, threads=1)
    assert encoder.dim == 384 and encoder.max_tokens == 256
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_the_standard_operator_graph_gives_the_same_vectors(tmp_path):
    """``fused=False`` writes plain ONNX operators (any runtime); it computes the same vectors."""
    import onnxruntime

    plain = copy.copy(load_onnx_encoder())
    plain.session = onnxruntime.InferenceSession(str(build_bert_onnx(minilm_path(), tmp_path / "plain.onnx", fused=False)))
    texts = docs_chunks()[:24] + QUESTIONS
    assert np.min(np.sum(plain.encode(texts) * load_onnx_encoder().encode(texts), axis=1)) >= 0.9999


def test_a_model_folder_without_weights_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no model.safetensors"):
        converted_model(tmp_path, tmp_path)


def test_onnx_embedder_in_a_pipeline_attaches_vectors_and_dead_letters_bad_records():
    env = LocalEnvironment("onnx_embed")
    records = [{"id": "a", "text": "A kitten sleeps on the sofa."}, {"id": "b", "text": "A small cat naps on the couch."},
               {"id": "c", "text": "The stock market fell sharply."}, {"id": "bad", "title": "no text"}]
    batch_map(env.from_batch(records), OnnxEmbedder, name="embed").collect("out")
    result = env.submit()
    vectors = {r["id"]: r["vector"] for r in result.collected["out"]}
    assert sorted(vectors) == ["a", "b", "c"] and vectors["a"].shape == (384,)
    assert float(vectors["a"] @ vectors["b"]) > 0.5 > float(vectors["a"] @ vectors["c"])
    assert [d.record["id"] for d in result.dead_letters] == ["bad"]


def test_sage_ask_never_imports_torch(tmp_path):
    """Neither the first `sage ask` (which indexes) nor a later one loads torch or sentence-transformers."""
    docs = write_corpus(tmp_path / "docs")
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('HEAVY', sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules), file=sys.stderr))\n"
        "from sage_core.cli import app\n"
        f"sys.argv = ['sage', 'ask', 'How do I run a pipeline on Ray?', '--docs', {str(docs)!r}]\n"
        "app()\n"
    )
    env = {"SAGE_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    for run in ("first", "up to date"):
        proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "HEAVY []" in proc.stderr, (run, proc.stderr[-500:])
        assert "ray.md" in proc.stdout
