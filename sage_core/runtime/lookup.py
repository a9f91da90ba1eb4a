"""Which runtime class runs each node type: one table, filled by the core and by plugins.

Holds the table and the lookup. An operator class (``sage_core.runtime.operators``) runs a
node over bundles; a reader class (``sage_core.runtime.sources``) reads a source node. A
plugin that adds a node type registers its class here, at import of the module that
defines the node type:

>>> from dataclasses import dataclass
>>> from typing import ClassVar
>>> from sage_core import ir, register_operator
>>> from sage_core.runtime.operators import MapOperator
>>> @dataclass(frozen=True)
... class Double(ir.Map):
...     kind: ClassVar[str] = "double"
>>> register_operator(Double, MapOperator)
>>> runtime_class(Double(id=0, name="d")).__name__
'MapOperator'
"""

from __future__ import annotations

from sage_core import ir
from sage_core.columnar.operators import ArrowFilterOperator, ArrowMapOperator
from sage_core.errors import UnsupportedFeatureError
from sage_core.runtime.operators import (
    BatchMapOperator,
    CoMapOperator,
    FilterOperator,
    FlatMapOperator,
    JoinOperator,
    KeyByOperator,
    MapOperator,
    PassOperator,
    SinkOperator,
)
from sage_core.runtime.sources import BatchReader, PollReader

_RUNTIME: dict[type[ir.Node], type] = {
    ir.BatchSource: BatchReader,
    ir.PollSource: PollReader,
    ir.Future: PassOperator,
    ir.Map: MapOperator,
    ir.MapBatches: BatchMapOperator,
    ir.MapArrow: ArrowMapOperator,
    ir.FlatMap: FlatMapOperator,
    ir.Filter: FilterOperator,
    ir.FilterArrow: ArrowFilterOperator,
    ir.Sink: SinkOperator,
    ir.KeyBy: KeyByOperator,
    ir.CoMap: CoMapOperator,
    ir.Join: JoinOperator,
}


def register_operator(node_type: type[ir.Node], runtime: type) -> None:
    """Run nodes of ``node_type`` (and its subclasses without their own entry) with
    ``runtime``: an ``Operator`` subclass, or a reader class for a source node type."""
    if not (isinstance(node_type, type) and issubclass(node_type, ir.Node)):
        msg = f"register_operator(): {node_type!r} is not a subclass of sage_core.ir.Node"
        raise TypeError(msg)
    _RUNTIME[node_type] = runtime


def runtime_class(node: ir.Node, backend: str = "local") -> type:
    """The class that runs ``node``: the entry of its type, else of the nearest base type."""
    for cls in type(node).__mro__:
        runtime = _RUNTIME.get(cls)  # type: ignore[arg-type]
        if runtime is not None:
            return runtime
    msg = (
        f"backend {backend!r} cannot run operator {node.name!r}: no runtime class is registered for its node "
        f"type {type(node).__module__}.{type(node).__qualname__}; the plugin that defines it must call "
        "sage_core.register_operator(node_type, operator_class) when it is imported"
    )
    raise UnsupportedFeatureError(msg)
