"""A pipeline's logical graph: its nodes in order, with printing and JSON dumps.

Holds the ``Graph`` container and its readable forms. It does not validate (see
``validate.py``), plan (``plan.py``) or know anything of execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sage_core.ir.nodes import Edge, Node


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

        >>> from sage_core import Environment
        >>> env = Environment("demo")
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
            shown = {k: v for k, v in n.options().items() if k == "strategy"}
            if n.side_outputs:
                shown["ports"] = n.side_outputs
            extra = "".join(f" {k}={v}" for k, v in shown.items())
            lines.append(f"  {n.label()} parallelism={n.parallelism}{extra}" + (f" <- {ins}" if ins else ""))
        return "\n".join(lines)
