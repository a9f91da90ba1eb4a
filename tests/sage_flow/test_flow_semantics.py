"""Window semantics by example: watermarks, lateness and re-fires, side output, sessions,
count windows, processing time, aggregates and the Python reduce path."""

from __future__ import annotations

import numpy as np
import pytest

from sage_flow import (
    CountWindow,
    SessionWindow,
    SlidingWindow,
    TopK,
    TumblingWindow,
    WindowAggregate,
    WindowResult,
)


def events(*pairs):
    return [{"ts": ts, "x": x} for ts, x in pairs]


def feed(op, key, recs):
    return op.process_batch([key] * len(recs), recs)


def ts(r):
    return r["ts"]


def x(r):
    return r["x"]


def test_tumbling_window_fires_when_watermark_passes_end():
    op = WindowAggregate(TumblingWindow(10), "sum", timestamp=ts, value=x)
    assert feed(op, "a", events((1, 1), (9.5, 2))).results == []
    assert feed(op, "a", events((10, 4))).results == [WindowResult("a", 0.0, 10.0, 3.0, 2)]
    assert op.flush() == [WindowResult("a", 10.0, 20.0, 4.0, 1)]


def test_out_of_orderness_delays_the_watermark():
    op = WindowAggregate(TumblingWindow(10), "count", timestamp=ts, out_of_orderness=3)
    assert feed(op, "a", events((1, 0), (12, 0))).results == []  # watermark 9
    assert feed(op, "a", events((8, 0))).results == []  # still on time
    assert op.watermark == 9.0
    assert feed(op, "a", events((13, 0))).results == [WindowResult("a", 0.0, 10.0, 2, 2)]


def test_late_record_within_lateness_refires_updated_window():
    op = WindowAggregate(TumblingWindow(10), "sum", timestamp=ts, value=x, allowed_lateness=5)
    assert feed(op, "a", events((1, 1), (11, 0))).results == [WindowResult("a", 0.0, 10.0, 1.0, 1)]
    # watermark 11 < 10 + 5: the window is still updatable and fires again at once
    assert feed(op, "a", events((2, 10))).results == [WindowResult("a", 0.0, 10.0, 11.0, 2)]
    # watermark 15 >= 10 + 5: purged; the next record for it goes to the side output
    out = feed(op, "a", events((15, 0), (3, 100)))
    assert out.results == []
    assert out.late == [{"ts": 3, "x": 100}]


def test_late_records_go_to_side_output_not_dropped():
    op = WindowAggregate(TumblingWindow(1), "count", timestamp=ts)
    out = feed(op, "k", events((5, 0), (1, 0), (4.99, 0), (5.5, 0)))
    assert out.late == [{"ts": 1, "x": 0}, {"ts": 4.99, "x": 0}]
    assert op.flush() == [WindowResult("k", 5.0, 6.0, 2, 2)]


def test_sliding_record_late_only_when_every_window_is_purged():
    op = WindowAggregate(SlidingWindow(size=4, slide=2), "count", timestamp=ts)
    feed(op, "k", events((6, 0)))  # watermark 6: windows ending <= 6 are purged
    out = feed(op, "k", events((5, 0)))  # in [2,6) (purged) and [4,8) (open)
    assert out.late == []
    assert op.flush() == [WindowResult("k", 4.0, 8.0, 2, 2), WindowResult("k", 6.0, 10.0, 1, 1)]


def test_sessions_merge_when_a_record_bridges_them():
    op = WindowAggregate(SessionWindow(gap=2), "sum", timestamp=ts, value=x, out_of_orderness=10)
    feed(op, "u", events((0, 1), (1, 1), (5, 1), (6, 1)))
    assert feed(op, "u", events((3, 10))).results == []  # [3,5) touches [0,3) and [5,8)
    assert op.flush() == [WindowResult("u", 0.0, 8.0, 14.0, 5)]


def test_sessions_are_per_key():
    op = WindowAggregate(SessionWindow(gap=1), "count", timestamp=ts)
    out = op.process_batch(["a", "b", "a", "b"], events((0, 0), (0.5, 0), (0.9, 0), (3, 0)))
    # fired in order of window end
    assert out.results == [WindowResult("b", 0.5, 1.5, 1, 1), WindowResult("a", 0.0, 1.9, 2, 2)]


