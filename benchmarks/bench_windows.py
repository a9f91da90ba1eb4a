"""Benchmark: keyed 1-second tumbling event-time windows, count per key and window.

Workload (issue 5): 1,000,000 events, 1,000 keys, timestamps mostly increasing with up to
0.3 s of disorder (out_of_orderness 0.5 s, so no record is late and every implementation
must produce the same counts). In one run it measures:

- sage_flow ``WindowAggregate.process_batch`` on batches of Python records (end to end:
  key and timestamp extraction, engine, WindowResult objects),
- the raw engine ``sage_flow._core.Engine.process`` on NumPy arrays,
- a plain-Python dict loop (the baseline every ratio refers to),
- NumPy ``bincount`` and a pandas group-by (batch only: no watermarks, no incremental output),
- Bytewax 0.21 ``count_window`` with an ``EventClock`` (if bytewax is installed).

It asserts that all produce identical counts and prints events/s and the ratio to the
plain-Python loop. ``--quick`` runs a small smoke version.

    python benchmarks/bench_windows.py            # full run
    python benchmarks/bench_windows.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from sage_flow import TumblingWindow, WindowAggregate, _core

Counts = dict[tuple[int, float], int]


def make_events(n: int, n_keys: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, n_keys, n, dtype=np.int64)
    ts = np.arange(n, dtype=np.float64) / 10_000.0 + rng.uniform(0.0, 0.3, n)
    # whole microseconds, so Bytewax's datetimes fall into the same windows
    return keys, np.round(ts, 6)


# Each run_* returns its implementation's own output (timed); to_counts turns it into the
# common {(key, window start): count} form (not timed) for the equality check.


def run_operator(records: list[dict], batch: int, timestamp: Any) -> list:
    op = WindowAggregate(TumblingWindow(1.0), "count", timestamp=timestamp, out_of_orderness=0.5)
    results = []
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        out = op.process_batch([e["user"] for e in chunk], chunk)
        if out.late or out.errors:
            raise AssertionError("no record may be late or bad in this workload")
        results += out.results
    results += op.flush()
    return results


def run_engine(keys: np.ndarray, ts: np.ndarray, batch: int) -> list[dict]:
    eng = _core.Engine("tumbling", "count", size=1.0, out_of_orderness=0.5)
    parts = []
    for i in range(0, len(keys), batch):
        fired, late = eng.process(keys[i : i + batch], ts[i : i + batch])
        if len(late):
            raise AssertionError("no record may be late in this workload")
        parts.append(fired)
    parts.append(eng.flush())
    return parts


def run_python(records: list[dict]) -> dict:
    counts: defaultdict[tuple[int, float], int] = defaultdict(int)
    floor = math.floor
    for e in records:
        counts[(e["user"], float(floor(e["ts"])))] += 1
    return counts


def run_numpy(keys: np.ndarray, ts: np.ndarray) -> tuple:
    win = np.floor(ts).astype(np.int64)
    w0 = win.min()
    n_win = int(win.max() - w0) + 1
    flat = np.bincount(keys * n_win + (win - w0))
    return flat, n_win, w0


def run_pandas(keys: np.ndarray, ts: np.ndarray) -> Any:
    import pandas as pd

    df = pd.DataFrame({"user": keys, "start": np.floor(ts)})
    return df.groupby(["user", "start"], sort=False).size()


def run_bytewax(keys: np.ndarray, ts: np.ndarray) -> list:
    from datetime import datetime, timedelta, timezone

    import bytewax.operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.operators.windowing import EventClock, TumblingWindower, count_window
    from bytewax.testing import TestingSink, TestingSource, run_main

    epoch = datetime(2026, 1, 1, tzinfo=timezone.utc)
    items = [
        (str(k), epoch + timedelta(seconds=t))
        for k, t in zip(keys.tolist(), ts.tolist(), strict=False)
    ]
    out: list = []
    late: list = []
    flow = Dataflow("bench_windows")
    up = op.input("in", flow, TestingSource(items, batch_size=10_000))
    # a frozen system clock: the watermark follows event time only, like the others
    clock = EventClock(
        lambda x: x[1], wait_for_system_duration=timedelta(seconds=0.5), now_getter=lambda: epoch
    )
    windower = TumblingWindower(length=timedelta(seconds=1), align_to=epoch)
    wo = count_window("count", up, clock, windower, key=lambda x: x[0])
    op.output("out", wo.down, TestingSink(out))
    op.output("late", wo.late, TestingSink(late))
    cpu = time.process_time()
    started = time.perf_counter()
    run_main(flow)
    run_bytewax.elapsed = time.perf_counter() - started  # type: ignore[attr-defined]
    run_bytewax.cpu = time.process_time() - cpu  # type: ignore[attr-defined]
    if late:
        raise AssertionError(f"bytewax saw {len(late)} late records")
    return out


def to_counts(name: str, out: Any) -> Counts:
    if name == "python":
        return dict(out)
    if name == "operator":
        return {(r.key, r.start): r.value for r in out}
    if name == "engine":
        k = np.concatenate([p["key"] for p in out])
        s = np.concatenate([p["start"] for p in out])
        c = np.concatenate([p["count"] for p in out])
        return dict(zip(zip(k.tolist(), s.tolist(), strict=False), c.tolist(), strict=False))
    if name == "numpy":
        flat, n_win, w0 = out
        idx = np.flatnonzero(flat)
        k, w = np.divmod(idx, n_win)
        return dict(
            zip(
                zip(k.tolist(), (w + w0).astype(np.float64).tolist(), strict=False),
                flat[idx].tolist(),
                strict=False,
            )
        )
    if name == "pandas":
        return dict(
            zip(
                zip(
                    out.index.get_level_values(0).tolist(),
                    out.index.get_level_values(1).tolist(),
                    strict=False,
                ),
                out.tolist(),
                strict=False,
            )
        )
    if name == "bytewax":
        return {(int(k), float(wid)): c for k, (wid, c) in out}
    raise ValueError(name)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall-clock and best process CPU seconds over ``repeat`` runs, and the output.

    CPU time is printed too because the machine may be shared: it is less disturbed by
    other processes than wall time.
    """
    best, best_cpu, result = math.inf, math.inf, None
    for _ in range(repeat):
        cpu = time.process_time()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best, best_cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (20,000 events)")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=10_000, help="records per process_batch call")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (Bytewax runs once)")
    parser.add_argument("--no-bytewax", action="store_true")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.events
    repeat = 1 if args.quick else args.repeat
    keys, ts = make_events(n, args.keys)
    records = [{"user": k, "ts": t} for k, t in zip(keys.tolist(), ts.tolist(), strict=False)]

    runs: list[tuple[str, str, Callable[[], Any], int]] = [
        ("python", "plain Python dict loop", lambda: run_python(records), repeat),
        (
            "operator",
            "sage_flow process_batch, timestamp=lambda",
            lambda: run_operator(records, args.batch, lambda e: e["ts"]),
            repeat,
        ),
        (
            "operator",
            "sage_flow process_batch, timestamp='ts'",
            lambda: run_operator(records, args.batch, "ts"),
            repeat,
        ),
        (
            "engine",
            "sage_flow raw engine on NumPy arrays",
            lambda: run_engine(keys, ts, args.batch),
            repeat,
        ),
        ("numpy", "NumPy bincount (batch only)", lambda: run_numpy(keys, ts), repeat),
    ]
    try:
        import pandas  # noqa: F401

        runs.append(
            ("pandas", "pandas group-by (batch only)", lambda: run_pandas(keys, ts), repeat)
        )
    except ImportError:
        print("pandas not installed: skipped")
    if not args.no_bytewax:
        try:
            import bytewax  # noqa: F401

            runs.append(("bytewax", "Bytewax 0.21 count_window", lambda: run_bytewax(keys, ts), 1))
        except ImportError:
            print("bytewax not installed: skipped (pip install bytewax==0.21.1)")

    print(
        f"{n:,} events, {args.keys:,} keys, 1 s tumbling event-time windows, count; "
        f"batch {args.batch:,}; best of {repeat}; {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    reference: Counts | None = None
    rows: list[tuple[str, float, float]] = []
    for kind, name, fn, rep in runs:
        seconds, cpu, out = timed(fn, rep)
        if kind == "bytewax":
            # the dataflow run only, not building its datetime items
            seconds = run_bytewax.elapsed  # type: ignore[attr-defined]
            cpu = run_bytewax.cpu  # type: ignore[attr-defined]
        counts = to_counts(kind, out)
        if reference is None:
            reference = counts
            assert sum(counts.values()) == n
        else:
            assert counts == reference, f"{name} produced different counts"
        rows.append((name, seconds, cpu))
    base, base_cpu = rows[0][1], rows[0][2]
    print(
        f"{'implementation':44} {'wall s':>8} {'events/s':>13} {'vs Python':>10}"
        f" {'CPU s':>8} {'CPU vs Python':>14}"
    )
    for name, seconds, cpu in rows:
        print(
            f"{name:44} {seconds:8.3f} {n / seconds:13,.0f} {base / seconds:9.2f}x"
            f" {cpu:8.3f} {base_cpu / cpu:13.2f}x"
        )
    print(
        f"all {len(rows)} implementations produced identical counts "
        f"for {len(reference or {}):,} (key, window) pairs"
    )


if __name__ == "__main__":
    main()
