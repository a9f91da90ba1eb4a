"""Dense search against a NumPy brute-force reference: flat (exact), HNSW and IVF recall,
filters, tombstones, batches and multi-field records."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import brute_force, clustered

from sage_db import Hits, SageDB


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
def test_flat_matches_brute_force(tmp_path, rng, metric):
    x = rng.standard_normal((500, 16)).astype(np.float32)
    q = rng.standard_normal((20, 16)).astype(np.float32)
    col = SageDB.open(tmp_path / "db", dim=16).collection("c", metric=metric, index="flat")
    col.upsert([f"d{i}" for i in range(len(x))], x)
    hits = col.search(q, k=7)
    ref, ref_scores = brute_force(x, q, 7, metric)
    for h, r, rs in zip(hits, ref, ref_scores, strict=True):
        assert h.ids == [f"d{i}" for i in r]
        np.testing.assert_allclose(h.scores, rs, rtol=1e-4, atol=1e-4)


def test_single_query_returns_hits_batch_returns_list(tmp_path, rng):
    x = rng.standard_normal((50, 8)).astype(np.float32)
    col = SageDB.open(tmp_path / "db", dim=8).collection("c")
    col.upsert([str(i) for i in range(50)], x)
    one = col.search(x[0], k=3)
    many = col.search(x[:4], k=3)
    assert isinstance(one, Hits) and one.ids[0] == "0"
    assert isinstance(many, list) and [h.ids[0] for h in many] == ["0", "1", "2", "3"]


def _meta(n, rng):
    langs = np.array(["en", "de", "fr", "ja"])
    return [
        {
            "lang": str(langs[rng.integers(4)]),
            "year": int(rng.integers(1990, 2025)),
            "score": float(rng.random()),
            "ok": bool(rng.random() < 0.5),
        }
        for _ in range(n)
    ]


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_filtered_search_is_exact(tmp_path, rng, index):
    n = 2000
    x = clustered(n, 24, 40, seed=3)
    meta = _meta(n, rng)
    col = SageDB.open(tmp_path / "db", dim=24).collection("c", metric="l2", index=index)
    col.upsert([f"d{i}" for i in range(n)], x, metadata=meta)
    q = x[rng.integers(0, n, 10)] + 0.01
    filters = [
        ({"lang": "en"}, lambda m: m["lang"] == "en"),
        ({"year": {"$gte": 2020}}, lambda m: m["year"] >= 2020),  # ~12%
        (
            {"$and": [{"lang": "ja"}, {"year": {"$lt": 1993}}]},
            lambda m: m["lang"] == "ja" and m["year"] < 1993,
        ),
        ({"ok": True, "score": {"$gt": 0.5}}, lambda m: m["ok"] and m["score"] > 0.5),
        (
            {"$or": [{"lang": {"$in": ["fr", "de"]}}, {"year": 2000}]},
            lambda m: m["lang"] in ("fr", "de") or m["year"] == 2000,
        ),
        ({"lang": {"$nin": ["en", "de", "fr"]}}, lambda m: m["lang"] == "ja"),
    ]
    for where, pred in filters:
        allowed = np.array([pred(m) for m in meta])
        ref, _ = brute_force(x, q, 10, "l2", allowed)
        hits = col.search(q, k=10, where=where)
        found = 0
        for h, r in zip(hits, ref, strict=True):
            assert len(h) == min(10, allowed.sum())  # k hits whenever k records match
            expect = [f"d{i}" for i in r[: len(h)]]
            assert all(pred(meta[int(i[1:])]) for i in h.ids), where
            if index == "flat":
                assert h.ids == expect, where  # flat: exact
            found += len(set(h.ids) & set(expect))
        assert found / sum(min(10, allowed.sum()) for _ in hits) >= 0.9, where


def test_hnsw_recall_on_clustered_data(tmp_path):
    n, d = 5000, 32
    x = clustered(n, d, 100, seed=5)
    q = clustered(200, d, 100, seed=5)[:200] + 0.05
    col = SageDB.open(tmp_path / "db", dim=d).collection("c", metric="cosine", index="hnsw")
    col.upsert([str(i) for i in range(n)], x)
    hits = col.search(q, k=10)
    ref, _ = brute_force(x, q, 10, "cosine")
    recall = np.mean(
        [len(set(h.ids) & {str(i) for i in r}) / 10 for h, r in zip(hits, ref, strict=True)]
    )
    assert recall >= 0.95


def test_hnsw_selective_filter_returns_k(tmp_path, rng):
    n, d = 3000, 16
    x = clustered(n, d, 30, seed=9)
    meta = [{"bucket": i % 100} for i in range(n)]  # 1% per bucket value
    col = SageDB.open(tmp_path / "db", dim=d).collection("c", metric="l2", index="hnsw")
    col.upsert([str(i) for i in range(n)], x, metadata=meta)
    for where, mask in [
        ({"bucket": 7}, np.arange(n) % 100 == 7),
        ({"bucket": {"$lt": 50}}, np.arange(n) % 100 < 50),
    ]:
        h = col.search(x[11], k=10, where=where)
        ref, _ = brute_force(x, x[11:12], 10, "l2", mask)
        assert len(h) == 10
        assert len(set(h.ids) & {str(i) for i in ref[0]}) >= 9


def test_ivf_trains_lazily_and_searches(tmp_path):
    x = clustered(3000, 16, 20, seed=2)
    col = SageDB.open(tmp_path / "db", dim=16).collection(
        "c", metric="l2", index="ivf", nlist=16, nprobe=8
    )
    col.upsert([str(i) for i in range(100)], x[:100])  # below the training size: exact scan
    assert col.search(x[5], k=1).ids == ["5"]
    col.upsert([str(i) for i in range(100, 3000)], x[100:])
    ref, _ = brute_force(x, x[:50] + 0.01, 10, "l2")
    hits = col.search(x[:50] + 0.01, k=10)
    recall = np.mean(
        [len(set(h.ids) & {str(i) for i in r}) / 10 for h, r in zip(hits, ref, strict=True)]
    )
    assert recall >= 0.9


@pytest.mark.parametrize("index", ["flat", "hnsw"])
def test_upsert_replaces_and_delete_tombstones(tmp_path, rng, index):
    x = rng.standard_normal((400, 8)).astype(np.float32)
    col = SageDB.open(tmp_path / "db", dim=8).collection("c", metric="l2", index=index)
    ids = [str(i) for i in range(400)]
    col.upsert(ids, x, metadata=[{"v": 1}] * 400)
    assert col.delete(["0", "1", "nope"]) == 2
    col.upsert(["2"], x[3:4] + 100.0, metadata=[{"v": 2}])  # replaced: far away now
    assert col.count() == 398
    assert col.get(["0", "2"])[0] is None and col.get(["2"])[0]["metadata"] == {"v": 2}
    h = col.search(x[0], k=5)
    assert "0" not in h.ids and "2" not in h.ids
    # Deleting most records triggers compaction; results stay exact.
    col.delete(ids[3:300])
    live = np.r_[np.arange(300, 400)]
    ref, _ = brute_force(x[live], x[350:351], 10, "l2")
    got = col.search(x[350], k=10)
    assert got.ids == [str(live[i]) for i in ref[0]] or index == "hnsw"
    assert len(got) == 10


def test_multifield_weighted_search(tmp_path, rng):
    n = 300
    t = rng.standard_normal((n, 12)).astype(np.float32)
    im = rng.standard_normal((n, 6)).astype(np.float32)
    db = SageDB.open(tmp_path / "db")
    col = db.collection("mm", fields={"text": 12, "image": 6}, metric="ip")
    col.upsert([str(i) for i in range(n)], {"text": t, "image": im})
    qt, qi = t[4] + 0.1, im[4] + 0.1
    h = col.search({"text": qt, "image": qi}, k=5, weights={"text": 0.7, "image": 0.3})
    total = 0.7 * (t @ qt) + 0.3 * (im @ qi)
    top = np.argsort(-total)[:5]
    assert h.ids[0] == str(top[0])
    np.testing.assert_allclose(h.scores, total[[int(i) for i in h.ids]], rtol=1e-4)
    assert len(set(h.ids) & {str(i) for i in top}) >= 4
    # A single field of a multi-field collection.
    assert col.search(qt, k=1, field="text").ids[0] == str(np.argmax(t @ qt))
    with pytest.raises(ValueError, match="every vector field"):
        col.upsert(["x"], {"text": t[:1]})


def test_include_metadata_and_text(tmp_path, rng):
    x = rng.standard_normal((10, 4)).astype(np.float32)
    col = SageDB.open(tmp_path / "db", dim=4).collection("c")
    col.upsert(
        [str(i) for i in range(10)],
        x,
        metadata=[{"i": i} for i in range(10)],
        texts=[f"t{i}" for i in range(10)],
    )
    h = col.search(x[2], k=1, include=("metadata", "text"))
    assert h.records == [{"id": "2", "metadata": {"i": 2}, "text": "t2"}]
