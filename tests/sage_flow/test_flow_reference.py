"""Fired windows (including late re-fires), late records and their order match a
brute-force reference on random out-of-order streams, for every window kind and aggregate."""

from __future__ import annotations

import numpy as np
import pytest
from flow_helpers import as_tuples, make_stream, random_batches, run, run_reference
from flow_reference import ReferenceCountWindows, ReferenceTimeWindows

from sage_flow import CountWindow, SessionWindow, SlidingWindow, TumblingWindow, WindowAggregate

SCALAR_AGGS = ["count", "sum", "mean", "min", "max", "first", "last"]


def sorted_tuple(values: list) -> tuple:
    return tuple(sorted(values))


TIME_WINDOWS = {
    "tumbling2": (TumblingWindow(2), dict(kind="sliding", size=2.0, slide=2.0)),
    "sliding3by1": (SlidingWindow(3, 1), dict(kind="sliding", size=3.0, slide=1.0)),
    "sliding2by0.75": (SlidingWindow(2, 0.75), dict(kind="sliding", size=2.0, slide=0.75)),
    "session1": (SessionWindow(1.0), dict(kind="session", gap=1.0)),
    "session0.5": (SessionWindow(0.5), dict(kind="session", gap=0.5)),
}
TIMING = [(0.0, 0.0), (2.0, 1.0), (1.5, 0.0), (0.0, 2.5)]  # (allowed_lateness, out_of_orderness)


@pytest.mark.parametrize("timing", TIMING, ids=lambda t: f"late{t[0]}-ooo{t[1]}")
@pytest.mark.parametrize("agg", [*SCALAR_AGGS, "reduce"])
@pytest.mark.parametrize("window", list(TIME_WINDOWS))
def test_time_windows_match_reference(window, agg, timing):
    spec, ref_args = TIME_WINDOWS[window]
    lateness, delay = timing
    for seed in (1, 2):
        records = make_stream(seed)
        aggregate = sorted_tuple if agg == "reduce" else agg
        # seed 1 reads fields through callables, seed 2 through field names (C++ path)
        getters = (lambda r: r["ts"], lambda r: r["x"]) if seed == 1 else ("ts", "x")
        op = WindowAggregate(
            spec,
            aggregate,
            timestamp=getters[0],
            value=getters[1],
            allowed_lateness=lateness,
            out_of_orderness=delay,
        )
        got, late = run(op, random_batches(records, seed))
        ref = ReferenceTimeWindows(agg=aggregate, lateness=lateness, delay=delay, **ref_args)
        want, want_late = run_reference(ref, records, lambda r: r["x"])
        assert as_tuples(got) == want
        assert late == want_late


def test_random_streams_have_late_records_and_refires():
    """Guards the generator: the comparisons above do exercise lateness and re-fires."""
    records = make_stream(1)
    op = WindowAggregate(TumblingWindow(2), timestamp=lambda r: r["ts"], allowed_lateness=2.0)
    got, late = run(op, [records])
    windows = [(r.key, r.start) for r in got]
    assert late, "some records are too late"
    assert len(windows) > len(set(windows)), "some windows fire more than once"


@pytest.mark.parametrize("agg", [*SCALAR_AGGS, "reduce"])
@pytest.mark.parametrize("size,slide", [(3, None), (4, 2), (2, 3), (5, 1)])
def test_count_windows_match_reference(size, slide, agg):
    records = make_stream(3, n=200)
    aggregate = sorted_tuple if agg == "reduce" else agg
    op = WindowAggregate(CountWindow(size, slide), aggregate, value=lambda r: r["x"])
    got, late = run(op, random_batches(records, 3))
    ref = ReferenceCountWindows(aggregate, size, slide)
    want, _ = run_reference(ref, records, lambda r: r["x"])
    assert as_tuples(got) == want
    assert late == []


def _compare_vector_results(got, want, agg):
    assert [(r.key, r.start, r.end, r.count) for r in got] == [
        (w[0], w[1], w[2], w[4]) for w in want
    ]
    for r, w in zip(got, want, strict=False):
        if agg == "topk":
            assert [round(s, 5) for s in r.value.scores.tolist()] == [round(s, 5) for s, _ in w[3]]
            np.testing.assert_allclose(r.value.vectors, np.stack([v for _, v in w[3]]), rtol=1e-6)
        else:
            assert r.value.dtype == np.float32
            np.testing.assert_allclose(r.value, w[3], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("agg", ["centroid", "mean", "topk"])
@pytest.mark.parametrize("window", ["tumbling2", "sliding3by1", "session1"])
def test_vector_aggregates_match_reference(window, agg):
    spec, ref_args = TIME_WINDOWS[window]
    records = make_stream(4, n=200, vector_dim=6)
    query = [1.0, -0.5, 0.0, 2.0, 0.25, -1.0]
    op = WindowAggregate(
        spec,
        agg,
        timestamp=lambda r: r["ts"],
        value=lambda r: r["vec"],
        allowed_lateness=1.0,
        out_of_orderness=0.5,
        query=query if agg == "topk" else None,
        k=3 if agg == "topk" else None,
    )
    got, late = run(op, random_batches(records, 4))
    ref = ReferenceTimeWindows(agg=agg, lateness=1.0, delay=0.5, query=query, k=3, **ref_args)
    want, want_late = run_reference(ref, records, lambda r: np.asarray(r["vec"], dtype=np.float32))
    _compare_vector_results(got, want, agg)
    assert late == want_late


@pytest.mark.parametrize("agg", ["centroid", "topk"])
def test_vector_count_windows_match_reference(agg):
    records = make_stream(5, n=120, vector_dim=4)
    query = [0.5, 1.0, -1.0, 0.0]
    op = WindowAggregate(CountWindow(5, 2), agg, value=lambda r: r["vec"], query=query, k=2)
    got, _ = run(op, random_batches(records, 5))
    ref = ReferenceCountWindows(agg, 5, 2, query=query, k=2)
    want, _ = run_reference(ref, records, lambda r: np.asarray(r["vec"], dtype=np.float32))
    _compare_vector_results(got, want, agg)


@pytest.mark.parametrize("window", list(TIME_WINDOWS))
def test_results_do_not_depend_on_batch_boundaries(window):
    spec, _ = TIME_WINDOWS[window]
    records = make_stream(6)

    def make():
        return WindowAggregate(
            spec,
            "sum",
            timestamp=lambda r: r["ts"],
            value=lambda r: r["x"],
            allowed_lateness=1.0,
            out_of_orderness=0.5,
        )

    one_by_one = run(make(), [[r] for r in records])
    all_at_once = run(make(), [records])
    assert as_tuples(one_by_one[0]) == as_tuples(all_at_once[0])
    assert one_by_one[1] == all_at_once[1]
