"""A run stopped after any record and restored from its snapshot fires exactly the same
windows as an uninterrupted run; snapshots are versioned and checked on restore."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from flow_helpers import as_tuples, make_stream, random_batches, run

from sage_flow import (
    CountWindow,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    WindowAggregate,
    _core,
)

WINDOWS = [TumblingWindow(2), SlidingWindow(3, 1), SessionWindow(1.0), CountWindow(4, 3)]


def _make(window, agg):
    kwargs = {}
    if agg == "topk":
        kwargs = {"query": [1.0, 0.0, -1.0], "k": 2}
    vector = agg in ("centroid", "topk")
    return WindowAggregate(
        window,
        agg if agg != "reduce" else (lambda vs: tuple(sorted(vs))),
        timestamp=lambda r: r["ts"],
        value=(lambda r: r["vec"]) if vector else (lambda r: r["x"]),
        allowed_lateness=1.5,
        out_of_orderness=0.5,
        **kwargs,
    )


def _vals(results):
    out = []
    for key, start, end, value, count in as_tuples(results):
        if hasattr(value, "scores"):
            value = (value.vectors.tolist(), value.scores.tolist())
        elif hasattr(value, "tolist"):
            value = value.tolist()
        out.append((key, start, end, value, count))
    return out


@pytest.mark.parametrize("agg", ["count", "mean", "first", "reduce", "centroid", "topk"])
@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: type(w).__name__)
def test_restored_run_equals_uninterrupted_run(window, agg):
    records = make_stream(11, n=240, vector_dim=3)
    batches = random_batches(records, 11)
    want, want_late = run(_make(window, agg), batches)
    for cut in (0, 1, 7, len(batches) // 2, len(batches) - 1):
        first = _make(window, agg)
        got, late = run(first, batches[:cut], flush=False)
        data = first.snapshot()
        del first
        second = _make(window, agg)
        second.restore(data)
        more, more_late = run(second, batches[cut:])
        assert _vals(got + more) == _vals(want), f"cut after batch {cut}"
        assert late + more_late == want_late


def test_snapshot_is_deterministic_and_restore_round_trips():
    records = make_stream(12)
    op = _make(SessionWindow(1.0), "sum")
    run(op, [records[:150]], flush=False)
    data = op.snapshot()
    again = _make(SessionWindow(1.0), "sum")
    again.restore(data)
    assert again.snapshot() == data


def test_snapshot_keeps_arbitrary_keys():
    op = WindowAggregate(CountWindow(2), "count")
    keys = [("user", 1), None, 3.5, b"raw", frozenset({1, 2}), "é", np.int64(7), np.float32(0.5)]
    op.process_batch(keys, list(range(len(keys))))
    copy = WindowAggregate(CountWindow(2), "count")
    copy.restore(op.snapshot())
    assert sorted(map(repr, (r.key for r in copy.flush()))) == sorted(map(repr, keys))


def test_restore_rejects_other_configuration():
    op = _make(TumblingWindow(2), "sum")
    run(op, [make_stream(1)[:20]], flush=False)
    data = op.snapshot()
    with pytest.raises(ValueError, match="different operator"):
        _make(TumblingWindow(3), "sum").restore(data)
    with pytest.raises(ValueError, match="different operator"):
        _make(TumblingWindow(2), "max").restore(data)
    other = WindowAggregate(
        TumblingWindow(2), "sum", timestamp=float, value=float, allowed_lateness=9
    )
    with pytest.raises(ValueError, match="allowed_lateness"):
        other.restore(data)


def test_restore_rejects_garbage_and_other_versions():
    op = _make(TumblingWindow(2), "sum")
    with pytest.raises(ValueError, match="magic"):
        op.restore(b"PK\x03\x04 not a snapshot at all")
    data = bytearray(op.snapshot())
    data[4] = 99
    with pytest.raises(ValueError, match="version 99"):
        op.restore(bytes(data))
    with pytest.raises(ValueError, match="truncated|corrupt"):
        op.restore(op.snapshot()[:-3])


def test_engine_snapshot_checks_magic_version_and_length():
    eng = _core.Engine("tumbling", "count", size=1.0)
    data = eng.snapshot()
    assert data[:4] == b"SGFW" and int.from_bytes(data[4:8], "little") == _core.SNAPSHOT_VERSION
    with pytest.raises(ValueError, match="magic"):
        eng.restore(b"XXXX" + data[4:])
    with pytest.raises(ValueError, match="trailing"):
        eng.restore(data + b"\0")


def _ts(record):
    return record["ts"]


def _x(record):
    return record["x"]


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_operator_and_engine_pickle_mid_stream(protocol):
    records = make_stream(13)
    batches = random_batches(records, 13)

    def make():
        return WindowAggregate(
            SlidingWindow(3, 1),
            "sum",
            timestamp=_ts,
            value=_x,
            allowed_lateness=1.0,
            out_of_orderness=0.5,
        )

    want, _ = run(make(), batches)
    op = make()
    got, _ = run(op, batches[:5], flush=False)
    clone = pickle.loads(pickle.dumps(op, protocol))
    more, _ = run(clone, batches[5:])
    assert as_tuples(got + more) == as_tuples(want)

    eng = _core.Engine("session", "max", gap=1.0, allowed_lateness=2.0)
    eng.process(np.array([1, 2, 1]), np.array([0.0, 0.5, 0.7]), np.array([3.0, 1.0, 5.0]))
    copy = pickle.loads(pickle.dumps(eng, protocol))
    assert copy.snapshot() == eng.snapshot()
    assert copy.flush()["value"].tolist() == [1.0, 5.0]  # by session end


@pytest.mark.parametrize(
    "window",
    [SlidingWindow(2, 0.5), SessionWindow(0.75), CountWindow(3, 2)],
    ids=lambda w: type(w).__name__,
)
def test_stop_after_every_record_and_restore(window):
    records = make_stream(14, n=70)

    def make():
        return WindowAggregate(
            window, "last", timestamp="ts", value="x", allowed_lateness=1.0, out_of_orderness=0.25
        )

    want, want_late = run(make(), [records])
    for i in range(len(records) + 1):
        first = make()
        got, late = run(first, [records[:i]], flush=False)
        second = make()
        second.restore(first.snapshot())
        more, more_late = run(second, [records[i:]])
        assert as_tuples(got + more) == as_tuples(want), f"stopped after record {i}"
        assert late + more_late == want_late


def test_engine_snapshot_bytes_follow_the_documented_format():
    """Built field by field from docs/windows.md; a change here needs a version bump."""
    import struct

    eng = _core.Engine("tumbling", "sum", size=2.0)
    eng.process(np.array([5, 5, 7]), np.array([0.5, 1.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    inf = float("inf")
    want = b"".join(
        [
            b"SGFW",
            struct.pack("<I", 1),
            # config: kind sliding(0), aggregate sum(1), size, slide, gap, count size/slide,
            # lateness, out-of-orderness, dim, k, query (empty array)
            struct.pack("<BBdddqqddiiQ", 0, 1, 2.0, 2.0, 0.0, 0, 0, 0.0, 0.0, 0, 0, 0),
            struct.pack("<ddQ", 3.0, 3.0, 3),  # watermark, max event time, next arrival
            struct.pack("<Q", 1),  # one live window: key 7, [2, 4)
            struct.pack("<qdd", 7, 2.0, 4.0),
            # accumulator: count, sum, min, max, first (ts, seq, value), last (ts, seq, value)
            struct.pack("<qdddd", 1, 4.0, inf, -inf, 0.0)
            + struct.pack("<QddQd", 0, 0.0, 0.0, 0, 0.0),
        ]
    )
    assert eng.snapshot() == want


def test_operator_snapshot_layout():
    import json
    import struct

    op = WindowAggregate(TumblingWindow(2), "sum", timestamp="ts", value="x")
    op.process_batch(["a", ("b", 1)], [{"ts": 0.5, "x": 1}, {"ts": 0.7, "x": 2}])
    data = op.snapshot()
    magic, version, hlen = struct.unpack_from("<4sII", data)
    assert (magic, version) == (b"SGFO", 1)
    header = json.loads(data[12 : 12 + hlen])
    assert header["window"] == "TumblingWindow" and header["aggregate"] == "sum"
    pos = 12 + hlen
    (klen,) = struct.unpack_from("<Q", data, pos)
    keys = data[pos + 8 : pos + 8 + klen]
    assert keys.startswith(b"l" + struct.pack("<I", 2) + b"s" + struct.pack("<I", 1) + b"a")
    pos += 8 + klen
    (vlen,) = struct.unpack_from("<Q", data, pos)
    assert vlen == 0  # no reduce-path values
    assert data[pos + 8 : pos + 12] == b"SGFW"


def test_failed_engine_restore_keeps_the_current_state():
    eng = _core.Engine("session", "count", gap=1.0)
    eng.process(np.array([1, 2]), np.array([0.0, 0.5]))
    before = eng.snapshot()
    with pytest.raises(ValueError, match="truncated or corrupt"):
        eng.restore(before[:-5])
    other = _core.Engine("session", "count", gap=2.0).snapshot()
    with pytest.raises(ValueError, match="different window size"):
        eng.restore(other)
    assert eng.snapshot() == before
