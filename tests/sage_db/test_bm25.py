"""BM25 against a NumPy reference, incremental updates, the tokenizer, and fusion."""

from __future__ import annotations

import math
from pydoc_data.topics import topics

import numpy as np
import pytest

from sage_db import SageDB, tokenize


def ref_scores(docs: list[str], query: str, k1=1.5, b=0.75) -> np.ndarray:
    toks = [tokenize(d) for d in docs]
    n = len(docs)
    avg = sum(map(len, toks)) / n
    out = np.zeros(n)
    for t in tokenize(query):
        df = sum(t in d for d in toks)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, d in enumerate(toks):
            tf = d.count(t)
            out[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg))
    return out


def test_tokenizer():
    assert tokenize("Hello, WORLD! x_y 3.14 naïve Café") == [
        "hello",
        "world",
        "x",
        "y",
        "3",
        "14",
        "naïve",
        "caf\u00e9",
    ]
    assert tokenize("") == [] and tokenize("  ...  ") == []


@pytest.fixture(scope="module")
def corpus():
    """Paragraphs of the Python documentation topics that ship with Python."""
    keys, texts = [], []
    for topic in sorted(topics):
        for j, para in enumerate(p for p in topics[topic].split("\n\n") if len(p.split()) >= 5):
            keys.append(f"{topic}:{j}")
            texts.append(para)
    return keys, texts


@pytest.fixture(scope="module")
def kb(tmp_path_factory, corpus):
    keys, texts = corpus
    rng = np.random.default_rng(0)
    # Vectors: a bag-of-words projection, so dense and keyword rankings agree loosely.
    vocab = {}
    rows = []
    proj = rng.standard_normal((4096, 64)).astype(np.float32)
    for t in texts:
        v = np.zeros(64, np.float32)
        for tok in tokenize(t):
            v += proj[vocab.setdefault(tok, len(vocab)) % 4096]
        rows.append(v + 1e-3)
    col = SageDB.open(tmp_path_factory.mktemp("kb") / "db", dim=64).collection(
        "topics", metric="cosine"
    )
    col.upsert(keys, np.stack(rows), texts=texts, metadata=[{"first": k[0]} for k in keys])
    return col, np.stack(rows), proj, keys


def test_scores_match_reference(kb, corpus):
    col, *_ = kb
    keys, texts = corpus
    for query in [
        "for loop iteration",
        "exception handling try except",
        "class inheritance method",
        "zzzz",
    ]:
        ref = ref_scores(texts, query)
        hits = col.search_text(query, k=10)
        order = np.argsort(-ref, kind="stable")[: len(hits)]
        assert len(hits) == min(10, int((ref > 0).sum()))
        np.testing.assert_allclose(hits.scores, ref[order], rtol=1e-4)
        if len(hits):
            assert set(hits.ids) <= {keys[i] for i in np.flatnonzero(ref >= ref[order][-1] - 1e-4)}


def test_filtered_text_search(kb, corpus):
    col, *_ = kb
    keys, texts = corpus
    hits = col.search_text("function argument", k=5, where={"first": "c"})
    assert hits.ids and all(i.startswith("c") for i in hits.ids)


def test_incremental_equals_rebuild(tmp_path, corpus):
    keys, texts = corpus
    keys, texts = keys[:200], texts[:200]
    x = np.ones((200, 2), np.float32)
    db = SageDB.open(tmp_path / "db", dim=2)
    inc = db.collection("inc")
    inc.upsert(keys, x, texts=texts)
    inc.delete(keys[:50])
    inc.upsert(keys[50:60], x[:10], texts=["replaced text about loops"] * 10)
    fresh = db.collection("fresh")
    new_texts = ["replaced text about loops"] * 10 + texts[60:]
    fresh.upsert(keys[50:], x[50:], texts=new_texts)
    for q in ["loops", "import statement module", "string format"]:
        a, b = inc.search_text(q, k=20), fresh.search_text(q, k=20)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)
        np.testing.assert_allclose(
            a.scores, np.sort(ref_scores(new_texts, q))[::-1][: len(a)], rtol=1e-4
        )


def test_hybrid_rrf_formula(kb):
    col, rows, _, keys = kb
    q_text = "assignment statement target list"
    qv = rows[keys.index("assignment:1")]
    h = col.hybrid(qv, q_text, k=10, fusion="rrf", candidates=50)
    dense = col.search(qv, k=50)
    sparse = col.search_text(q_text, k=50)
    fused = {}
    for lst in (dense.ids, sparse.ids):
        for rank, i in enumerate(lst, 1):
            fused[i] = fused.get(i, 0.0) + 1 / (60 + rank)
    ref = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    np.testing.assert_allclose(h.scores, [s for _, s in ref], rtol=1e-5)
    assert "assignment:1" in h.ids[:3]


def test_hybrid_weighted_formula(kb):
    col, rows, *_ = kb
    qv = rows[5]
    q_text = "operator precedence"
    h = col.hybrid(qv, q_text, k=5, fusion="weighted", alpha=0.3, candidates=40)
    dense = col.search(qv, k=40)
    sparse = col.search_text(q_text, k=40)

    def norm(hits):
        s = hits.scores.astype(float)
        span = s.max() - s.min()
        return {i: (v - s.min()) / span if span else 1.0 for i, v in zip(hits.ids, s, strict=True)}

    nd, ns = norm(dense), norm(sparse)
    total = {i: 0.3 * nd.get(i, 0) + 0.7 * ns.get(i, 0) for i in set(nd) | set(ns)}
    ref = sorted(total.values(), reverse=True)[:5]
    np.testing.assert_allclose(h.scores, ref, rtol=1e-5)
    with pytest.raises(ValueError, match="unknown fusion"):
        col.hybrid(qv, q_text, fusion="max")
