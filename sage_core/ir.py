"""The logical graph (IR): plain, frozen data that every backend compiles.

Holds node, edge, function-spec and graph types plus printing and dict/JSON dumps. It does
not validate (see ``validate.py``) and knows nothing of execution.
"""

from __future__ import annotations

import inspect
import json
import threading
from dataclasses import dataclass, field
from typing import Any

# Node kinds. Sources have no inputs; sinks have no consumers; keyby only routes.
_SOURCE_LOCK = threading.Lock()

SOURCE_BATCH = "source_batch"
SOURCE_POLL = "source"
FUTURE = "future"
MAP = "map"
FLATMAP = "flatmap"
FILTER = "filter"
KEYBY = "keyby"
COMAP = "comap"
JOIN = "join"
SINK = "sink"
WINDOW = "window"

SOURCE_KINDS = frozenset({SOURCE_BATCH, SOURCE_POLL})
KEYBY_STRATEGIES = ("hash", "broadcast", "round_robin")


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
        """``"Upper (examples/hello.py:5)"`` — name and where it was defined."""
        target = self.target
        if isinstance(target, tuple):
            return "(" + ", ".join(FunctionSpec(t).describe() for t in target) + ")"
        name = getattr(target, "__qualname__", None) or type(target).__name__
        try:
            with _SOURCE_LOCK:  # CPython 3.11's parser is not safe in concurrent threads
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
    id: int
    name: str
    kind: str
    function: FunctionSpec | None
    parallelism: int = 1
    inputs: tuple[Edge, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        fn = f" {self.function.describe()}" if self.function is not None and self.kind != SOURCE_BATCH else ""
        return f"{self.name} [{self.kind}]{fn}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "function": None if self.function is None else self.function.to_dict(),
            "parallelism": self.parallelism,
            "inputs": [
                {"source": e.source, "input_index": e.input_index, "feedback": e.feedback}
                | ({"port": e.port} if e.port else {})
                for e in self.inputs
            ],
            "options": {k: v if isinstance(v, (str, int, float, bool)) else repr(v) for k, v in self.options.items()},
        }


@dataclass(frozen=True)
class Graph:
    """A pipeline's logical graph. ``explain()`` prints it; ``to_json()`` dumps it."""

    name: str
    nodes: tuple[Node, ...]

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id]

    def consumers(self, node_id: int) -> list[tuple[Node, Edge]]:
        return [(n, e) for n in self.nodes for e in n.inputs if e.source == node_id]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "nodes": [n.to_dict() for n in self.nodes]}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def explain(self) -> str:
        """A readable listing, one node per line with its inputs.

        >>> from sage_core import LocalEnvironment
        >>> env = LocalEnvironment("demo")
        >>> _ = env.from_batch([1, 2]).map(lambda x: x + 1).collect("out")
        >>> print(env.graph().explain())  # doctest: +ELLIPSIS
        pipeline 'demo': 3 operators
          source_batch_0 [source_batch] parallelism=1
          map_1 [map] <lambda> (...) parallelism=1 <- source_batch_0
          collect_out [sink] CollectSink (...) parallelism=1 <- map_1
        """
        lines = [f"pipeline {self.name!r}: {len(self.nodes)} operators"]
        for n in self.nodes:
            ins = ", ".join(
                self.nodes[e.source].name
                + (f"#{e.input_index}" if len(n.inputs) > 1 else "")
                + (" (feedback)" if e.feedback else "")
                + (f" [{e.port}]" if e.port else "")
                for e in n.inputs
            )
            extra = "".join(f" {k}={v}" for k, v in n.options.items() if k in ("strategy", "ports"))
            lines.append(f"  {n.label()} parallelism={n.parallelism}{extra}" + (f" <- {ins}" if ins else ""))
        return "\n".join(lines)


def _short_path(path: str | None) -> str:
    if not path:
        return "?"
    import os

    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path
