"""The logical graph (IR): typed, frozen node classes, the graph, its validation and the
physical plan every backend runs.

Holds plain data and pure functions over it; nothing here starts a thread or calls user
code. ``nodes`` has the node types, ``graph`` the container, ``validate`` the checks made
before a run, ``plan`` the fusion into stages.
"""

from sage_core.ir.graph import Graph
from sage_core.ir.nodes import (
    BATCH_FORMATS,
    BUILTIN_NODES,
    KEYBY_STRATEGIES,
    BatchSource,
    CoMap,
    Edge,
    Filter,
    FilterArrow,
    FlatMap,
    FunctionSpec,
    Future,
    Join,
    KeyBy,
    KeyedInput,
    Map,
    MapArrow,
    MapBatches,
    Node,
    PollSource,
    Sink,
)

__all__ = [
    "BATCH_FORMATS",
    "BUILTIN_NODES",
    "KEYBY_STRATEGIES",
    "BatchSource",
    "CoMap",
    "Edge",
    "Filter",
    "FilterArrow",
    "FlatMap",
    "FunctionSpec",
    "Future",
    "Graph",
    "Join",
    "KeyBy",
    "KeyedInput",
    "Map",
    "MapArrow",
    "MapBatches",
    "Node",
    "PollSource",
    "Sink",
]
