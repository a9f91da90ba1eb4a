"""Bad input gives clear errors up front, or per-record dead letters that never fail a batch."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from sage_flow import (
    CountWindow,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    WindowAggregate,
    WindowReduceError,
    WindowResult,
    _core,
)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_window_specs_are_frozen_and_picklable(protocol):
    for spec in (
        TumblingWindow(2),
        SlidingWindow(4, 1, time="processing"),
        SessionWindow(3),
        CountWindow(5, 2),
    ):
        assert pickle.loads(pickle.dumps(spec, protocol)) == spec
    with pytest.raises(AttributeError):
        TumblingWindow(2).seconds = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: TumblingWindow(0), "seconds must be a finite number"),
        (lambda: TumblingWindow("5"), "seconds must be a number"),
        (lambda: SlidingWindow(5, -1), "slide"),
        (lambda: SlidingWindow(2, 3), "must not exceed size"),
        (lambda: SessionWindow(math.nan), "gap"),
        (lambda: TumblingWindow(1, time="wall"), "'event' or 'processing'"),
        (lambda: CountWindow(0), "size must be an integer"),
        (lambda: CountWindow(3, slide=1.5), "slide must be an integer"),
    ],
)
def test_window_specs_validate(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_operator_arguments_validate():
    with pytest.raises(ValueError, match="unknown aggregate 'median'"):
        WindowAggregate(TumblingWindow(1), "median", timestamp=float, value=float)
    with pytest.raises(ValueError, match="needs timestamp"):
        WindowAggregate(TumblingWindow(1))
    with pytest.raises(ValueError, match="needs value"):
        WindowAggregate(TumblingWindow(1), "sum", timestamp=float)
    with pytest.raises(ValueError, match="topk' needs query"):
        WindowAggregate(TumblingWindow(1), "topk", timestamp=float, value=list)
    with pytest.raises(ValueError, match="allowed_lateness"):
        WindowAggregate(TumblingWindow(1), timestamp=float, allowed_lateness=-1)
    with pytest.raises(ValueError, match="process_batch got 1 keys for 2 records"):
        WindowAggregate(CountWindow(1)).process_batch(["a"], [1, 2])


def test_bad_records_become_errors_and_the_rest_is_processed():
    op = WindowAggregate(
        TumblingWindow(10), "sum", timestamp=lambda r: r["ts"], value=lambda r: r["x"]
    )
    good = [{"ts": 1, "x": 1}, {"ts": 2, "x": 2}]
    bad = [
        {"x": 1},
        {"ts": "noon", "x": 1},
        {"ts": math.nan, "x": 1},
        {"ts": 3, "x": "many"},
        {"ts": None, "x": 1},
        {"ts": True, "x": 1},
    ]
    batch = [good[0], *bad, good[1]]
    out = op.process_batch(["k"] * len(batch), batch)
    assert [rec for rec, _ in out.errors] == bad
    messages = [str(exc) for _, exc in out.errors]
    assert "timestamp function raised KeyError('ts')" in messages[0]
    assert "timestamp must be a finite number of seconds, got 'noon'" in messages[1]
    assert "got nan" in messages[2]
    assert "value must be a number, got 'many'" in messages[3]
    assert op.flush() == [WindowResult("k", 0.0, 10.0, 3.0, 2)]


def test_bad_records_become_errors_with_field_name_getters():
    op = WindowAggregate(TumblingWindow(10), "sum", timestamp="ts", value="x")
    batch = [
        {"ts": 1, "x": 1},
        {"x": 1},
        {"ts": "noon", "x": 1},
        {"ts": 2, "x": None},
        7,
        {"ts": 3, "x": 2.5},
    ]
    out = op.process_batch(["k"] * len(batch), batch)
    assert [rec for rec, _ in out.errors] == batch[1:5]
    messages = [str(exc) for _, exc in out.errors]
    assert "timestamp field 'ts' is missing (KeyError('ts'))" in messages[0]
    assert "timestamp must be a finite number of seconds, got 'noon'" in messages[1]
    assert "value must be a number, got None" in messages[2]
    assert isinstance(out.errors[3][1], TypeError)
    assert op.flush() == [WindowResult("k", 0.0, 10.0, 3.5, 2)]


def test_unhashable_keys_become_errors():
    op = WindowAggregate(CountWindow(1))
    out = op.process_batch(["a", ["not", "hashable"]], [1, 2])
    assert len(out.results) == 1 and out.errors[0][0] == 2
    assert "not hashable" in str(out.errors[0][1])


def test_mixed_vector_dimensions_become_errors():
    op = WindowAggregate(CountWindow(10), "centroid", value=lambda r: r)
    out = op.process_batch(["k"] * 4, [[1, 2, 3], [1, 2], [4, 5, 6], "abc"])
    assert [rec for rec, _ in out.errors] == [[1, 2], "abc"]
    assert "vector has dimension 2, expected dimension 3 (mixed vector dimensions)" in str(
        out.errors[0][1]
    )
    assert "value is not a numeric vector" in str(out.errors[1][1])
    later = op.process_batch(["k"], [[1, 2, 3, 4]])
    assert "vector has dimension 4, expected dimension 3" in str(later.errors[0][1])
    (res,) = op.flush()
    assert res.count == 2
    np.testing.assert_allclose(res.value, [2.5, 3.5, 4.5])


def test_engine_rejects_bad_arrays_with_clear_messages():
    eng = _core.Engine("tumbling", "sum", size=1.0)
    keys = np.array([1, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="timestamp at index 1 is nan"):
        eng.process(keys, np.array([0.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="timestamps must be a numeric array, got dtype <U"):
        eng.process(keys, np.array(["a", "b"]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="timestamps has 3 entries but keys has 2"):
        eng.process(keys, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="needs a 1-D float64 array of values"):
        eng.process(keys, np.zeros(2), None)
    assert eng.next_seq == 0, "a rejected batch changes no state"
    with pytest.raises(ValueError, match="unknown aggregate 'avg'"):
        _core.Engine("tumbling", "avg", size=1.0)
    with pytest.raises(ValueError, match="window size must be a finite number > 0"):
        _core.Engine("tumbling", "count", size=-1.0)
    vec = _core.Engine("count", "centroid", count_size=2, vector=True)
    vec.process(keys, None, np.ones((2, 3), dtype=np.float32))
    with pytest.raises(
        ValueError, match="vectors have dimension 4 but this window expects dimension 3"
    ):
        vec.process(keys, None, np.ones((2, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="2-D"):
        vec.process(keys, None, np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError, match="watermark must not go backwards"):
        eng.advance(5.0)
        eng.advance(4.0)


def test_engine_arrays_in_and_out():
    eng = _core.Engine("tumbling", "count", size=1.0)
    n = 10_000
    keys = np.arange(n, dtype=np.int64) % 7
    ts = np.linspace(0, 50, n)
    fired, late = eng.process(keys, ts)
    assert late.dtype == np.int64 and len(late) == 0
    rest = eng.flush()
    counts = np.concatenate([fired["count"], rest["count"]])
    assert counts.sum() == n
    assert fired["key"].dtype == np.int64 and fired["start"].dtype == np.float64
    assert fired["key"].flags.owndata is False and fired["key"].base is not None  # owned by C++
    # non-contiguous or other dtypes are converted, not rejected
    eng2 = _core.Engine("tumbling", "count", size=1.0)
    fired2, _ = eng2.process(keys[::2].astype(np.int32), ts[::2])
    assert fired2["count"].sum() + eng2.flush()["count"].sum() == n // 2


def test_engine_gives_same_windows_for_dense_and_sparse_key_ids():
    rng = np.random.default_rng(3)
    n = 5_000
    keys = rng.integers(0, 50, n, dtype=np.int64)
    ts = np.round(np.arange(n) / 100 + rng.uniform(0, 0.5, n), 3)
    sparse = keys * 1_000_003_000_017 - 7  # negative and huge ids take the general path

    def run_engine(k):
        eng = _core.Engine(
            "sliding", "sum", size=2.0, slide=0.5, allowed_lateness=0.3, out_of_orderness=0.2
        )
        fired, late = eng.process(k, ts, ts)
        rest = eng.flush()
        return [np.concatenate([fired[c], rest[c]]) for c in ("key", "start", "end", "value")], late

    (dk, ds, de, dv), dlate = run_engine(keys)
    (sk, ss, se, sv), slate = run_engine(sparse)
    assert np.array_equal(sk, dk * 1_000_003_000_017 - 7)
    assert np.array_equal(ds, ss) and np.array_equal(de, se) and np.array_equal(dv, sv)
    assert np.array_equal(dlate, slate)


def test_failing_reduce_routes_the_window_to_errors():
    def fragile(values):
        if 13 in values:
            raise ValueError("unlucky")
        return sum(values)

    op = WindowAggregate(TumblingWindow(10), fragile, timestamp="ts", value="x")
    out = op.process_batch(
        ["a", "b", "a"], [{"ts": 1, "x": 13}, {"ts": 2, "x": 1}, {"ts": 10, "x": 2}]
    )
    assert out.results == [WindowResult("b", 0.0, 10.0, 1, 1)]
    ((window, exc),) = out.errors
    assert window == WindowResult("a", 0.0, 10.0, [13], 1) and str(exc) == "unlucky"
    op.process_batch(["a"], [{"ts": 11, "x": 13}])
    with pytest.raises(WindowReduceError) as info:
        op.flush()
    assert info.value.results == []
    assert info.value.errors[0][0] == WindowResult("a", 10.0, 20.0, [2, 13], 2)


def test_results_built_in_bulk_equal_constructed_ones_and_stay_frozen():
    from dataclasses import FrozenInstanceError

    from sage_flow import _core
    from sage_flow.results import make_results

    built = make_results(["a", ("t", 1)], [0.0, 5.0], [5.0, 10.0], [2, np.float32(1.5)], [2, 3])
    assert built == [WindowResult("a", 0.0, 5.0, 2, 2), WindowResult(("t", 1), 5.0, 10.0, np.float32(1.5), 3)]
    assert pickle.loads(pickle.dumps(built)) == built and hash(built[0]) == hash(WindowResult("a", 0.0, 5.0, 2, 2))
    with pytest.raises(FrozenInstanceError):
        built[0].value = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="columns differ in length"):
        make_results(["a"], [0.0, 1.0], [1.0], [1], [1])
    with pytest.raises(AttributeError, match="nope"):
        _core.build_objects(WindowResult, ("key", "nope"), (["a"], [1]))
    with pytest.raises(ValueError, match="2 columns for 1 slots"):
        _core.build_objects(WindowResult, ("key",), (["a"], [1]))
