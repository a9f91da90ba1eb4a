"""The graph is validated before anything runs; errors name the operator and the fix."""

from __future__ import annotations

import threading

import pytest

from sage_core import (
    FilterFunction,
    LocalEnvironment,
    MapFunction,
    PipelineValidationError,
    SinkFunction,
)
from sage_core.ir.validate import validate
from tests import pipelines as p


def test_missing_sink_is_reported():
    env = LocalEnvironment("no-sink")
    env.from_batch([1]).map(p.times_two, name="double")
    with pytest.raises(PipelineValidationError, match="no sink") as info:
        env.submit()
    assert "'double' (map) has no consumer" in str(info.value)


def test_function_class_of_the_wrong_kind():
    env = LocalEnvironment("wrong-kind")
    with pytest.raises(PipelineValidationError, match=r"is a SinkFunction, but map needs a MapFunction"):
        env.from_batch([1]).map(p.FlushOnClose)


def test_class_without_execute():
    class Nothing:
        pass

    env = LocalEnvironment("no-execute")
    with pytest.raises(PipelineValidationError, match="has no execute"):
        env.from_batch([1]).filter(Nothing)


def test_callable_with_wrong_arity_names_the_operator():
    env = LocalEnvironment("arity")
    with pytest.raises(PipelineValidationError, match=r"map\(\) after 'source_batch_0'.*must accept 1 positional"):
        env.from_batch([1]).map(lambda a, b: a)


def test_unknown_keyby_strategy():
    env = LocalEnvironment("strategy")
    with pytest.raises(PipelineValidationError, match="unknown strategy 'random'"):
        env.from_batch([1]).keyby(lambda x: x, strategy="random")


def test_join_needs_keyed_inputs_and_two_streams():
    env = LocalEnvironment("join")
    a, b = env.from_batch([1]), env.from_batch([2])
    a.connect(b).join(lambda x, y: x).sink(print)
    with pytest.raises(PipelineValidationError, match="join needs keyed inputs"):
        env.submit()
    with pytest.raises(PipelineValidationError, match="exactly two streams"):
        a.connect(b).connect(a).keyby(lambda x: x).join(p.InnerJoin)


def test_comap_needs_one_function_per_input():
    env = LocalEnvironment("comap")
    a, b = env.from_batch([1]), env.from_batch([2])
    with pytest.raises(PipelineValidationError, match="exactly 2 callables"):
        a.connect(b).comap(p.times_two)

    class OnlyFirst(p.CoMapFunction):
        def map0(self, x):
            return x

    with pytest.raises(PipelineValidationError, match="lacks map1"):
        a.connect(b).comap(OnlyFirst)


def test_unfilled_future_and_bad_parallelism():
    env = LocalEnvironment("future")
    env.from_future("loop").sink(print)
    with pytest.raises(PipelineValidationError, match=r"from_future\('loop'\) was never filled"):
        env.submit()
    with pytest.raises(PipelineValidationError, match="parallelism must be an integer >= 1"):
        env.from_batch([1]).map(p.times_two, parallelism=0)


def test_bad_sources_and_duplicate_names():
    env = LocalEnvironment("sources")
    with pytest.raises(PipelineValidationError, match="got str"):
        env.from_batch("abc")
    with pytest.raises(PipelineValidationError, match="is a SourceFunction"):
        env.from_batch(p.TickSource)
    with pytest.raises(PipelineValidationError, match="needs a SourceFunction class"):
        env.from_source([1, 2])
    env.from_batch([1], name="src")
    with pytest.raises(PipelineValidationError, match="two operators are named 'src'"):
        env.from_batch([2], name="src")


def test_unpicklable_function_is_rejected_for_distributed_backends():
    lock = threading.Lock()

    class HoldsLock(MapFunction):
        def execute(self, data):
            with lock:
                return data

    env = LocalEnvironment("pickle")
    env.from_batch([1]).map(HoldsLock, name="locked").sink(print)
    validate(env.graph(), distributed=False)  # fine in-process
    with pytest.raises(PipelineValidationError, match=r"operator 'locked': function .*HoldsLock.* cannot be sent to backend 'dask'"):
        validate(env.graph(), distributed=True, backend="dask")


def test_every_problem_is_listed_at_once():
    class Keep(FilterFunction):
        def execute(self, data):
            return True

    class Out(SinkFunction):
        def execute(self, data):
            pass

    env = LocalEnvironment("many")
    env.from_batch([1]).filter(Keep, name="dangling")
    env.from_future("never").sink(Out)
    with pytest.raises(PipelineValidationError) as info:
        env.submit()
    text = str(info.value)
    assert "'dangling' (filter) has no consumer" in text and "from_future('never')" in text


def test_config_is_validated():
    with pytest.raises(ValueError, match="max_bundle"):
        LocalEnvironment("cfg", config={"max_bundle": 0})
    with pytest.raises(ValueError, match="bundel"):
        LocalEnvironment("cfg", config={"bundel": 3})
    with pytest.raises(ValueError, match="max_threads"):
        LocalEnvironment("cfg", max_threads=0).submit()


def test_side_outputs_are_checked():
    from sage_flow import TumblingWindow

    env = LocalEnvironment("side")
    counts = env.from_batch([{"k": 1, "ts": 0.0}]).keyby(lambda e: e["k"]).window(TumblingWindow(1), timestamp="ts").aggregate("count", name="win")
    with pytest.raises(PipelineValidationError, match=r"side_output\('early'\): operator 'win' has no such output \(side outputs: 'late'\)"):
        counts.side_output("early")
    counts.side_output("late").sink(print)
    with pytest.raises(PipelineValidationError, match="'win' \\(window\\) has no consumer"):
        env.submit()
