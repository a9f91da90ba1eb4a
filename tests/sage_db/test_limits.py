"""Inputs that must not drive memory or be silently changed: k, where, complex vectors, None."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sage_db import SageDB

N = 50


@pytest.fixture(params=["flat", "hnsw"])
def col(request, tmp_path):
    c = SageDB.open(tmp_path / "db", dim=8).collection("c", index=request.param)
    rng = np.random.default_rng(7)
    c.upsert(
        [f"r{i}" for i in range(N)],
        rng.standard_normal((N, 8)).astype(np.float32),
        metadata=[{"n": i % 3} for i in range(N)],
        texts=[f"record number {i} of the limits test" for i in range(N)],
    )
    return c


@pytest.mark.parametrize("k", [51, 10**8, 2**31 - 1])
def test_k_beyond_the_collection_returns_every_record(col, k):
    q = np.ones(8, np.float32)
    assert len(col.search(q, k=k)) == N
    assert [len(h) for h in col.search(np.ones((3, 8), np.float32), k=k)] == [N, N, N]
    assert len(col.search(q, k=k, where={"n": 1})) == len([i for i in range(N) if i % 3 == 1])
    assert len(col.search({"default": q}, k=k)) == N
    assert len(col.search_text("record", k=k)) == N
    assert len(col.hybrid(q, "record", k=k)) == N
    assert len(col.hybrid(q, "record", k=3, candidates=k)) == 3


def _each_search(col, **kwargs):
    """Dense, keyword and hybrid search with the same keyword arguments."""
    q = np.ones(8, np.float32)
    return (
        lambda: col.search(q, **kwargs),
        lambda: col.search_text("record", **kwargs),
        lambda: col.hybrid(q, "record", **kwargs),
    )


@pytest.mark.parametrize("k", [2**31, 10**12, 2**63])
def test_absurd_k_is_refused_naming_k(col, k):
    for call in _each_search(col, k=k):
        with pytest.raises(ValueError, match=rf"^k={k} is beyond any collection"):
            call()
    with pytest.raises(ValueError, match=rf"^candidates={k} is beyond"):
        col.hybrid(np.ones(8, np.float32), "record", k=2, candidates=k)


def test_huge_k_costs_no_memory(tmp_path):
    """Peak memory of k=10**8 on 50 records: about 1.2 GB when k sized the buffers."""
    script = textwrap.dedent(
        f"""
        import resource, numpy as np
        from sage_db import SageDB
        col = SageDB.open({str(tmp_path / "db")!r}, dim=8).collection("c")
        col.upsert([f"r{{i}}" for i in range({N})], np.ones(({N}, 8), np.float32),
                   texts=["word"] * {N})
        q = np.ones(8, np.float32)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sizes = [len(col.search(q, k=10**8)), len(col.search_text("word", k=10**8)),
                 len(col.hybrid(q, "word", k=10**8))]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(sizes, (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    sizes, grown_mb = out.stdout.rsplit(" ", 1)
    assert sizes == f"[{N}, {N}, {N}]"
    assert int(grown_mb) < 50, f"peak memory grew by {grown_mb} MB"


@pytest.mark.parametrize("where", ["n = 1", ["n", 1], 1])
def test_where_that_is_not_a_dict_names_where_and_the_form(col, where):
    for call in _each_search(col, where=where):
        with pytest.raises(TypeError, match=r"where must be a dict filter.*\{\"n\": 1\}"):
            call()


def test_complex_vectors_are_refused(col):
    z = np.full((1, 8), 1 + 2j)
    with pytest.raises(TypeError, match="complex dtype complex128"):
        col.upsert(["z"], z)
    assert "z" not in col and col.count() == N
    with pytest.raises(TypeError, match="query has complex dtype"):
        col.search(z[0])
    with pytest.raises(TypeError, match="query has complex dtype"):
        col.hybrid(z[0], "record")
    with pytest.raises(TypeError, match=r"query\['default'\] has complex dtype"):
        col.search({"default": z[0]})


def test_complex_vectors_are_refused_per_field(tmp_path):
    c = SageDB.open(tmp_path / "db").collection("m", fields={"a": 2, "b": 2})
    with pytest.raises(TypeError, match=r"vectors\['b'\] for 'm' has complex dtype"):
        c.upsert(["x"], {"a": np.ones((1, 2)), "b": np.ones((1, 2)) * 1j})
    assert c.count() == 0


@pytest.mark.parametrize("meta", [{"v": None}, {"ok": 1, "v": None}])
def test_none_metadata_value_is_refused(col, meta):
    with pytest.raises(TypeError, match=r"metadata\[0\]\['v'\]: None is not a metadata value"):
        col.upsert(["new"], np.ones((1, 8), np.float32), metadata=[meta])
    assert "new" not in col and col.count() == N


def test_none_in_a_filter_is_refused(col):
    with pytest.raises(TypeError, match=r"where\['n'\]: None is not a metadata value"):
        col.search(np.ones(8, np.float32), where={"n": None})
