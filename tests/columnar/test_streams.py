"""Columnar streams on every backend: Arrow batches in, through map_batches, vectorized
filters and keyby("field"), and back as one table."""

from __future__ import annotations

from collections import Counter

import pytest

pa = pytest.importorskip("pyarrow")

from sage_core import Environment, PipelineValidationError  # noqa: E402
from sage_core.runtime.partition import stable_hash  # noqa: E402
from tests.columnar import arrow_pipelines as ap  # noqa: E402

EVENTS = ap.events(600)
TABLE = pa.Table.from_pylist(EVENTS)


def test_from_arrow_takes_tables_batches_and_readers_and_gives_a_table_back(backend):
    env = Environment("roundtrip")
    batches = TABLE.to_batches(max_chunksize=100)
    env.from_arrow(TABLE, batch_size=64).collect("table", format="arrow")
    env.from_arrow(batches[0]).collect("batch", format="arrow")
    env.from_arrow(pa.RecordBatchReader.from_batches(TABLE.schema, batches)).collect("reader", format="arrow")
    result = env.submit(backend=backend)
    assert result.collected["table"].sort_by("seq").equals(TABLE)
    assert result.collected["batch"].equals(pa.Table.from_batches([batches[0]]))
    assert result.collected["reader"].sort_by("seq").equals(TABLE)
    assert result.metrics["source_batch_0"].records_out == -(-len(EVENTS) // 64)  # one record per batch


@pytest.mark.parametrize("fmt, fn", [("pandas", ap.plus_one_pandas), ("numpy", ap.plus_one_numpy), ("arrow", ap.plus_one_arrow)])
def test_map_batches_in_each_format_and_a_vectorized_filter(backend, fmt, fn):
    env = Environment("formats")
    out = env.from_arrow(TABLE, batch_size=100).map_batches(fn, batch_format=fmt, parallelism=2).filter(ap.positive)
    got = out.to_arrow(backend=backend)
    expected = sorted(e["seq"] for e in EVENTS if e["value"] + 1 > 0)
    assert sorted(got["seq"].to_pylist()) == expected
    by_seq = {e["seq"]: e["value"] + 1 for e in EVENTS}
    assert all(abs(v - by_seq[s]) < 1e-9 for s, v in zip(got["seq"].to_pylist(), got["value"].to_pylist()))


def test_dict_records_are_gathered_into_batches_by_map_batches(backend):
    env = Environment("gather")
    got = env.from_batch(EVENTS).map_batches(ap.plus_one_arrow, batch_format="arrow").to_arrow(backend=backend)
    assert sorted(got["seq"].to_pylist()) == list(range(len(EVENTS)))


def test_keyby_field_splits_batches_by_key_in_vectorized_code(backend):
    env = Environment("split")
    env.from_arrow(TABLE, batch_size=50).keyby("user").map(ap.KeysSeen, parallelism=3).collect("seen")
    seen = env.submit(backend=backend).collected["seen"]
    owner = {}
    for index, keys, _ in seen:
        for key in keys:
            assert owner.setdefault(key, index) == index, f"key {key} reached two instances"
            assert stable_hash(key) % 3 == index  # the same owner a dict record with that key has
    assert sum(rows for _, _, rows in seen) == len(EVENTS)
    assert set(owner) == {e["user"] for e in EVENTS}


def test_keyby_field_on_dict_records_is_keyby_on_the_key(backend):
    env = Environment("dict-field")
    env.from_batch(EVENTS).keyby("user").map(lambda e: e["user"], parallelism=2).collect("by_field")
    env.from_batch(EVENTS).keyby(lambda e: e["user"]).map(lambda e: e["user"], parallelism=2).collect("by_lambda")
    result = env.submit(backend=backend)
    assert Counter(result.collected["by_field"]) == Counter(result.collected["by_lambda"]) == Counter(e["user"] for e in EVENTS)


def test_a_batch_whose_function_fails_is_a_dead_letter_not_lost():
    env = Environment("bad-mask")
    env.from_arrow(TABLE, batch_size=200).filter(ap.wrong_length).collect("out", format="arrow")
    result = env.submit()
    assert result.collected["out"].num_rows == 0
    assert len(result.dead_letters) == 3
    assert all("one boolean per row" in d.error for d in result.dead_letters)
    assert sum(d.record.num_rows for d in result.dead_letters) == len(EVENTS)


def test_columnar_api_errors_name_what_is_wrong():
    env = Environment("errors")
    with pytest.raises(PipelineValidationError, match="from_arrow"):
        env.from_arrow(42)
    with pytest.raises(PipelineValidationError, match="batch_format"):
        env.from_arrow(TABLE).map_batches(ap.plus_one_arrow, batch_format="polars")
    with pytest.raises(PipelineValidationError, match="format must be"):
        env.from_arrow(TABLE).collect("x", format="parquet")
