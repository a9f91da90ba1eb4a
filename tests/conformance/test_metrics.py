"""Retries, dead letters, the count check and operator metrics, on every backend."""

from __future__ import annotations

import random
import time

from prometheus_client.parser import text_string_to_metric_families

from sage_core import (
    ExponentialBackoffRestart,
    FixedDelayRestart,
    LocalEnvironment,
    OperatorMetrics,
)
from tests import pipelines as p

N = 400
_rng = random.Random(20261129)
TRANSIENT = frozenset(_rng.sample(range(N), 25))
POISON = frozenset(_rng.sample(sorted(set(range(N)) - TRANSIENT), 6))


def test_random_failures_are_retried_and_poison_records_dead_lettered(backend):
    env = LocalEnvironment("random-faults")
    (
        env.from_batch(range(N), name="src")
        .map(p.Flaky, TRANSIENT, POISON, name="flaky", parallelism=2)
        .retry(FixedDelayRestart(attempts=2, delay=0.0))
        .filter(p.not_multiple_of_three, name="drop3", parallelism=2)
        .collect("out")
    )
    result = env.submit(backend=backend)

    survivors = [x for x in range(N) if x not in POISON]
    assert sorted(result.collected["out"]) == [x for x in survivors if x % 3]
    assert sorted(d.record for d in result.dead_letters) == sorted(POISON)
    assert {(d.operator, d.attempts) for d in result.dead_letters} == {("flaky", 3)}
    assert all(d.error.startswith("ValueError: poison record") for d in result.dead_letters)

    flaky, drop3 = result.metrics["flaky"], result.metrics["drop3"]
    assert (flaky.records_in, flaky.records_out) == (N, len(survivors))
    assert flaky.retries == len(TRANSIENT) + 2 * len(POISON)
    assert flaky.errors == flaky.dead_letters == len(POISON)
    assert drop3.filtered == sum(1 for x in survivors if x % 3 == 0)
    # the count check: every record that entered is out, filtered or dead-lettered
    assert result.count_check() == {}
    assert N == len(result.collected["out"]) + drop3.filtered + len(result.dead_letters)
    assert "unaccounted" not in result.details


def test_without_retries_transient_failures_are_dead_letters(backend):
    env = LocalEnvironment("no-retry")
    env.from_batch(range(50)).map(p.Flaky, frozenset({3, 7}), frozenset(), name="flaky").collect("out")
    result = env.submit(backend=backend)
    assert sorted(d.record for d in result.dead_letters) == [3, 7]
    assert result.metrics["flaky"].retries == 0 and result.count_check() == {}


def test_backoff_retry_recovers_every_transient_failure(backend):
    env = LocalEnvironment("backoff")
    transient = frozenset(range(0, 60, 5))
    (
        env.from_batch(range(60))
        .map(p.Flaky, transient, frozenset(), name="flaky")
        .retry(ExponentialBackoffRestart(attempts=3, initial_delay=0.001, max_delay=0.01))
        .collect("out")
    )
    result = env.submit(backend=backend)
    assert sorted(result.collected["out"]) == list(range(60)) and not result.dead_letters
    assert result.metrics["flaky"].retries == len(transient)


def test_metrics_count_latency_and_export_to_prometheus(backend):
    env = LocalEnvironment("metrics")
    (
        env.from_batch(range(300), name="src")
        .map(p.slow_identity, name="slow", parallelism=2)
        .filter(p.is_even, name="even", parallelism=2)
        .sink(p.SlowSink, 0.0, name="sink", parallelism=2)
    )
    result = env.submit(backend=backend)
    m = result.metrics
    assert m["src"].records_out == 300
    assert (m["slow"].records_in, m["slow"].records_out) == (300, 300)
    assert (m["even"].records_out, m["even"].filtered) == (150, 150)
    assert m["sink"].records_in == 150 and m["sink"].custom == {"consumed": 150}
    # one latency observation per record; the slow map sleeps 2 ms per record
    assert m["slow"].latency.count == 300
    assert 0.002 <= m["slow"].latency.quantile(0.5) < 1.0
    assert m["even"].latency.quantile(0.5) < m["slow"].latency.quantile(0.5)

    families = {f.name: f for f in text_string_to_metric_families(result.prometheus())}
    records_in = {s.labels["operator"]: s.value for s in families["sage_operator_records_in"].samples if s.name.endswith("_total")}
    assert records_in == {name: float(x.records_in) for name, x in m.items()}
    assert {s.labels["job"] for s in families["sage_operator_records_in"].samples} == {"metrics"}
    counts = {s.labels["operator"]: s.value for s in families["sage_operator_latency_seconds"].samples if s.name.endswith("_count")}
    assert counts["slow"] == 300.0 and counts["even"] == 300.0
    custom = [s for s in families["sage_operator_custom"].samples if s.name.endswith("_total")]
    assert [(s.labels["operator"], s.labels["name"], s.value) for s in custom] == [("sink", "consumed", 150.0)]


def test_queue_depth_and_backpressure_are_reported(backend):
    env = LocalEnvironment("backpressure", config={"max_pending_bundles": 1, "max_bundle": 16})
    env.from_batch(range(400), name="src").map(p.slow_identity, name="slow", parallelism=2).collect("out")
    handle = env.submit(autostop=False, backend=backend)
    deepest = 0
    while not handle.done():
        deepest = max(deepest, handle.metrics().get("slow", OperatorMetrics("slow")).queue_depth)
        time.sleep(0.005)  # poll as a dashboard would, leaving the driver and client threads room
    result = handle.wait()
    assert sorted(result.collected["out"]) == list(range(400))
    assert deepest > 0  # records waited in front of the slow operator
    assert result.metrics["src"].backpressure_seconds > 0  # the source was held back by the full queue
    assert result.metrics["slow"].queue_depth == 0  # drained at the end


def test_functions_can_dead_letter_without_raising(backend):
    env = LocalEnvironment("explicit-dead")
    env.from_batch(range(20)).sink(p.RejectOdd, name="reject", parallelism=2)
    result = env.submit(backend=backend)
    assert sorted(result.collected["taken"]) == list(range(0, 20, 2))
    assert sorted(d.record for d in result.dead_letters) == list(range(1, 20, 2))
    assert {d.error for d in result.dead_letters} >= {"ValueError: odd record 1"}
    assert result.metrics["reject"].dead_letters == 10 and result.count_check() == {}
