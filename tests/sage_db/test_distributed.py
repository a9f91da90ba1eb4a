"""Handles in real Dask (spawned worker processes) and Ray workers: one writer, many readers.

Worker-side code is defined inside the tests so it is pickled by value (the test folder is
not importable in the workers); one cluster per backend serves the whole module.
"""

from __future__ import annotations

import numpy as np
import pytest

from sage_db import SageDB


def _data(n=200, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return [f"d{i}" for i in range(n)], rng.standard_normal((n, d)).astype(np.float32)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        worker_dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def ray_mod():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()  # the Ray conformance tests may already run one
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def test_dask_readers_follow_parent_writer(tmp_path, dask_client):
    ids, x = _data()
    db = SageDB.open(tmp_path / "db", dim=8)
    col = db.collection("c", metric="l2")
    col.upsert(ids[:150], x[:150], metadata=[{"half": i % 2} for i in range(150)])

    class Reader:
        def __init__(self, handle):
            self.col = handle  # unpickled in the worker: reopens read-only by path

        def search(self, q, refresh):
            if refresh:
                self.col.refresh()
            return self.col.search(q, k=1, where={"half": 0}).ids, self.col.count()

    readers = [dask_client.submit(Reader, col, actor=True).result() for _ in range(2)]
    assert [r.search(x[4], False).result() for r in readers] == [(["d4"], 150)] * 2
    col.upsert(ids[150:], x[150:], metadata=[{"half": i % 2} for i in range(150, 200)])
    assert [r.search(x[180], False).result()[1] for r in readers] == [150, 150]
    assert [r.search(x[180], True).result() for r in readers] == [(["d180"], 200)] * 2


def test_dask_worker_writer_and_frozen_copies(tmp_path, dask_client):
    ids, x = _data(seed=1)
    path = str(tmp_path / "db")
    SageDB.open(path, dim=8).close()

    class Writer:
        def __init__(self, path):
            self.db = SageDB.open(path)  # the one writer lives in a worker
            self.col = self.db.collection("c", metric="l2")

        def write(self, ids, x):
            self.col.upsert(ids, x)
            return self.col.count()

    writer = dask_client.submit(Writer, path, actor=True).result()
    assert writer.write(ids, x).result() == 200
    reader = SageDB.open(path, mode="r").collection("c")
    assert reader.search(x[7], k=1).ids == ["d7"]

    frozen = SageDB.open(path, mode="r").frozen()

    def search(db, q):
        return db.collection("c").search(q, k=2).ids

    futures = dask_client.map(search, [frozen] * 4, [x[i] for i in range(4)], pure=False)
    assert [f[0] for f in dask_client.gather(futures)] == ["d0", "d1", "d2", "d3"]


def test_ray_one_writer_many_readers(tmp_path, ray_mod):
    ray = ray_mod
    ids, x = _data(seed=2)
    path = str(tmp_path / "db")
    SageDB.open(path, dim=8).close()

    @ray.remote
    class Writer:
        def __init__(self, path):
            self.col = SageDB.open(path).collection("c", metric="cosine", index="hnsw")

        def write(self, ids, x):
            self.col.upsert(ids, x, texts=[f"doc {i}" for i in ids])
            return self.col.count()

    @ray.remote
    class Reader:
        def __init__(self, ref):
            self.col = ref.open().collection("c")

        def query(self, q):
            self.col.refresh()
            return self.col.search(q, k=1).ids, self.col.count()

    writer = Writer.remote(path)
    assert ray.get(writer.write.remote(ids[:100], x[:100])) == 100
    ref = SageDB.open(path, mode="r").ref("r")
    readers = [Reader.remote(ref) for _ in range(2)]
    assert ray.get([r.query.remote(x[3]) for r in readers]) == [(["d3"], 100)] * 2
    assert ray.get(writer.write.remote(ids[100:], x[100:])) == 200
    assert ray.get([r.query.remote(x[150]) for r in readers]) == [(["d150"], 200)] * 2

    @ray.remote
    def text_search(col, q):
        return col.search_text(q, k=1).ids

    col = SageDB.open(path, mode="r").collection("c")
    assert ray.get(text_search.remote(col, "d42")) == ["d42"]
