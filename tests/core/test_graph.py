"""The IR can be printed, dumped to JSON and compiled into fused stages."""

from __future__ import annotations

import json

from sage_core import LocalEnvironment
from sage_core.ir.plan import FORWARD, HASH, REBALANCE, build_plan
from tests import pipelines as p


def build():
    env = LocalEnvironment("shape")
    words = env.from_batch(["a b", "c"]).flatmap(p.SplitWords).map(p.Upper)
    words.keyby(p.first_letter).map(p.RunningCount, parallelism=2).sink(print)
    return env


def test_explain_lists_operators_inputs_and_stages():
    text = build().explain()
    assert "pipeline 'shape': 6 operators" in text
    assert "flatmap_1 [flatmap] SplitWords (" in text and "<- source_batch_0" in text
    assert "keyby_3 [keyby]" in text and "strategy=hash" in text
    assert "stage0 x1: source_batch_0+flatmap_1+map_2 ->stage1(hash)" in text
    assert "stage1 x2 keyed: map_4 ->stage2(rebalance)" in text and "stage2 x1: sink_5" in text


def test_graph_dumps_to_json():
    data = json.loads(build().to_json())
    assert [n["kind"] for n in data["nodes"]] == ["source_batch", "flatmap", "map", "keyby", "map", "sink"]
    assert data["nodes"][4]["parallelism"] == 2
    assert data["nodes"][4]["inputs"] == [{"source": 3, "input_index": 0, "feedback": False}]
    assert data["nodes"][3]["options"] == {"strategy": "hash"}


def test_fusion_stops_at_parallelism_changes_and_fan_out():
    env = LocalEnvironment("fusion")
    src = env.from_batch([1])
    doubled = src.map(p.times_two, parallelism=2)
    doubled.map(p.times_two, parallelism=2).sink(print, parallelism=2)
    doubled.sink(print)
    plan = build_plan(env.graph())
    assert [s.name for s in plan.stages] == ["source_batch_0", "map_1", "map_2+sink_3", "sink_4"]
    assert [r.partition for r in plan.stages[0].routes] == [REBALANCE]
    assert sorted(r.partition for r in plan.stages[1].routes) == [FORWARD, REBALANCE]
    keyed = LocalEnvironment("keyed")
    keyed.from_batch([1]).keyby(p.modulo_key).sink(print, parallelism=2)
    assert build_plan(keyed.graph()).stages[0].routes[0].partition == HASH


def test_keyby_between_single_instances_runs_inline():
    env = LocalEnvironment("inline-keyby")
    env.from_batch([3, 8, 13, 4]).keyby(p.modulo_key).map(p.RunningCount).collect("out")
    plan = build_plan(env.graph())
    assert [s.name for s in plan.stages] == ["source_batch_0+keyby_1+map_2+collect_out"]
    assert sorted(env.submit().collected["out"]) == [(3, 1), (3, 2), (3, 3), (4, 1)]
