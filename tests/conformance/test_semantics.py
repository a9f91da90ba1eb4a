"""The semantics of ARCHITECTURE.md, on every backend."""

from __future__ import annotations

import time

import pytest

from sage_core import LocalEnvironment, OperatorError
from sage_core.api.testing import assert_that, equal_to, wait_for
from tests import pipelines as p


def test_bounded_source_drains_then_closes_sinks(backend):
    env = LocalEnvironment("drain")
    env.from_batch(range(500)).map(p.times_two, parallelism=2).sink(p.FlushOnClose, parallelism=2)
    result = env.submit(backend=backend)
    flushed = sorted(x for part in result.collected["flushed"] for x in part)
    assert flushed == [2 * i for i in range(500)]
    assert len(result.collected["flushed"]) == 2  # each sink instance closed exactly once


def test_order_within_a_key_is_kept(backend):
    env = LocalEnvironment("order")
    data = [(k, i) for i in range(300) for k in "abcde"]
    env.from_batch(data).keyby(lambda r: r[0]).map(lambda r: r, parallelism=3).collect("out")
    result = env.submit(backend=backend)
    per_key = {}
    for key, i in result.collected["out"]:
        per_key.setdefault(key, []).append(i)
    assert per_key == {k: list(range(300)) for k in "abcde"}


def test_multi_input_operator_ends_after_all_inputs(backend):
    env = LocalEnvironment("multi-end")
    short = env.from_batch([1])
    long = env.from_source(p.TickSource, 40)
    merged = short.connect(long).comap(p.times_two, p.times_two)
    merged.sink(p.FlushOnClose)
    result = env.submit(backend=backend)
    assert result.collected["flushed"] == [sorted([2] + [2 * i for i in range(1, 41)])]


def test_failing_record_goes_to_dead_letters(backend):
    env = LocalEnvironment("dead-letter")
    assert_that(env.from_batch([1, 2, 3, 4]).map(p.FailOn, 3, name="fragile"), equal_to([1, 2, 4]))
    result = env.submit(backend=backend)
    [dead] = result.dead_letters
    assert (dead.operator, dead.record) == ("fragile", 3)
    assert "ValueError: bad record 3" in dead.error and "FailOn" in dead.function
    assert "raise ValueError" in dead.traceback
    assert result.metrics["fragile"].errors == 1


def test_dead_letters_from_every_operator_kind(backend):
    env = LocalEnvironment("dead-kinds")
    src = env.from_batch([0, 1, 2])
    src.filter(lambda x: 1 / x > 0, name="f").collect("f")
    src.flatmap(lambda x: [1 / x], name="fm").collect("fm")
    src.keyby(lambda x: 1 / x, name="k").map(lambda x: x, name="after_k").collect("k")
    src.sink(lambda x: 1 / x, name="s")
    result = env.submit(backend=backend)
    assert sorted(d.operator for d in result.dead_letters) == ["f", "fm", "k", "s"]
    assert all(d.record == 0 for d in result.dead_letters)
    assert sorted(result.collected["k"]) == [1, 2]


def test_strict_mode_fails_the_job_with_operator_and_traceback(backend):
    env = LocalEnvironment("strict", strict=True)
    env.from_batch([1, 2, 3]).map(p.FailOn, 2, name="fragile").sink(print)
    with pytest.raises(OperatorError) as info:
        env.submit(backend=backend)
    err = info.value
    assert err.operator == "fragile" and err.record == 2
    assert "ValueError: bad record 2" in str(err) and "raise ValueError" in err.traceback


def test_services_sync_and_async(backend):
    env = LocalEnvironment("services")
    env.register_service("calc", p.Calculator, offset=1)
    assert_that(env.from_batch([1, 2, 3]).map(p.AskService, parallelism=2), equal_to([2, 5, 10]))
    assert_that(env.from_batch([4]).map(p.AskServiceAsync), equal_to([17]))
    env.submit(backend=backend)


def test_service_timeout_is_a_dead_letter(backend):
    env = LocalEnvironment("service-timeout")
    env.register_service("calc", p.Calculator)
    env.from_batch([1]).map(p.AskSlowService, name="ask").sink(print)
    result = env.submit(backend=backend)
    [dead] = result.dead_letters
    assert dead.operator == "ask" and "ServiceTimeoutError" in dead.error


def test_unbounded_source_keeps_work_in_flight_bounded(backend):
    env = LocalEnvironment("backpressure", config={"max_bundle": 64, "max_pending_bundles": 2})
    env.from_source(p.InfiniteSource, name="src").sink(p.SlowSink, 0.002, name="slow")
    handle = env.submit(autostop=False, backend=backend)
    # running (a cluster may take seconds to start its workers), then a while at full speed
    wait_for(lambda: handle.metrics().get("slow") and handle.metrics()["slow"].records_in > 0, timeout=120, what="the sink's first records")
    time.sleep(2.0)
    metrics = handle.metrics()
    handle.cancel()
    result = handle.wait(timeout=60)
    assert result.cancelled
    produced = result.metrics["src"].custom["produced"]
    consumed = result.metrics["slow"].custom["consumed"]
    assert consumed > 0 and metrics["slow"].records_in > 0
    # ahead of the sink: at most the queued bundles plus those being processed
    assert produced - consumed <= (2 + 2) * 64


def test_keyed_records_reach_one_instance_across_parallel_sources(backend):
    env = LocalEnvironment("keyed-parallel-sources")
    env.from_source(p.ShardedSource, 300, parallelism=2).keyby(p.modulo_key).map(p.WhereAmI, parallelism=3).collect("out")
    rows = env.submit(backend=backend).collected["out"]
    assert sorted(v for _, _, v in rows) == list(range(300))
    owners = {}
    for key, index, _ in rows:
        owners.setdefault(key, set()).add(index)
    assert all(len(s) == 1 for s in owners.values())


def test_unpicklable_function_fails_before_anything_runs_on_distributed_backends(backend):
    import threading

    from sage_core import PipelineValidationError, get_backend

    lock = threading.Lock()
    started = []

    def guarded(x):
        with lock:
            started.append(x)
            return x

    env = LocalEnvironment("unpicklable")
    env.from_batch([1, 2]).map(guarded, name="guarded").collect("out")
    if get_backend(backend).distributed:
        with pytest.raises(PipelineValidationError, match=f"operator 'guarded'.*cannot be sent to backend '{backend}'"):
            env.submit(backend=backend)
        assert started == []
    else:  # in-process backends need no pickling
        assert sorted(env.submit(backend=backend).collected["out"]) == [1, 2]
