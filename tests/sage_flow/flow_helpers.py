"""Shared stream generators and runners for the sage_flow tests (not a conftest, so its
name cannot clash with other test folders' conftest modules)."""

from __future__ import annotations

import random

from sage_flow import WindowAggregate, WindowResult


def make_stream(seed: int, n: int = 300, nkeys: int = 4, vector_dim: int = 0) -> list[dict]:
    """Mostly increasing event times on a 0.25 s grid with jitter and some very late records."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = i * 0.25 + rng.choice([0.0, 0.25, 0.5]) - rng.choice([0, 0, 0, 0.25, 0.5, 1.0, 2.0])
        if rng.random() < 0.06:
            ts -= rng.choice([3, 5, 8, 13])
        rec = {"key": f"k{rng.randrange(nkeys)}", "ts": ts, "x": rng.randint(-5, 20)}
        if vector_dim:
            rec["vec"] = [rng.randint(-3, 3) / 2 for _ in range(vector_dim)]
        out.append(rec)
    return out


def random_batches(records: list, seed: int) -> list[list]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(records):
        n = rng.choice([1, 2, 5, 17, 64])
        out.append(records[i : i + n])
        i += n
    return out


def run(op: WindowAggregate, batches: list[list], flush: bool = True) -> tuple[list, list]:
    """Feeds batches; returns (all results incl. flush, all late records)."""
    results: list[WindowResult] = []
    late: list = []
    for batch in batches:
        out = op.process_batch([r["key"] for r in batch], batch)
        assert out.errors == []
        results += out.results
        late += out.late
    if flush:
        results += op.flush()
    return results, late


def as_tuples(results: list[WindowResult]) -> list[tuple]:
    return [(r.key, r.start, r.end, r.value, r.count) for r in results]


def run_reference(ref, records, value_of) -> tuple[list, list]:
    out, late = [], []
    for r in records:
        fired, is_late = ref.process(r["key"], r["ts"], value_of(r))
        out += fired
        if is_late:
            late.append(r)
    out += ref.flush()
    return out, late
