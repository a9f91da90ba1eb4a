"""Columnar and record windows end to end, against a plain-Python dict loop, same run.

1,000,000 events, 1,000 keys, 1-second tumbling windows on event time (up to 0.3 s out of
order), count per key and window. Every variant counts the same events, and its counts are
checked equal to the loop's. Variants run interleaved, ``--repeat`` times each; the table
shows the best and the median events/s, the best time's ratio to the loop's best, and the
paired ratio (the median over rounds of the loop's time over the variant's, same round).

- ``columnar``: ``env.from_arrow(table).keyby("user").window(...).aggregate("count")
  .collect(format="arrow")`` (local executor). Targets: >= 10x the loop, >= 0.5x the raw
  engine.
- ``record path``: ``env.from_batch(dicts).keyby("user").window(..., timestamp="ts")
  .aggregate("count")`` into a sink. Target: >= 1x the loop.
- ``record path, keyby(lambda)``: the same with a Python key function.
- ``process_batch``, ``raw engine``, ``numpy``, ``pandas``, ``bytewax``: sage_flow's
  operator on dicts, its C++ engine on NumPy arrays, NumPy bincount and pandas groupby
  (batch only, no watermarks), Bytewax 0.21 ``count_window`` (installed with ``[bench]``).

    python benchmarks/bench_columnar.py [--n 1000000] [--repeat 3] [--no-bytewax]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from bench_windows import (
    make_events,
    run_bytewax,
    run_engine,
    run_numpy,
    run_operator,
    run_pandas,
    run_python,
    to_counts,
)

from sage_core import Environment, SinkFunction
from sage_flow import TumblingWindow

LATENESS = 0.5  # out_of_orderness: the events are at most 0.3 s out of order


class Counts(SinkFunction):
    """Window counts into one dict per instance (the record path's output)."""

    def __init__(self) -> None:
        self.counts: dict = {}

    def execute(self, r: Any) -> None:
        self.counts[(r.key, r.start)] = r.value

    def close(self) -> None:
        self.ctx.collect("counts", self.counts)


def columnar(table: pa.Table) -> pa.Table:
    env = Environment("columnar")
    (env.from_arrow(table, batch_size=65_536)
        .keyby("user")
        .window(TumblingWindow(seconds=1), timestamp="ts", out_of_orderness=LATENESS)
        .aggregate("count")
        .collect("counts", format="arrow"))
    return env.submit().collected["counts"]


def table_counts(out: pa.Table) -> dict:
    return dict(zip(zip(out["key"].to_pylist(), out["start"].to_pylist()), out["value"].to_pylist()))


def record_path(events: list[dict], key: Any = "user") -> dict:
    env = Environment("records")
    (env.from_batch(events)
        .keyby(key)
        .window(TumblingWindow(seconds=1), timestamp="ts", out_of_orderness=LATENESS)
        .aggregate("count")
        .sink(Counts))
    merged: dict = {}
    for part in env.submit().collected["counts"]:
        merged.update(part)
    return merged


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-bytewax", action="store_true", help="skip Bytewax (not installed, or slow)")
    args = parser.parse_args()

    keys, ts = make_events(args.n, args.keys)
    events = [{"user": k, "ts": t} for k, t in zip(keys.tolist(), ts.tolist())]
    table = pa.table({"user": keys, "ts": ts})
    # name -> (the timed run, its output as {(key, window start): count}, not timed)
    variants: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
        "plain dict loop": (lambda: run_python(events), dict),
        "columnar (from_arrow)": (lambda: columnar(table), table_counts),
        "record path, keyby('user')": (lambda: record_path(events), dict),
        "record path, keyby(lambda)": (lambda: record_path(events, lambda e: e["user"]), dict),
        "sage_flow process_batch": (lambda: run_operator(events, 65_536, "ts"), lambda out: to_counts("operator", out)),
        "sage_flow raw engine": (lambda: run_engine(keys, ts, 65_536), lambda out: to_counts("engine", out)),
        "numpy bincount (batch only)": (lambda: run_numpy(keys, ts), None),
        "pandas groupby (batch only)": (lambda: run_pandas(keys, ts), None),
    }
    if not args.no_bytewax:
        try:
            import bytewax  # noqa: F401
        except ImportError:
            print("bytewax not installed (pip install 'sage-dataflow[bench]'): skipped")
        else:
            variants["bytewax 0.21 count_window"] = (lambda: run_bytewax(keys, ts), lambda out: to_counts("bytewax", out))

    expected = run_python(events)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeat):
        for name, (fn, counts) in variants.items():
            if name.startswith("bytewax") and times[name]:
                continue  # one Bytewax run (about 10 s) is enough to place it
            took, out = timed(fn)
            times[name].append(took)
            if counts is not None:
                assert counts(out) == expected, f"{name}: window counts differ from the plain-Python loop"
    loop = times["plain dict loop"]
    print(f"events: {args.n:,}, keys: {args.keys}, windows: {len(expected):,}, runs: {args.repeat} interleaved (Bytewax: 1)")
    print("vs loop: best time against best time; paired: the median over rounds of the ratio within a round")
    print(f"{'variant':34} {'best M ev/s':>11} {'median':>8} {'vs loop':>8} {'paired':>8}")
    for name, ts_ in times.items():
        print(f"{name:34} {args.n / min(ts_) / 1e6:11.2f} {args.n / statistics.median(ts_) / 1e6:8.2f} "
              f"{min(loop) / min(ts_):7.2f}x {paired(loop, ts_):7.2f}x")
    col, raw, rec = times["columnar (from_arrow)"], times["sage_flow raw engine"], times["record path, keyby('user')"]
    print(f"columnar vs loop: {min(loop) / min(col):.1f}x best, {paired(loop, col):.1f}x paired (target >= 10x); "
          f"vs raw engine: {min(raw) / min(col):.2f}x best, {paired(raw, col):.2f}x paired (target >= 0.5x)")
    print(f"record path keyby('user') vs loop: {min(loop) / min(rec):.2f}x best, {paired(loop, rec):.2f}x paired (target >= 1x)")


def paired(base: list[float], times: list[float]) -> float:
    """The median over rounds of ``base[i] / times[i]``: the variants of a round run back to
    back, so a burst of load on the shared machine weighs on both sides of the ratio."""
    return statistics.median(b / t for b, t in zip(base, times))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
