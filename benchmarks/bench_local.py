"""Local executor throughput against a hand-written loop doing the same work, same run.

Pipeline: map(x*2) -> filter(x%3==0) -> map(x+1) -> counting sink over N integers.
Prints records/s for both and the ratio (executor time / loop time; target <= 3).

    python benchmarks/bench_local.py [--n 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

from sage_core import LocalEnvironment, SinkFunction


class CountingSink(SinkFunction):
    def __init__(self):
        self.count = 0

    def execute(self, data):
        self.count += 1

    def close(self):
        self.ctx.collect("count", self.count)


def hand_loop(n: int) -> int:
    count = 0
    for x in range(n):
        y = x * 2
        if y % 3 == 0:
            _ = y + 1
            count += 1
    return count


def sage_pipeline(n: int) -> int:
    env = LocalEnvironment("bench")
    (env.from_batch(range(n))
        .map(lambda x: x * 2)
        .filter(lambda x: x % 3 == 0)
        .map(lambda x: x + 1)
        .sink(CountingSink))
    return sum(env.submit().collected["count"])


def best_of(fn, n: int, repeat: int) -> tuple[float, int]:
    times, out = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(n)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    loop_s, loop_count = best_of(hand_loop, args.n, args.repeat)
    sage_s, sage_count = best_of(sage_pipeline, args.n, args.repeat)
    assert loop_count == sage_count, (loop_count, sage_count)
    print(f"records: {args.n:,} (best of {args.repeat})")
    print(f"hand-written loop : {args.n / loop_s / 1e6:6.2f} M records/s ({loop_s:.3f} s)")
    print(f"SAGE local        : {args.n / sage_s / 1e6:6.2f} M records/s ({sage_s:.3f} s)")
    print(f"ratio (SAGE time / loop time): {sage_s / loop_s:.2f}x  (target <= 3x)")


if __name__ == "__main__":
    main()
