"""`SageDBService` called the way SAGE operators call services: methods by name."""

from __future__ import annotations

import pickle

import numpy as np

from sage_db import SageDBService


def test_service_lifecycle_and_methods(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    svc = SageDBService(str(tmp_path / "db"), "kb", dim=8, metric="cosine", index="hnsw")
    assert svc.health()["status"] == "stopped"
    svc.setup()
    svc.start()
    assert (
        svc.upsert(
            [f"d{i}" for i in range(50)],
            x,
            [{"i": i} for i in range(50)],
            [f"text {i}" for i in range(50)],
        )
        == 50
    )
    out = svc.search(x[3], k=2)
    assert out[0]["id"] == "d3" and out[0]["metadata"] == {"i": 3} and out[0]["text"] == "text 3"
    assert abs(out[0]["score"] - 1.0) < 1e-5
    assert [r["id"] for r in svc.search(x[:2], k=1)[1]] == ["d1"]
    assert svc.search_text("text 7", k=1)[0]["id"] == "d7"
    assert svc.hybrid(x[9], "text 9", k=1)[0]["id"] == "d9"
    assert svc.search(x[3], k=5, where={"i": {"$gt": 40}})[0]["metadata"]["i"] > 40
    assert svc.delete(["d3"]) == 1 and svc.count() == 49
    assert svc.get(["d3", "d4"])[0] is None
    health = svc.health()
    assert health["status"] == "ok" and health["count"] == 49 and health["calls"] >= 7

    reader = SageDBService(str(tmp_path / "db"), "kb", mode="r", refresh_interval=0)
    assert reader.count() == 49
    svc.upsert(["new"], x[:1] * -1)
    assert reader.search(x[0] * -1, k=1)[0]["id"] == "new"
    copy = pickle.loads(pickle.dumps(reader))
    assert copy.count() == 50
    svc.stop()
    assert svc.health()["status"] == "stopped"
    reader.stop()
