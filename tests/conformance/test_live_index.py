"""Windows linked with sage_db: centroids of the last N seconds as a live vector index."""

from __future__ import annotations

from collections import Counter

import numpy as np

from sage_core import LocalEnvironment
from sage_db import SageDB
from sage_flow import TumblingWindow
from sage_flow.live_index import WindowIndexSink


def embeddings(users=3, seconds=10, per_second=20, dim=8, seed=5):
    rng = np.random.default_rng(seed)
    directions = np.eye(dim, dtype=np.float32)[:users]
    events = []
    for i in range(seconds * per_second):
        u = i % users
        vec = directions[u] + 0.05 * rng.standard_normal(dim).astype(np.float32)
        events.append({"user": f"u{u}", "ts": i / per_second, "vec": vec})
    return events, directions


def test_window_centroids_form_a_live_index_of_recent_windows(backend, tmp_path):
    events, directions = embeddings()
    env = LocalEnvironment("live-index")
    centroids = (
        env.from_batch(events)
        .keyby(lambda e: e["user"])
        .window(TumblingWindow(seconds=1), timestamp="ts")
    )
    centroids.aggregate("centroid", value="vec").sink(
        WindowIndexSink, str(tmp_path / "db"), "recent", keep_seconds=3
    )
    result = env.submit(backend=backend)
    assert result.dead_letters == []

    with SageDB.open(tmp_path / "db", mode="r") as db:
        col = db.collection("recent")
        # windows end at 1..10 s; the newest end is 10, so windows ending at 7..10 remain
        expected = Counter((e["user"], float(int(e["ts"]))) for e in events if e["ts"] >= 6)
        ids = [f"{u}@{start:g}" for u, start in expected]
        assert col.count() == len(expected) == 12
        got = col.get(ids)
        assert {
            (r["metadata"]["key"], r["metadata"]["start"]): r["metadata"]["count"] for r in got
        } == dict(expected)
        for u in range(3):
            hits = col.search(directions[u], k=4, include=("metadata",))
            assert {r["metadata"]["key"] for r in hits.records} == {f"u{u}"}
