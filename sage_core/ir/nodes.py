"""The IR's node types: one frozen dataclass per kind of operator, and the edges between them.

Holds plain, immutable data: what to run (a :class:`FunctionSpec`), how many instances, which
inputs, and the options of each kind as typed fields. A node checks its own shape
(:meth:`Node.problems`); it knows nothing of how it runs. Runtime classes are looked up from
the node's type in ``sage_core.runtime.lookup``, so a plugin adds a kind by subclassing
:class:`Node` and registering a runtime class there.

>>> node = Map(id=1, name="double", function=FunctionSpec(abs))
>>> node.kind, node.options()
('map', {})
>>> node.replace(parallelism=4).parallelism, node.parallelism
(4, 1)
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sage_core.ir.graph import Graph

_SOURCE_LOCK = threading.Lock()  # CPython 3.11's parser is not safe in concurrent threads

KEYBY_STRATEGIES = ("hash", "broadcast", "round_robin")
BATCH_FORMATS = ("arrow", "numpy", "pandas")  # what a columnar function gets: docs/columnar.md


@dataclass(frozen=True)
class FunctionSpec:
    """What to run: a function class (instantiated with ``args``/``kwargs``) or a callable.

    ``target`` may also be a tuple of callables (``comap`` with one callable per input) or,
    for batch sources, an iterable of records.
    """

    target: Any
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_class(self) -> bool:
        return inspect.isclass(self.target)

    def describe(self) -> str:
        """``"Upper (examples/hello.py:5)"``: name and where it was defined."""
        target = self.target
        if isinstance(target, tuple):
            return "(" + ", ".join(FunctionSpec(t).describe() for t in target) + ")"
        name = getattr(target, "__qualname__", None) or type(target).__name__
        try:
            with _SOURCE_LOCK:
                where = inspect.getsourcefile(target)
                line = inspect.getsourcelines(target)[1]
            return f"{name} ({_short_path(where)}:{line})"
        except (TypeError, OSError, SystemError):
            return name

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.describe(),
            "args": [repr(a) for a in self.args],
            "kwargs": {k: repr(v) for k, v in self.kwargs.items()},
        }


@dataclass(frozen=True)
class Edge:
    """An input of a node: the upstream node id, which input slot it feeds, and which of the
    upstream's outputs it reads (``port``: None for the main output, else a side output)."""

    source: int
    input_index: int = 0
    feedback: bool = False
    port: str | None = None


@dataclass(frozen=True)
class Node:
    """Base of every node type. Subclasses set ``kind`` and add their options as fields.

    ``retry`` is a ``sage_core.reliability.restart`` strategy for records that raise.
    """

    id: int
    name: str
    function: FunctionSpec | None = None
    parallelism: int = 1
    inputs: tuple[Edge, ...] = ()
    retry: Any = None

    kind: ClassVar[str] = "node"
    side_outputs: ClassVar[tuple[str, ...]] = ()  # ports besides the main output
    is_source: ClassVar[bool] = False

    def replace(self, **changes: Any) -> Node:
        """A copy with ``changes`` (nodes are frozen)."""
        return dataclasses.replace(self, **changes)

    def options(self) -> dict[str, Any]:
        """The fields this kind adds to the base ones (for ``to_dict`` and ``explain``)."""
        base = {f.name for f in dataclasses.fields(Node)} - {"retry"}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in base and getattr(self, f.name) is not None}

    def problems(self, graph: Graph) -> list[str]:
        """What is wrong with this node in ``graph`` (each problem a sentence with the fix)."""
        return []

    def label(self) -> str:
        fn = f" {self.function.describe()}" if self.function is not None and not isinstance(self, BatchSource) else ""
        return f"{self.name} [{self.kind}]{fn}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "type": type(self).__name__,
            "function": None if self.function is None else self.function.to_dict(),
            "parallelism": self.parallelism,
            "inputs": [
                {"source": e.source, "input_index": e.input_index, "feedback": e.feedback}
                | ({"port": e.port} if e.port else {})
                for e in self.inputs
            ],
            "options": {k: v if isinstance(v, (str, int, float, bool)) else repr(v) for k, v in self.options().items()},
        }


# -- sources ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchSource(Node):
    """A bounded source: an iterable, or a ``BatchFunction`` class (``env.from_batch``)."""

    kind: ClassVar[str] = "source_batch"
    is_source: ClassVar[bool] = True

    def problems(self, graph: Graph) -> list[str]:
        if self.parallelism != 1:
            return [f"operator {self.name!r}: a batch source runs with parallelism 1; use from_source(...) to read in parallel"]
        return []


