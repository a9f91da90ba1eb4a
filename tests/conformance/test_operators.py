"""Every operator, on every backend: same input, same output multiset."""

from __future__ import annotations

from collections import Counter

import pytest

from sage_core import LocalEnvironment
from sage_core.api.testing import assert_that, equal_to
from tests import pipelines as p


def run(env, backend):
    return env.submit(backend=backend)


def test_map_with_class_and_callable(backend):
    env = LocalEnvironment("map")
    words = env.from_batch(["a", "b", "c"])
    assert_that(words.map(p.Upper), equal_to(["A", "B", "C"]))
    assert_that(env.from_batch([1, 2, 3]).map(p.times_two), equal_to([2, 4, 6]))
    assert_that(env.from_batch([1, 2, 3]).map(p.AddN, 10), equal_to([11, 12, 13]))
    run(env, backend)


def test_flatmap_return_and_collect(backend):
    env = LocalEnvironment("flatmap")
    lines = ["to be or", "not to be"]
    assert_that(env.from_batch(lines).flatmap(p.SplitWords), equal_to("to be or not to be".split()))
    assert_that(env.from_batch(lines).flatmap(p.CollectWords), equal_to("to be or not to be".split()))
    assert_that(env.from_batch(lines).flatmap(lambda s: [len(s)]), equal_to([8, 9]))
    run(env, backend)


def test_filter(backend):
    env = LocalEnvironment("filter")
    assert_that(env.from_batch(range(10)).filter(p.is_even), equal_to([0, 2, 4, 6, 8]))
    run(env, backend)


def test_hello_pipeline(backend):
    env = LocalEnvironment("hello")
    out = env.from_batch(["a", "b", "c"]).map(p.Upper).filter(lambda s: s != "B")
    assert_that(out, equal_to(["A", "C"]))
    run(env, backend)


def test_sources_batch_function_generator_and_collection(backend):
    env = LocalEnvironment("sources")
    assert_that(env.from_batch(p.Countdown, 4), equal_to([3, 2, 1, 0]))
    assert_that(env.from_batch((1, 2)), equal_to([1, 2]))
    assert_that(env.from_batch(range(3)), equal_to([0, 1, 2]))
    run(env, backend)


def test_polled_source_ends_on_stop_signal(backend):
    env = LocalEnvironment("poll")
    assert_that(env.from_source(p.TickSource, 50), equal_to(range(1, 51)))
    run(env, backend)


def test_parallel_source_instances_share_the_work(backend):
    env = LocalEnvironment("sharded")
    assert_that(env.from_source(p.ShardedSource, 100, parallelism=3).map(p.times_two), equal_to([2 * i for i in range(100)]))
    run(env, backend)


def test_parallel_map_keeps_every_record(backend):
    env = LocalEnvironment("parallel")
    data = list(range(2000))
    assert_that(env.from_batch(data).map(p.times_two, parallelism=3).filter(p.is_even, parallelism=2), equal_to([x * 2 for x in data]))
    run(env, backend)


def test_keyed_state_counts_per_key(backend):
    env = LocalEnvironment("keyed-state")
    data = [i % 4 for i in range(40)]
    counted = env.from_batch(data).keyby(lambda x: x).map(p.RunningCount, parallelism=3)
    assert_that(counted, equal_to([(k, c) for k in range(4) for c in range(1, 11)]))
    run(env, backend)


@pytest.mark.parametrize("strategy", ["hash", "broadcast", "round_robin"])
def test_keyby_strategies(backend, strategy):
    env = LocalEnvironment(f"keyby-{strategy}")
    data = list(range(60))
    tagged = env.from_batch(data).keyby(p.modulo_key, strategy=strategy).map(p.WhereAmI, parallelism=3)
    tagged.collect("tagged")
    result = run(env, backend)
    rows = result.collected["tagged"]
    assert all(key == value % 5 for key, _, value in rows)
    if strategy == "broadcast":
        assert Counter(v for _, _, v in rows) == Counter({v: 3 for v in data})
        assert {i for _, i, _ in rows} == {0, 1, 2}
    else:
        assert sorted(v for _, _, v in rows) == data
    if strategy == "hash":
        owners = {}
        for key, index, _ in rows:
            owners.setdefault(key, set()).add(index)
        assert all(len(v) == 1 for v in owners.values())


def test_comap_with_class_and_callables(backend):
    env = LocalEnvironment("comap")
    left, right = env.from_batch([1, 2]), env.from_batch(["x"])
    assert_that(left.connect(right).comap(p.Tagger), equal_to([("left", 1), ("left", 2), ("right", "x")]))
    a, b, c = env.from_batch([1]), env.from_batch([2]), env.from_batch([3])
    assert_that(a.connect(b).connect(c).comap(p.times_two, p.AddN(0).execute, str), equal_to([2, 2, "3"]))
    run(env, backend)


def test_join_keyed_streams(backend):
    env = LocalEnvironment("join")
    users = env.from_batch([("u1", "ada"), ("u2", "bob"), ("u3", "cy")])
    orders = env.from_batch([("u1", "book"), ("u1", "pen"), ("u2", "cup"), ("u9", "lost")])
    joined = users.connect(orders).keyby(lambda r: r[0]).join(p.InnerJoin, parallelism=2)
    expected = [("u1", ("u1", "ada"), ("u1", "book")), ("u1", ("u1", "ada"), ("u1", "pen")), ("u2", ("u2", "bob"), ("u2", "cup"))]
    assert_that(joined, equal_to(expected))
    pairs = users.connect(orders).keyby([lambda u: u[0], lambda o: o[0]]).join(lambda u, o: (u[1], o[1]))
    assert_that(pairs, equal_to([("ada", "book"), ("ada", "pen"), ("bob", "cup")]))
    run(env, backend)


def test_feedback_loop_iterates_until_done(backend):
    env = LocalEnvironment("loop")
    future = env.from_future("again")
    merged = env.from_batch([0, 3]).connect(future).comap(p.loop_step, p.loop_step)
    merged.filter(p.below_limit).fill_future(future)
    assert_that(merged.filter(p.at_limit), equal_to([5, 5]))
    result = run(env, backend)
    assert result.metrics[merged.name].records_in == 7  # 0..4 from 0 and 3..4 from 3


def test_sink_and_print(backend, capsys):
    env = LocalEnvironment("print")
    env.from_batch(["x", "y"]).print(prefix="got ")
    result = run(env, backend)
    assert result.metrics["sink_1"].records_in == 2
    if backend == "local":
        assert sorted(capsys.readouterr().out.split("\n")[:2]) == ["got x", "got y"]
