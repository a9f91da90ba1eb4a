"""map_batches: one execute_batch call per bundle, failures per record as dead letters, retries."""

from __future__ import annotations

import pytest

from sage_core import (
    BatchMapFunction,
    FixedDelayRestart,
    LocalEnvironment,
    OperatorError,
    PipelineValidationError,
)

CALLS: list[int] = []


class Invert(BatchMapFunction):
    """1/x for the whole bundle; a zero makes the vectorised call fail."""

    def execute_batch(self, records):
        CALLS.append(len(records))
        return [1 / r for r in records]


class MarkOdd(BatchMapFunction):
    """Returns an exception instance for odd records (per-record failure without raising)."""

    def execute_batch(self, records):
        return [ValueError(f"odd {r}") if r % 2 else r for r in records]


def test_one_call_per_bundle_keeps_order_and_count():
    CALLS.clear()
    env = LocalEnvironment("bm", config={"initial_bundle": 64, "bundle_target_ms": 1000})
    env.from_batch(range(1, 201)).map_batches(Invert, max_batch=50).collect("out")
    out = env.submit().collected["out"]
    assert sorted(out) == sorted(1 / r for r in range(1, 201))
    assert sum(CALLS) == 200 and max(CALLS) == 50 and len(CALLS) < 20  # batched, capped at max_batch


def test_failing_records_become_dead_letters_rest_goes_on():
    env = LocalEnvironment("bm_fail", config={"initial_bundle": 16})
    env.from_batch([1, 0, 2, 0, 4]).map_batches(Invert, name="invert").collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [0.25, 0.5, 1.0]
    assert [(d.operator, d.record) for d in result.dead_letters] == [("invert", 0), ("invert", 0)]
    assert "ZeroDivisionError" in result.dead_letters[0].error


def test_exception_outputs_are_dead_letters_and_strict_fails():
    env = LocalEnvironment("bm_odd")
    env.from_batch(range(6)).map_batches(MarkOdd).collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [0, 2, 4]
    assert sorted(d.record for d in result.dead_letters) == [1, 3, 5]
    strict = LocalEnvironment("bm_strict", strict=True)
    strict.from_batch([2, 3]).map_batches(MarkOdd).collect("out")
    with pytest.raises(OperatorError, match="odd 3"):
        strict.submit()


def test_keyed_input_keeps_keys_and_plain_map_works():
    env = LocalEnvironment("bm_keyed")
    keyed = env.from_batch([("a", 1), ("b", 2), ("a", 4)]).keyby(lambda r: r[0])
    keyed.map(lambda r: r[1]).map_batches(MarkOdd).collect("out")
    plain = env.from_batch([2, 4]).map(Invert)
    plain.collect("plain")
    result = env.submit()
    assert sorted(result.collected["out"]) == [2, 4] and sorted(result.collected["plain"]) == [0.25, 0.5]


def test_map_batches_rejects_plain_functions():
    env = LocalEnvironment("bm_bad")
    with pytest.raises(PipelineValidationError, match="BatchMapFunction"):
        env.from_batch([1]).map_batches(lambda x: x)


class FlakyBatch(BatchMapFunction):
    """The whole call fails on a bundle holding a 0; record by record, 0 fails on its first try."""

    def __init__(self):
        self.tried: set = set()

    def execute_batch(self, records):
        if 0 in records and 0 not in self.tried:
            self.tried.add(0)
            raise ConnectionError("bundle failed")
        return [ValueError(f"poison {r}") if r == 7 else r * 2 for r in records]


def test_retry_strategy_applies_to_batched_records():
    env = LocalEnvironment("bm_retry")
    env.from_batch(range(10)).map_batches(FlakyBatch, name="flaky").retry(FixedDelayRestart(attempts=2, delay=0)).collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [2 * r for r in range(10) if r != 7]
    [dead] = result.dead_letters
    assert (dead.record, dead.attempts, dead.error) == (7, 3, "ValueError: poison 7")
    assert result.count_check() == {}
