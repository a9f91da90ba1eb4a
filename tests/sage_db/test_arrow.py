"""Upserts from pyarrow: a RecordBatch or a (multi-chunk) Table gives the same collection as the
same records from lists and dicts; bad columns are refused naming the column (and the row);
the SageDBWriter sink writes Arrow batches in a real pipeline."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sage_db import SageDB

pa = pytest.importorskip("pyarrow")

DIM = 8
LANGS = ["en", "de", "fr"]


def records(n: int, seed: int = 0, prefix: str = "r") -> dict:
    """Columns of ``n`` records with metadata of every scalar kind."""
    rng = np.random.default_rng(seed)
    return {
        "id": [f"{prefix}{i}" for i in range(n)],
        "vector": rng.standard_normal((n, DIM)).astype(np.float32),
        "text": [f"word{i % 7} common {LANGS[i % 3]}" for i in range(n)],
        "lang": [LANGS[i % 3] for i in range(n)],
        "year": [2000 + i % 25 for i in range(n)],
        "score": [float(i) / 3.0 for i in range(n)],
        "flag": [i % 2 == 0 for i in range(n)],
    }


def to_batch(d: dict, vector_type=None):
    x = d["vector"]
    if vector_type is None:
        vec = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM)
    else:
        vec = pa.array(list(x.astype(np.float64)), vector_type)
    cols = {k: (vec if k == "vector" else pa.array(v)) for k, v in d.items()}
    return pa.record_batch(cols)


def list_upsert(col, d: dict) -> None:
    meta = [
        {"lang": la, "year": y, "score": s, "flag": f}
        for la, y, s, f in zip(d["lang"], d["year"], d["score"], d["flag"])
    ]
    col.upsert(d["id"], d["vector"], metadata=meta, texts=d["text"])


def snapshot_of(col, queries: np.ndarray) -> dict:
    """Everything observable: records (vectors included), searches, filters, BM25, hybrid."""
    n = col.count()
    out: dict = {"count": n, "stats": {k: v for k, v in col.stats().items() if k not in ("name", "mode")}}
    recs = col.get(sorted(col.search(queries[0], k=max(n, 1)).ids), include_vectors=True)
    out["records"] = [
        (r["id"], r["metadata"], r["text"], r["vectors"]["default"].tolist()) for r in recs
    ]
    wheres = [None, {"lang": "de"}, {"year": {"$gte": 2010}, "flag": True}, {"score": {"$lt": 10.0}}]
    for w in wheres:
        for h in col.search(queries, k=5, where=w, include=("metadata", "text")):
            out.setdefault("search", []).append((h.ids, h.scores.tolist(), h.records))
        h = col.search_text("word3 common", k=5, where=w)
        out.setdefault("bm25", []).append((h.ids, h.scores.tolist()))
        h = col.hybrid(queries[1], "word2 de", k=5, where=w)
        out.setdefault("hybrid", []).append((h.ids, h.scores.tolist()))
    return out


@pytest.fixture
def db(tmp_path):
    d = SageDB.open(tmp_path / "db", dim=DIM, sync=False)
    yield d
    d.close()


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_batch_and_multichunk_table_match_the_list_path(db, rng, metric):
    d = records(120)
    q = rng.standard_normal((4, DIM)).astype(np.float32)
    by_list = db.collection("lists", metric=metric)
    list_upsert(by_list, d)
    by_batch = db.collection("batch", metric=metric)
    batch = to_batch(d)
    by_batch.upsert(batch)
    by_table = db.collection("table", metric=metric)
    table = pa.Table.from_batches([batch.slice(0, 50), batch.slice(50, 1), batch.slice(51)])
    assert table.column("vector").num_chunks == 3
    by_table.upsert(table)
    expected = snapshot_of(by_list, q)
    assert expected["count"] == 120
    assert snapshot_of(by_batch, q) == expected
    assert snapshot_of(by_table, q) == expected


@pytest.mark.parametrize(
    "vector_type",
    [pa.list_(pa.float64(), DIM), pa.list_(pa.float32()), pa.large_list(pa.float64())],
    ids=["fixed-float64", "list-float32", "large_list-float64"],
)
def test_other_vector_types_are_converted(db, rng, vector_type):
    d = records(40)
    q = rng.standard_normal((2, DIM)).astype(np.float32)
    ref = db.collection("ref")
    list_upsert(ref, d)
    col = db.collection("conv")
    col.upsert(to_batch(d, vector_type))
    assert snapshot_of(col, q) == snapshot_of(ref, q)


def test_float32_vectors_reach_the_core_without_a_copy():
    from sage_db._arrow import upsert_arguments

    d = records(30)
    batch = to_batch(d).slice(5, 20)  # a slice: the offset must be applied
    ids, [vecs], meta, texts = upsert_arguments(
        "c", {"default": DIM}, batch, id_column=None, vector_column=None, text_column=None
    )
    assert ids == d["id"][5:25] and texts == d["text"][5:25]
    assert meta[0] == {"lang": d["lang"][5], "year": d["year"][5], "score": d["score"][5], "flag": False}
    assert vecs.dtype == np.float32 and vecs.shape == (20, DIM) and vecs.flags.c_contiguous
    assert np.shares_memory(vecs, d["vector"])  # pa.array(numpy) and back: the same buffer
    np.testing.assert_array_equal(vecs, d["vector"][5:25])


def test_reupsert_replaces_existing_ids(db, rng):
    col = db.collection("c")
    col.upsert(to_batch(records(20)))
    new = records(10, seed=7)
    new["lang"] = ["xx"] * 10
    col.upsert(pa.Table.from_batches([to_batch(new).slice(0, 4), to_batch(new).slice(4)]))
    assert col.count() == 20
    got = col.get(["r3", "r15"], include_vectors=True)
    assert got[0]["metadata"]["lang"] == "xx" and got[1]["metadata"]["lang"] != "xx"
    v = new["vector"][3]
    np.testing.assert_allclose(got[0]["vectors"]["default"], v / np.linalg.norm(v), rtol=1e-6)  # cosine stores unit vectors
    assert col.search(new["vector"][3], k=1).ids == ["r3"]
    assert sorted(col.search(new["vector"][0], k=20, where={"lang": "xx"}).ids) == sorted(new["id"])


def test_columns_named_by_arguments_and_without_text(db):
    d = records(12)
    batch = to_batch(d).rename_columns(["key", "emb", "body", "lang", "year", "score", "flag"])
    col = db.collection("c")
    col.upsert(batch, id_column="key", vector_column="emb", text_column="body")
    assert col.get(["r1"])[0]["text"] == d["text"][1]
    assert col.search_text("common", k=3).ids
    col.upsert(to_batch(d).drop_columns(["text"]))  # no text column: no texts, like texts=None
    assert col.get(["r1"])[0]["text"] is None
    multi = db.collection("m", fields={"a": DIM, "b": 4})
    b4 = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(48, np.float32)), 4)
    multi.upsert(batch.append_column("b", b4), id_column="key", vector_column={"a": "emb", "b": "b"}, text_column="body")
    multi.upsert(to_batch(d).rename_columns(["id", "a", *batch.schema.names[2:]]).append_column("b", b4), text_column="body")
    assert multi.count() == 12 and multi.search(d["vector"][2], k=1, field="a").ids == ["r2"]
    assert multi.get(["r2"])[0]["metadata"] == {"lang": d["lang"][2], "year": d["year"][2], "score": d["score"][2], "flag": True}


def _with(batch, name, array):
    return batch.set_column(batch.schema.get_field_index(name), name, array)


def test_bad_columns_name_the_column_and_row(db):
    col = db.collection("c")
    col.upsert(to_batch(records(5, prefix="keep")))
    good = to_batch(records(6))
    vec = pa.array([[0.5] * DIM] * 6, pa.list_(pa.float32()))
    cases = [
        (good.drop_columns(["id"]), KeyError, r"no id column 'id'"),
        (good.drop_columns(["vector"]), KeyError, r"no vectors of field 'default' column 'vector'"),
        (_with(good, "id", pa.array(range(6))), TypeError, r"column 'id' \(ids\) has type int64"),
        (_with(good, "id", pa.array(["a", "b", None, "d", "e", "f"])), ValueError, r"column 'id' row 2 is null"),
        (_with(good, "vector", pa.array([[0.5] * DIM] * 3 + [[0.5] * 3] + [[0.5] * DIM] * 2, pa.list_(pa.float32()))),
         ValueError, r"column 'vector' row 3 has a vector of dimension 3 \(the column is ragged\)"),
        (_with(good, "vector", pa.array([[0.5] * 5] * 6, pa.list_(pa.float32(), 5))),
         ValueError, r"column 'vector' row 0 has a vector of dimension 5 .* has dimension 8"),
        (_with(good, "vector", pa.array([[0.5] * DIM] * 4 + [None] * 2, vec.type)), ValueError, r"column 'vector' row 4 is null"),
        (_with(good, "vector", pa.array([[0.5] * DIM] * 5 + [[0.5] * 7 + [None]], vec.type)),
         ValueError, r"column 'vector' row 5 has a null inside its vector"),
        (_with(good, "vector", pa.array(["x"] * 6)), TypeError, r"column 'vector' \(vectors of field 'default'\) has type string"),
        (_with(good, "vector", pa.array([[True] * DIM] * 6)), TypeError, r"column 'vector' .* holds bool values"),
        (_with(good, "vector", pa.array([[0.5] * (DIM - 1) + [float("nan")]] * 6, vec.type)), ValueError, r"NaN or infinity"),
        (_with(good, "lang", pa.array(["en", None, "de", "en", "en", "en"])), TypeError, r"column 'lang' row 1 is null: sage_db stores no null metadata"),
        (_with(good, "year", pa.array([1, 2, 3, 4, 5, None])), TypeError, r"column 'year' row 5 is null"),
        (good.append_column("tags", pa.array([["a"]] * 6)), TypeError, r"column 'tags' has type list<item: string>; metadata columns must hold"),
        (good.append_column("when", pa.array([1] * 6, pa.timestamp("s"))), TypeError, r"column 'when' has type timestamp"),
        (_with(good, "text", pa.array(["a", "b", "c", None, "e", "f"])), ValueError, r"column 'text' row 3 is null; texts must be str"),
        (_with(good, "id", pa.array(["a", "b", "a", "d", "e", "f"])), ValueError, r"id 'a' appears more than once"),
        (pa.record_batch([*good.columns, pa.array([1] * 6)], names=[*good.schema.names, "year"]), ValueError, r"\['year'\] appear more than once"),
    ]
    for data, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            col.upsert(data)
    with pytest.raises(KeyError, match=r"no text column 'body'"):
        col.upsert(good, text_column="body")
    with pytest.raises(TypeError, match=r"pass no vectors, metadata or texts"):
        col.upsert(good, np.zeros((6, DIM), np.float32))
    with pytest.raises(TypeError, match=r"apply to pyarrow RecordBatch/Table input only"):
        col.upsert(["a"], np.zeros((1, DIM), np.float32), id_column="id")
    with pytest.raises(TypeError, match=r"upsert needs vectors"):
        col.upsert(["a"])
    assert col.count() == 5 and sorted(col.search(np.ones(DIM, np.float32), k=10).ids) == [f"keep{i}" for i in range(5)]


def test_empty_batch_writes_nothing(db):
    col = db.collection("c")
    col.upsert(to_batch(records(5)).slice(0, 0))
    col.upsert(pa.Table.from_batches([], to_batch(records(5)).schema))
    assert col.count() == 0


def test_import_sage_db_does_not_import_pyarrow():
    code = "import sys, sage_db, sage_db.collection; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the writer in a pipeline ----------------------------------------------------------------
def _dict_records(d: dict) -> list[dict]:
    return [
        {"id": i, "vector": v.tolist(), "text": t, "metadata": {"lang": la, "year": y, "score": s, "flag": f}}
        for i, v, t, la, y, s, f in zip(d["id"], d["vector"], d["text"], d["lang"], d["year"], d["score"], d["flag"])
    ]


def test_writer_sink_takes_arrow_batches_in_a_pipeline(tmp_path, rng):
    from sage_core import LocalEnvironment
    from sage_recipes.retrieval import SageDBWriter

    first, second = records(60), records(30, seed=3)  # second replaces r0..r29
    second["text"][4] = None  # a null text is "" for the writer, as a missing dict "text" is
    env = LocalEnvironment("arrow_writer")
    batch2 = pa.Table.from_batches([to_batch(second).slice(0, 10), to_batch(second).slice(10)])
    env.from_batch([to_batch(first), batch2]).sink(SageDBWriter, str(tmp_path / "arrow"), "docs", parallelism=1)
    result = env.submit()
    assert not result.dead_letters
    env = LocalEnvironment("dict_writer")
    env.from_batch(_dict_records(first) + _dict_records(second)).sink(SageDBWriter, str(tmp_path / "dicts"), "docs", parallelism=1)
    env.submit()
    q = rng.standard_normal((3, DIM)).astype(np.float32)
    with SageDB.open(tmp_path / "arrow", mode="r") as a, SageDB.open(tmp_path / "dicts", mode="r") as b:
        got, want = snapshot_of(a.collection("docs"), q), snapshot_of(b.collection("docs"), q)
    got["stats"].pop("lsn"), want["stats"].pop("lsn")  # one write per batch against one per bundle
    assert want["count"] == 60 and got == want
    assert ("r4", {"lang": "de", "year": 2004, "score": 4 / 3, "flag": True}, "") in [r[:3] for r in got["records"]]


def test_writer_dead_letters_a_refused_batch_whole(tmp_path):
    from sage_core import LocalEnvironment
    from sage_recipes.retrieval import SageDBWriter

    bad = _with(to_batch(records(5, prefix="bad")), "lang", pa.array(["en", "de", None, "en", "en"]))
    env = LocalEnvironment("arrow_dead")
    env.from_batch([to_batch(records(10)), bad, to_batch(records(3, prefix="late"))]).sink(
        SageDBWriter, str(tmp_path / "db"), "docs", name="write", parallelism=1
    )
    result = env.submit()
    [dead] = result.dead_letters
    assert dead.operator == "write" and "column 'lang' row 2 is null" in dead.error
    with SageDB.open(tmp_path / "db", mode="r") as db:
        assert db.collection("docs").count() == 13


def test_service_upsert_takes_a_batch(tmp_path):
    from sage_db import SageDBService

    d = records(10)
    svc = SageDBService(str(tmp_path / "db"), "kb", dim=DIM)
    batch = to_batch(d).rename_columns(["key", *to_batch(d).schema.names[1:]])
    assert svc.upsert(batch, id_column="key") == 10
    assert svc.search(d["vector"][4], k=1)[0]["metadata"] == {"lang": "de", "year": 2004, "score": 4 / 3, "flag": True}
    svc.stop()
