"""batch_map: one execute_batch call per bundle, failures per record as dead letters."""

from __future__ import annotations

import pytest

from sage_core import LocalEnvironment, OperatorError
from sage_recipes.batching import BatchMapFunction, batch_map

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
    batch_map(env.from_batch(range(1, 201)), Invert, max_batch=50).collect("out")
    out = env.submit().collected["out"]
    assert sorted(out) == sorted(1 / r for r in range(1, 201))
    assert sum(CALLS) == 200 and max(CALLS) == 50 and len(CALLS) < 20  # batched, capped at max_batch


def test_failing_records_become_dead_letters_rest_goes_on():
    env = LocalEnvironment("bm_fail", config={"initial_bundle": 16})
    batch_map(env.from_batch([1, 0, 2, 0, 4]), Invert, name="invert").collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [0.25, 0.5, 1.0]
    assert [(d.operator, d.record) for d in result.dead_letters] == [("invert", 0), ("invert", 0)]
    assert "ZeroDivisionError" in result.dead_letters[0].error


def test_exception_outputs_are_dead_letters_and_strict_fails():
    env = LocalEnvironment("bm_odd")
    batch_map(env.from_batch(range(6)), MarkOdd).collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [0, 2, 4]
    assert sorted(d.record for d in result.dead_letters) == [1, 3, 5]
    strict = LocalEnvironment("bm_strict", strict=True)
    batch_map(strict.from_batch([2, 3]), MarkOdd).collect("out")
    with pytest.raises(OperatorError, match="odd 3"):
        strict.submit()


def test_keyed_input_keeps_keys_and_plain_map_works():
    env = LocalEnvironment("bm_keyed")
    keyed = env.from_batch([("a", 1), ("b", 2), ("a", 4)]).keyby(lambda r: r[0])
    batch_map(keyed.map(lambda r: r[1]), MarkOdd).collect("out")
    plain = env.from_batch([2, 4]).map(Invert)
    plain.collect("plain")
    result = env.submit()
    assert sorted(result.collected["out"]) == [2, 4] and sorted(result.collected["plain"]) == [0.25, 0.5]


def test_batch_map_rejects_plain_functions():
    env = LocalEnvironment("bm_bad")
    with pytest.raises(TypeError, match="BatchMapFunction"):
        batch_map(env.from_batch([1]), lambda x: x)
