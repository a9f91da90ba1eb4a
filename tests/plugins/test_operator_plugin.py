"""An operator added from outside sage_core (examples/distinct_plugin.py) runs like a
built-in one on every backend, validates like one, and saves its state in checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from sage_core import Environment, PipelineValidationError, UnsupportedFeatureError, ir
from tests.plugins.distinct_plugin import Distinct


def test_plugin_operator_runs_on_every_backend(backend):
    env = Environment("distinct")
    visits = [("ann", 1), ("bob", 2), ("ann", 3), ("cy", 4), ("bob", 5), ("ann", 6)]
    env.from_batch(visits, name="visits").keyby(lambda v: v[0]).distinct(name="first").collect("firsts")
    result = env.submit(backend=backend)
    assert sorted(result.collected["firsts"]) == [("ann", 1), ("bob", 2), ("cy", 4)]
    assert result.metrics["first"].kind == "distinct"
    assert result.metrics["first"].filtered == 3


def test_plugin_node_is_typed_data_in_the_graph():
    env = Environment("distinct")
    env.from_batch([1, 2]).keyby(lambda x: x % 2).distinct(name="d").collect("out")
    node = env.graph().nodes[2]
    assert isinstance(node, Distinct) and node.kind == "distinct"
    assert env.graph().to_dict()["nodes"][2]["type"] == "Distinct"
    assert "d [distinct]" in env.explain()


def test_plugin_node_validates_its_own_shape():
    env = Environment("distinct")
    env.from_batch([1, 2]).distinct().collect("out")
    with pytest.raises(PipelineValidationError, match=r"distinct\(\) needs a keyed stream"):
        env.validate()


@dataclass(frozen=True)
class Orphan(ir.Node):
    """A node type nobody registered a runtime class for."""

    kind: ClassVar[str] = "orphan"


def test_a_node_type_without_a_runtime_class_is_refused_before_the_run():
    env = Environment("orphan")
    env.from_batch([1]).apply(Orphan, name="lonely").collect("out")
    with pytest.raises(UnsupportedFeatureError, match=r"backend 'local' cannot run operator 'lonely'.*register_operator"):
        env.submit()


def test_an_unknown_stream_method_is_an_attribute_error():
    env = Environment("x")
    with pytest.raises(AttributeError, match="no attribute 'no_such_method'"):
        env.from_batch([1]).no_such_method()
