"""A toy operator plugin: ``stream.keyby(f).distinct()`` keeps the first record of each key.

Everything a plugin needs, from outside ``sage_core``: a node type (a frozen
``sage_core.ir.Node`` subclass), the operator that runs it, one ``register_operator`` call,
and (optionally) a DataStream method. The registration runs when this module is imported,
which also happens on a worker that unpickles a ``Distinct`` node. An installed plugin
would declare the method as an entry point instead of calling ``register_stream_method``::

    [project.entry-points."sage.operators"]
    distinct = "my_plugin:distinct"

Run it: ``python -m tests.plugins.distinct_plugin``; docs/architecture.md walks through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sage_core import Environment, ir, register_operator, register_stream_method
from sage_core.runtime.operators import Operator


@dataclass(frozen=True)
class Distinct(ir.KeyedInput, ir.Node):
    """Keeps the first record of each key. ``ir.KeyedInput`` makes validation demand a keyby."""

    kind: ClassVar[str] = "distinct"
    needs_keys_for: ClassVar[str] = "distinct() needs a keyed stream; call .keyby(selector) first"

    def problems(self, graph: ir.Graph) -> list[str]:
        return self.keyed_problems(graph)


class DistinctOperator(Operator):
    """The keys seen so far are keyed state, so checkpoints save them and restores resume them."""

    def run_keyed(self, pairs: list, input_index: int) -> list:
        seen = self.ctx.keyed_state()
        kept = []
        for key, record in pairs:
            if key not in seen:
                seen[key] = {}
                kept.append((key, record))
        self.filtered += len(pairs) - len(kept)
        return kept


def distinct(stream, *, name: str | None = None):
    """``stream.distinct()``: adds a :class:`Distinct` node after ``stream``."""
    return stream.apply(Distinct, name=name)


register_operator(Distinct, DistinctOperator)
register_stream_method("distinct", distinct)


if __name__ == "__main__":
    env = Environment("first-visits")
    visits = [("ann", "/home"), ("bob", "/docs"), ("ann", "/blog"), ("cy", "/home")]
    env.from_batch(visits).keyby(lambda v: v[0]).distinct().print()
    env.submit()
