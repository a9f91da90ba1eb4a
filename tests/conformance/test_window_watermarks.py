"""Watermarks of parallel window instances (docs/windows.md, "Watermarks with parallelism > 1").

Each instance keeps its own watermark over the keys it owns. It sees a subsequence of the
stream, so its watermark never runs ahead of the one a single instance would have: records
late at parallelism 2 are a subset of those late at parallelism 1, and with
``out_of_orderness`` covering the stream's disorder no record is late at any parallelism.
"""

from __future__ import annotations

import random
from collections import Counter

from sage_core import LocalEnvironment
from sage_flow import TumblingWindow

DISORDER = 3.0  # an event arrives at most this many seconds after later-stamped ones


def events(n=900, users=12, seed=5):
    rng = random.Random(seed)
    return [{"user": f"u{rng.randrange(users)}", "ts": round(i * 0.1 + rng.uniform(0, DISORDER), 3)} for i in range(n)]


def run(backend, data, *, parallelism, out_of_orderness):
    env = LocalEnvironment(f"watermarks-p{parallelism}")
    counts = (
        env.from_batch(data)
        .keyby(lambda e: e["user"])
        .window(TumblingWindow(5), timestamp="ts", out_of_orderness=out_of_orderness)
        .aggregate("count", parallelism=parallelism)
    )
    counts.collect("counts")
    counts.side_output("late").map(lambda e: (e["user"], e["ts"])).collect("late")
    result = env.submit(backend=backend)
    final = {}
    for r in result.collected["counts"]:  # a re-fire replaces the earlier result
        final[(r.key, r.start)] = r.value
    late = Counter(result.collected.get("late", []))
    assert sum(final.values()) + sum(late.values()) == len(data)
    return final, late


def test_parallel_instances_see_no_more_late_records_than_one(backend):
    data = events()
    _, late_one = run(backend, data, parallelism=1, out_of_orderness=1.0)
    _, late_two = run(backend, data, parallelism=2, out_of_orderness=1.0)
    assert late_one, "the data must have records late for a single watermark"
    assert late_two <= late_one


def test_out_of_orderness_covering_the_disorder_makes_lateness_deterministic(backend):
    data = events()
    expected = Counter((e["user"], (e["ts"] // 5) * 5.0) for e in data)
    for parallelism in (1, 2):
        counts, late = run(backend, data, parallelism=parallelism, out_of_orderness=DISORDER)
        assert late == Counter()
        assert counts == dict(expected)
