"""Windows on Arrow columns give exactly the record path's results on every backend: the
same fired windows (re-fires included), the same late records, the same dead letters, and
the same output after a resume from a checkpoint."""

from __future__ import annotations

from collections import Counter

import pytest

pa = pytest.importorskip("pyarrow")

from sage_core import Environment, OperatorError  # noqa: E402
from sage_flow import SessionWindow, SlidingWindow, TumblingWindow  # noqa: E402
from tests.columnar import arrow_pipelines as ap  # noqa: E402

EVENTS = ap.events(1500)
TABLE = pa.Table.from_pylist(EVENTS)
WINDOW = {"timestamp": "ts", "out_of_orderness": 0.4, "allowed_lateness": 0.6}


def record_windows(window, aggregate, parallelism, backend):
    env = Environment("records")
    field = None if aggregate == "count" else "value"
    windows = env.from_batch(EVENTS).keyby("user").window(window, **WINDOW).aggregate(aggregate, field=field, parallelism=parallelism)
    windows.map(lambda r: (r.key, r.start, r.end, round(r.value, 9), r.count)).collect("out")
    windows.side_output("late").collect("late")
    result = env.submit(backend=backend)
    return Counter(result.collected["out"]), Counter(r["seq"] for r in result.collected.get("late", []))


def column_windows(window, aggregate, parallelism, backend):
    env = Environment("columns")
    field = None if aggregate == "count" else "value"
    windows = env.from_arrow(TABLE, batch_size=128).keyby("user").window(window, **WINDOW).aggregate(aggregate, field=field, parallelism=parallelism)
    windows.collect("out", format="arrow")
    windows.side_output("late").collect("late", format="arrow")
    result = env.submit(backend=backend)
    return Counter(ap.window_rows(result.collected["out"])), Counter(ap.seqs(result.collected["late"]))


@pytest.mark.parametrize("aggregate", ["count", "sum", "mean", "min", "max"])
def test_columnar_windows_equal_the_record_path(backend, aggregate):
    for parallelism in (1, 2):
        records = record_windows(TumblingWindow(seconds=1), aggregate, parallelism, backend)
        columns = column_windows(TumblingWindow(seconds=1), aggregate, parallelism, backend)
        assert columns == records
        assert sum(records[1].values()) > 0, "the stream must have late records"
        refires = Counter((k, s) for k, s, *_ in records[0])
        assert max(refires.values()) > 1, "the stream must have re-fired windows"


@pytest.mark.parametrize("window", [SlidingWindow(size=2, slide=1), SessionWindow(gap=0.5)], ids=["sliding", "session"])
def test_sliding_and_session_windows_on_columns_equal_the_record_path(window):
    assert column_windows(window, "sum", 2, "local") == record_windows(window, "sum", 2, "local")


def test_bad_timestamps_are_dead_letters_with_the_row(backend):
    rows = [{"user": "a", "ts": 1.0, "value": 1.0}, {"user": "a", "ts": None, "value": 2.0}, {"user": "b", "ts": float("nan"), "value": 3.0}, {"user": "b", "ts": 2.5, "value": 4.0}]
    env = Environment("bad-ts")
    env.from_arrow(pa.Table.from_pylist(rows)).keyby("user").window(TumblingWindow(10), timestamp="ts").aggregate("sum", field="value").collect("out", format="arrow")
    result = env.submit(backend=backend)
    assert ap.window_rows(result.collected["out"]) == [("a", 0.0, 10.0, 1.0, 1), ("b", 0.0, 10.0, 4.0, 1)]
    dead = sorted((d.record["value"], d.operator) for d in result.dead_letters)
    assert dead == [(2.0, "window_2"), (3.0, "window_2")]
    assert all("timestamp must be a finite number of seconds" in d.error for d in result.dead_letters)


def columnar_job(name, marker=None, store=None):
    env = Environment(name, strict=True, config={"max_bundle": 4})
    if store is not None:
        env.enable_checkpointing(store, interval=0.05)
    batches = env.from_arrow(TABLE, batch_size=50)
    if marker is not None:
        batches = batches.map(ap.CrashOnceAtSeq, 1000, marker)
        batches.columnar = True
    windows = batches.keyby("user").window(TumblingWindow(seconds=1), **WINDOW).aggregate("count", parallelism=2, name="clicks")
    windows.collect("out", format="arrow")
    windows.side_output("late").collect("late", format="arrow")
    return env


def test_columnar_windows_resume_from_a_checkpoint_as_if_uninterrupted(backend, tmp_path):
    reference = columnar_job("reference").submit(backend=backend)
    store, marker = tmp_path / "checkpoints", str(tmp_path / "crashed")
    with pytest.raises(OperatorError, match="crash at seq=1000"):
        columnar_job("clicks", marker, store).submit(backend=backend)
    result = columnar_job("clicks", marker, store).submit(backend=backend)
    assert result.details["checkpoints"]["resumed_from"] is not None
    assert Counter(ap.window_rows(result.collected["out"])) == Counter(ap.window_rows(reference.collected["out"]))
    assert sorted(ap.seqs(result.collected["late"])) == sorted(ap.seqs(reference.collected["late"]))
