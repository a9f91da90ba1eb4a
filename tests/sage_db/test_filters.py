"""The `where` language: every operator against a Python reference on random metadata."""

from __future__ import annotations

import numpy as np
import pytest

from sage_db import SageDB

OPS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _kind(v):
    return "bool" if isinstance(v, bool) else ("num" if isinstance(v, (int, float)) else "str")


def _match(meta, where):
    """Reference semantics (documented in docs/sage_db.md)."""
    out = True
    for key, cond in where.items():
        if key == "$and":
            out = out and all(_match(meta, w) for w in cond)
        elif key == "$or":
            out = out and any(_match(meta, w) for w in cond)
        else:
            conds = cond if isinstance(cond, dict) else {"$eq": cond}
            for op, val in conds.items():
                present = key in meta
                v = meta.get(key)
                if op in ("$in", "$nin"):
                    hit = present and any(_kind(v) == _kind(x) and v == x for x in val)
                    ok = hit if op == "$in" else not hit
                elif op == "$ne":
                    ok = not (present and _kind(v) == _kind(val) and v == val)
                else:
                    ok = present and _kind(v) == _kind(val) and OPS[op](v, val)
                out = out and ok
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(7)
    n = 600
    meta = []
    for i in range(n):
        m = {}
        if rng.random() < 0.9:
            m["lang"] = ["en", "de", "fr"][rng.integers(3)]
        if rng.random() < 0.9:
            m["year"] = int(rng.integers(2000, 2030))
        if rng.random() < 0.8:
            m["price"] = float(np.round(rng.random() * 100, 2))
        if rng.random() < 0.8:
            m["flag"] = bool(rng.random() < 0.3)
        if i % 50 == 0:
            m["year"] = "unknown"  # a str in a mostly-int column
        meta.append(m)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    col = SageDB.open(tmp_path_factory.mktemp("f") / "db", dim=4).collection("c", metric="l2")
    col.upsert([str(i) for i in range(n)], x, metadata=meta)
    return col, meta, x


def _random_where(rng, depth=0):
    if depth < 2 and rng.random() < 0.3:
        op = "$and" if rng.random() < 0.5 else "$or"
        return {op: [_random_where(rng, depth + 1) for _ in range(rng.integers(1, 4))]}
    field = ["lang", "year", "price", "flag"][rng.integers(4)]
    values = {
        "lang": ["en", "de", "fr", "xx"],
        "year": [2000, 2010, 2015, 2029, 2015.5],
        "price": [10.0, 50.5, 99, 0],
        "flag": [True, False],
    }[field]
    v = values[rng.integers(len(values))]
    if field == "flag":
        op = ["$eq", "$ne"][rng.integers(2)]
    elif field == "lang":
        op = ["$eq", "$ne", "$in", "$nin", "$gt", "$lte"][rng.integers(6)]
    else:
        op = list(OPS)[rng.integers(6)] if rng.random() < 0.8 else ["$in", "$nin"][rng.integers(2)]
    if op in ("$in", "$nin"):
        return {field: {op: [values[i] for i in rng.integers(0, len(values), 2)]}}
    return {field: {op: v}} if rng.random() < 0.8 or op != "$eq" else {field: v}


def test_random_filters_match_reference(data):
    col, meta, x = data
    rng = np.random.default_rng(99)
    n = len(meta)
    for _ in range(150):
        where = _random_where(rng)
        expect = {str(i) for i in range(n) if _match(meta[i], where)}
        hits = col.search(x[0], k=n, where=where)
        assert set(hits.ids) == expect, where


def test_implicit_and_of_several_keys(data):
    col, meta, x = data
    where = {"lang": "en", "year": {"$gte": 2020, "$lt": 2025}}
    expect = {str(i) for i, m in enumerate(meta) if _match(m, where)}
    assert set(col.search(x[0], k=len(meta), where=where).ids) == expect


@pytest.mark.parametrize(
    "where, message",
    [
        ({"year": {"$foo": 1}}, "unknown filter operator '\\$foo'"),
        ({"$not": [{"a": 1}]}, "unknown filter operator '\\$not'"),
        ({"year": {"$in": 3}}, "takes a list"),
        ({"$and": {"a": 1}}, "takes a list of filters"),
        ({"flag": {"$gt": True}}, "cannot compare booleans"),
        ({"year": None}, "must be str, int, float or bool"),
        ({}, "empty filter"),
    ],
)
def test_bad_filters_name_the_problem(data, where, message):
    col, _, x = data
    with pytest.raises((ValueError, TypeError), match=message):
        col.search(x[0], k=1, where=where)


def test_selection_bitmap_is_faiss_layout(data):
    from sage_db import _core

    col, meta, _ = data
    where = {"lang": "de"}
    mask = np.array([_match(m, where) for m in meta])
    sel = col._core.select(_core.Filter(where))
    assert sel.count == mask.sum()
    np.testing.assert_array_equal(sel.bitmap(), np.packbits(mask, bitorder="little"))
    np.testing.assert_array_equal(sel.slots(), np.flatnonzero(mask))
