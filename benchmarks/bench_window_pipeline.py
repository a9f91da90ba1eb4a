"""Windows end to end through the local executor, against a plain-Python dict loop, same run.

1,000,000 events, 1,000 keys, 1-second tumbling windows on event time, count per key and
window: ``from_batch -> keyby -> window -> aggregate("count") -> sink``. Both must produce
the same counts. Target: >= 1,000,000 events/s end to end. A third run checkpoints every
0.05 s (window state and source position to a local directory) and prints its cost.

    python benchmarks/bench_window_pipeline.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

from sage_core import LocalEnvironment, SinkFunction
from sage_flow import TumblingWindow


class CountSink(SinkFunction):
    def __init__(self):
        self.total = {}

    def execute(self, r):
        self.total[(r.key, r.start)] = r.value

    def close(self):
        self.ctx.collect("counts", self.total)


def make_events(n: int, keys: int) -> list[dict]:
    """The workload of bench_windows.py: 10,000 events/s, up to 0.3 s out of order."""
    rng = random.Random(7)
    return [{"user": rng.randrange(keys), "ts": round(i / 10_000.0 + rng.uniform(0.0, 0.3), 6)} for i in range(n)]


def python_loop(events: list[dict]) -> dict:
    counts: dict = {}
    for e in events:
        k = (e["user"], float(e["ts"] // 1.0))
        counts[k] = counts.get(k, 0) + 1
    return counts


def sage(events: list[dict], checkpoints: str | None = None, interval: float = 0.05) -> tuple[dict, int]:
    env = LocalEnvironment("windows", config={"bundle_target_ms": 50})
    if checkpoints is not None:
        env.enable_checkpointing(checkpoints, interval=interval)
    (env.from_batch(events)
        .keyby(lambda e: e["user"])
        .window(TumblingWindow(seconds=1), timestamp="ts", out_of_orderness=0.3)
        .aggregate("count")
        .sink(CountSink))
    result = env.submit()
    merged: dict = {}
    for part in result.collected["counts"]:
        merged.update(part)
    return merged, result.details.get("checkpoints", {}).get("saved", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--checkpoint-interval", type=float, default=0.05)
    args = parser.parse_args()
    events = make_events(args.n, args.keys)
    t0 = time.perf_counter()
    expected = python_loop(events)
    loop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    got, _ = sage(events)
    sage_s = time.perf_counter() - t0
    assert got == expected, "window counts differ from the plain-Python loop"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        got, saved = sage(events, tmp, args.checkpoint_interval)
        ckpt_s = time.perf_counter() - t0
    assert got == expected, "window counts with checkpoints differ"
    print(f"events: {args.n:,}, keys: {args.keys}, windows: {len(expected):,}")
    print(f"plain-Python dict loop      : {args.n / loop_s / 1e6:5.2f} M events/s ({loop_s:.2f} s)")
    print(f"SAGE local, keyby+window    : {args.n / sage_s / 1e6:5.2f} M events/s ({sage_s:.2f} s)  target >= 1.0 M/s")
    print(f"ratio (loop time / SAGE time): {loop_s / sage_s:.2f}x")
    print(
        f"SAGE with checkpoints every {args.checkpoint_interval} s: {args.n / ckpt_s / 1e6:5.2f} M events/s "
        f"({saved} checkpoints; {ckpt_s / sage_s:.2f}x the time without)"
    )


if __name__ == "__main__":
    main()
