"""Bad input gives clear errors and leaves nothing half-written."""

from __future__ import annotations

import numpy as np
import pytest

import sage_db
from sage_db import SageDB


@pytest.fixture
def col(tmp_path):
    c = SageDB.open(tmp_path / "db", dim=4).collection("c", metric="l2")
    c.upsert(
        ["a", "b"],
        np.eye(4, dtype=np.float32)[:2],
        metadata=[{"x": 1}, {"x": 2}],
        texts=["alpha", "beta"],
    )
    return c


def _unchanged(col):
    assert col.count() == 2
    assert col.get(["a"])[0] == {"id": "a", "metadata": {"x": 1}, "text": "alpha"}
    assert col.search_text("gamma").ids == []


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        (
            {"ids": ["c"], "vectors": np.zeros((1, 5), np.float32)},
            ValueError,
            "dimension 5, the collection expects 4",
        ),
        (
            {"ids": ["c", "d"], "vectors": np.array([[0, 0, 0, 1], [np.nan, 0, 0, 0]], np.float32)},
            ValueError,
            "id 'd'.*NaN",
        ),
        ({"ids": ["c"], "vectors": np.full((1, 4), np.inf)}, ValueError, "NaN or infinity"),
        (
            {"ids": ["c", "d"], "vectors": np.zeros((3, 4), np.float32)},
            ValueError,
            "2 ids but 3 vectors",
        ),
        (
            {"ids": ["c", "c"], "vectors": np.zeros((2, 4), np.float32)},
            ValueError,
            "'c' appears more than once",
        ),
        (
            {"ids": ["c"], "vectors": np.zeros((1, 4)), "texts": ["x", "y"]},
            ValueError,
            "1 ids but 2 texts",
        ),
        (
            {"ids": ["c"], "vectors": np.zeros((1, 4)), "metadata": [{}, {}]},
            ValueError,
            "1 ids but 2 metadata",
        ),
        (
            {"ids": ["c"], "vectors": np.zeros((1, 4)), "metadata": [{"k": [1]}]},
            TypeError,
            r"metadata\[0\]\['k'\]",
        ),
        (
            {"ids": ["c"], "vectors": np.zeros((1, 4)), "metadata": [{"$k": 1}]},
            ValueError,
            "may not be empty or start",
        ),
        ({"ids": [1], "vectors": np.zeros((1, 4))}, TypeError, r"ids\[0\] must be str"),
        ({"ids": "c", "vectors": np.zeros((1, 4))}, TypeError, "not a single str"),
        ({"ids": [""], "vectors": np.zeros((1, 4))}, ValueError, "non-empty"),
        ({"ids": ["c"], "vectors": np.zeros((1, 2, 4))}, ValueError, "2-D array"),
        (
            {"ids": ["c"], "vectors": [["a", "b", "c", "d"]]},
            (TypeError, ValueError),
            "could not convert|float array",
        ),
    ],
)
def test_bad_upserts_change_nothing(col, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        col.upsert(**kwargs)
    _unchanged(col)


def test_bad_upsert_is_not_in_the_log(tmp_path, col):
    with pytest.raises(ValueError):
        col.upsert(["c", "c"], np.zeros((2, 4), np.float32))
    _unchanged(SageDB.open(tmp_path / "db", mode="r").collection("c"))  # read back from the log


def test_non_contiguous_and_float64_inputs_are_accepted(col):
    big = np.arange(32, dtype=np.float64).reshape(4, 8)
    strided = big[:, ::2]  # not contiguous, float64
    assert not strided.flags.c_contiguous
    col.upsert(["s0", "s1", "s2", "s3"], strided)
    got = col.get(["s1"], include_vectors=True)[0]["vectors"]["default"]
    np.testing.assert_allclose(got, strided[1])
    assert col.search(strided[2][::-1][::-1], k=1).ids == ["s2"]
    fortran = np.asfortranarray(np.ones((2, 4), np.float32))
    col.upsert(["f0", "f1"], fortran)
    assert col.count() == 8


@pytest.mark.parametrize(
    "query, kwargs, exc, message",
    [
        (np.zeros(3), {}, ValueError, "dimension 3, the collection expects 4"),
        (np.array([np.nan, 0, 0, 0]), {}, ValueError, "NaN"),
        (np.zeros(4), {"k": 0}, ValueError, "k must be a positive int"),
        (np.zeros(4), {"field": "image"}, KeyError, "no vector field 'image'"),
        (np.zeros(4), {"include": ("vectors",)}, ValueError, "include accepts"),
    ],
)
def test_bad_queries(col, query, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        col.search(query, **kwargs)


def test_bad_collection_options(tmp_path):
    db = SageDB.open(tmp_path / "db")
    with pytest.raises(ValueError, match="needs a dimension"):
        db.collection("x")
    with pytest.raises(ValueError, match="unknown metric 'dot'"):
        db.collection("x", dim=4, metric="dot")
    with pytest.raises(ValueError, match="unknown index 'lsh'"):
        db.collection("x", dim=4, index="lsh")
    with pytest.raises(ValueError, match="must match"):
        db.collection("../evil", dim=4)
    with pytest.raises(ValueError, match="'w'.*'r'"):
        SageDB.open(tmp_path / "db2", mode="a")
    with pytest.raises(FileNotFoundError, match="no sage_db database"):
        SageDB.open(tmp_path / "missing", mode="r")
    assert db.collections() == []


def test_missing_extension_message_is_in_the_package():
    src = open(sage_db.__file__).read()
    assert "pip install -e ." in src and "_core" in src