@dataclass(frozen=True)
class PollSource(Node):
    """An unbounded ``SourceFunction`` polled until ``StopSignal`` (``env.from_source``)."""

    kind: ClassVar[str] = "source"
    is_source: ClassVar[bool] = True


@dataclass(frozen=True)
class Future(Node):
    """The head of a loop (``env.from_future``), fed back by ``stream.fill_future``."""

    future: str = ""
    kind: ClassVar[str] = "future"

    def problems(self, graph: Graph) -> list[str]:
        if not self.inputs:
            return [f"from_future({self.future!r}) was never filled: call stream.fill_future(future)"]
        return []


# -- one input, per record ---------------------------------------------------------------
@dataclass(frozen=True)
class Map(Node):
    """One output per record."""

    kind: ClassVar[str] = "map"


@dataclass(frozen=True)
class MapBatches(Map):
    """One ``execute_batch`` call per slice of a bundle of records (``map_batches``)."""

    max_batch: int | None = None


@dataclass(frozen=True)
class MapArrow(Map):
    """A function over Arrow batches in ``batch_format`` (``map_batches(fn, batch_format=...)``);
    its records are ``pyarrow.RecordBatch`` objects (dict records are gathered into one)."""

    batch_format: str = "arrow"


@dataclass(frozen=True)
class FlatMap(Node):
    """Any number of outputs per record."""

    kind: ClassVar[str] = "flatmap"


@dataclass(frozen=True)
class Filter(Node):
    """Keeps the records for which the function is true."""

    kind: ClassVar[str] = "filter"


@dataclass(frozen=True)
class FilterArrow(Filter):
    """A vectorized filter over Arrow batches: the function returns a boolean mask per batch."""

    batch_format: str = "arrow"


@dataclass(frozen=True)
class Sink(Node):
    """Consumes records; emits nothing."""

    kind: ClassVar[str] = "sink"


@dataclass(frozen=True)
class KeyBy(Node):
    """Keys the stream; ``strategy`` says how keys spread over the next operator's instances.
    ``field`` is set when the key is a field of the record (a dict key, an Arrow column)."""

    strategy: str = "hash"
    field: str | None = None
    kind: ClassVar[str] = "keyby"

    def problems(self, graph: Graph) -> list[str]:
        found = []
        if self.strategy not in KEYBY_STRATEGIES:
            found.append(f"operator {self.name!r}: unknown keyby strategy {self.strategy!r}; use one of {KEYBY_STRATEGIES}")
        if self.inputs and isinstance(graph.node(self.inputs[0].source), KeyBy):
            found.append(f"operator {self.name!r}: keyby directly after keyby; keep only the last one")
        return found


class KeyedInput:
    """Mixin of node types whose every input must be keyed (a ``keyby`` right before)."""

    name: str
    inputs: tuple[Edge, ...]
    needs_keys_for: ClassVar[str] = "this operator needs a keyed stream"

    def keyed_problems(self, graph: Graph) -> list[str]:
        if all(isinstance(graph.node(e.source), KeyBy) for e in self.inputs):
            return []
        return [f"operator {self.name!r}: {self.needs_keys_for}"]


# -- several inputs -----------------------------------------------------------------------
@dataclass(frozen=True)
class CoMap(Node):
    """One function per input (``connect(...).comap``)."""

    arity: int = 2
    kind: ClassVar[str] = "comap"

    def problems(self, graph: Graph) -> list[str]:
        keyed = [isinstance(graph.node(e.source), KeyBy) for e in self.inputs]
        if any(keyed) and not all(keyed):
            return [f"operator {self.name!r}: either key every input of a connected stream or none"]
        return []


@dataclass(frozen=True)
class Join(KeyedInput, Node):
    """Keyed join of two streams."""

    kind: ClassVar[str] = "join"
    needs_keys_for: ClassVar[str] = "join needs keyed inputs: call .keyby(selector) on the connected streams first"

    def problems(self, graph: Graph) -> list[str]:
        if len(self.inputs) != 2:
            return [f"operator {self.name!r}: join takes exactly two inputs, got {len(self.inputs)}"]
        return self.keyed_problems(graph)


BUILTIN_NODES: tuple[type[Node], ...] = (BatchSource, PollSource, Future, Map, MapBatches, MapArrow, FlatMap, Filter, FilterArrow, Sink, KeyBy, CoMap, Join)


def _short_path(path: str | None) -> str:
    if not path:
        return "?"
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