def test_count_windows_tumbling_sliding_and_flush():
    op = WindowAggregate(CountWindow(3), "sum", value=float)
    out = op.process_batch(["a"] * 4 + ["b"], [1, 2, 3, 4, 10])
    assert out.results == [WindowResult("a", 0.0, 3.0, 6.0, 3)]
    assert op.flush() == [WindowResult("a", 3.0, 4.0, 4.0, 1), WindowResult("b", 0.0, 1.0, 10.0, 1)]
    sliding = WindowAggregate(CountWindow(3, slide=2), "sum", value=float)
    got = sliding.process_batch(["a"] * 5, [1, 2, 3, 4, 5]).results + sliding.flush()
    assert [(r.start, r.end, r.value) for r in got] == [(0, 2, 3.0), (1, 4, 9.0), (3, 5, 9.0)]


def test_processing_time_uses_the_clock():
    now = [100.2]
    op = WindowAggregate(TumblingWindow(1, time="processing"), "count", clock=lambda: now[0])
    assert op.process_batch(["a", "a"], [{}, {}]).results == []
    now[0] = 100.7
    assert op.process_batch(["a"], [{}]).results == []
    now[0] = 101.1
    assert op.advance_watermark() == [WindowResult("a", 100.0, 101.0, 3, 3)]


@pytest.mark.parametrize(
    "agg,want",
    [
        ("count", 4),
        ("sum", 10.0),
        ("mean", 2.5),
        ("min", 1.0),
        ("max", 4.0),
        ("first", 1.0),
        ("last", 2.0),
    ],
)
def test_scalar_aggregates(agg, want):
    # arrival order 3@t1, 1@t0, 4@t2, 2@t3; first/last follow event time
    op = WindowAggregate(TumblingWindow(10), agg, timestamp=ts, value=x, out_of_orderness=5)
    feed(op, "k", events((1, 3), (0, 1), (2, 4), (3, 2)))
    (res,) = op.flush()
    assert res.value == want and res.count == 4


def test_first_and_last_break_event_time_ties_by_arrival():
    for agg, want in (("first", 1.0), ("last", 3.0)):
        op = WindowAggregate(TumblingWindow(10), agg, timestamp=ts, value=x)
        feed(op, "k", events((5, 1), (5, 2), (5, 3)))
        assert op.flush()[0].value == want


def test_python_reduce_gets_values_in_arrival_order():
    op = WindowAggregate(
        TumblingWindow(10), lambda vs: "-".join(vs), timestamp=ts, value=x, out_of_orderness=5
    )
    feed(op, "k", events((3, "c"), (1, "a"), (2, "b")))
    assert op.flush()[0].value == "c-a-b"


def test_centroid_and_topk_on_vectors():
    vecs = [[1, 0], [0, 1], [1, 1], [-1, 0]]
    recs = [{"ts": i, "v": v} for i, v in enumerate(vecs)]
    op = WindowAggregate(TumblingWindow(10), "centroid", timestamp=ts, value=lambda r: r["v"])
    op.process_batch(["k"] * 4, recs)
    (res,) = op.flush()
    np.testing.assert_allclose(res.value, [0.25, 0.5])
    top = WindowAggregate(
        TumblingWindow(10), "topk", timestamp=ts, value=lambda r: r["v"], query=[1, 0], k=2
    )
    top.process_batch(["k"] * 4, recs)
    (res,) = top.flush()
    assert isinstance(res.value, TopK)
    np.testing.assert_allclose(res.value.vectors, [[1, 0], [1, 1]])
    np.testing.assert_allclose(res.value.scores, [1.0, 2**-0.5], rtol=1e-6)


def test_mean_on_vectors_is_the_centroid():
    op = WindowAggregate(CountWindow(2), "mean", value=np.asarray)
    (res,) = op.process_batch(["k", "k"], [[0.0, 2.0], [2.0, 4.0]]).results
    np.testing.assert_allclose(res.value, [1.0, 3.0])


def test_advance_watermark_fires_idle_event_time_windows():
    op = WindowAggregate(TumblingWindow(5), "count", timestamp=ts)
    feed(op, "k", events((1, 0), (2, 0)))
    assert op.advance_watermark(4.9) == []
    assert op.advance_watermark(5.0) == [WindowResult("k", 0.0, 5.0, 2, 2)]
    with pytest.raises(ValueError, match="must not go backwards"):
        op.advance_watermark(1.0)
    with pytest.raises(ValueError, match="needs a watermark"):
        op.advance_watermark()


def test_processing_time_sessions_close_after_the_gap():
    now = [10.0]
    op = WindowAggregate(SessionWindow(2, time="processing"), "count", clock=lambda: now[0])
    op.process_batch(["a"], [{}])
    now[0] = 11.0
    op.process_batch(["a", "b"], [{}, {}])
    now[0] = 13.5
    assert op.advance_watermark() == [
        WindowResult("a", 10.0, 13.0, 2, 2),
        WindowResult("b", 11.0, 13.0, 1, 1),
    ]
    assert op.flush() == []
