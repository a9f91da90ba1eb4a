"""Keyed windows (sage_flow) on every backend: same windows as a brute-force count."""

from __future__ import annotations

import random
from collections import Counter

from sage_core import LocalEnvironment
from sage_flow import CountWindow, SessionWindow, SlidingWindow, TumblingWindow


def events(n=600, users=7, seed=3):
    rng = random.Random(seed)
    return [{"user": f"u{rng.randrange(users)}", "ts": i * 0.1 + rng.uniform(0, 0.05), "x": rng.randint(1, 9)} for i in range(n)]


def as_rows(results):
    return sorted((r.key, r.start, r.end, r.value) for r in results)


def test_tumbling_count_matches_brute_force(backend):
    data = events()
    env = LocalEnvironment("tumbling")
    counted = env.from_batch(data).keyby(lambda e: e["user"]).window(TumblingWindow(seconds=5), timestamp="ts").aggregate("count", parallelism=2)
    counted.collect("out")
    result = env.submit(backend=backend)
    expected = Counter((e["user"], (e["ts"] // 5) * 5.0) for e in data)
    assert as_rows(result.collected["out"]) == sorted((u, s, s + 5.0, c) for (u, s), c in expected.items())
    assert result.dead_letters == []


def test_sliding_sum_and_session_windows(backend):
    data = events(200)
    env = LocalEnvironment("sliding-session")
    keyed = env.from_batch(data).keyby(lambda e: e["user"])
    keyed.window(SlidingWindow(size=4, slide=2), timestamp=lambda e: e["ts"]).aggregate("sum", value="x").collect("sliding")
    keyed.window(SessionWindow(gap=1.0), timestamp="ts").aggregate("count").collect("sessions")
    keyed.window(CountWindow(size=5)).aggregate(lambda xs: max(xs), value="x").collect("counted")
    result = env.submit(backend=backend)
    expected = Counter()
    for e in data:
        start = (e["ts"] // 2) * 2.0
        for s in (start - 2.0, start):
            expected[(e["user"], s)] += e["x"]
    assert as_rows(result.collected["sliding"]) == sorted((u, s, s + 4.0, float(v)) for (u, s), v in expected.items())
    sessions = result.collected["sessions"]
    assert sum(r.value for r in sessions) == len(data)
    by_user = {}
    for r in sorted(sessions, key=lambda r: r.start):
        prev = by_user.get(r.key)
        assert prev is None or r.start > prev  # a session ends gap after its last record; the next starts later
        by_user[r.key] = r.end
    per_user = Counter(e["user"] for e in data)
    assert sum(r.count for r in result.collected["counted"]) == sum(per_user.values())


def test_late_records_go_to_dead_letters(backend):
    data = [{"user": "a", "ts": t} for t in (1.0, 2.0, 12.0, 3.0, 25.0)]  # ts=3 arrives after the 0-10 window closed
    env = LocalEnvironment("late")
    env.from_batch(data).keyby(lambda e: e["user"]).window(TumblingWindow(10), timestamp="ts").aggregate("count", name="win").collect("out")
    result = env.submit(backend=backend)
    assert as_rows(result.collected["out"]) == [("a", 0.0, 10.0, 2), ("a", 10.0, 20.0, 1), ("a", 20.0, 30.0, 1)]
    [late] = result.dead_letters
    assert late.operator == "win" and late.record == {"user": "a", "ts": 3.0} and "late record" in late.error


def test_late_records_go_to_the_side_output_when_it_is_read(backend):
    data = [{"user": u, "ts": t} for t in (1.0, 2.0, 12.0, 3.0, 25.0, 4.0) for u in ("a", "b")]
    env = LocalEnvironment("late-side")
    counts = env.from_batch(data).keyby(lambda e: e["user"]).window(TumblingWindow(10), timestamp="ts").aggregate("count", parallelism=2)
    counts.collect("counts")
    late = counts.side_output("late")
    late.keyby(lambda e: e["user"]).map(lambda e: (e["user"], e["ts"]), parallelism=2).collect("late")
    result = env.submit(backend=backend)
    assert sorted(result.collected["late"]) == [("a", 3.0), ("a", 4.0), ("b", 3.0), ("b", 4.0)]
    assert sum(r.value for r in result.collected["counts"]) == len(data) - 4
    assert result.dead_letters == []
