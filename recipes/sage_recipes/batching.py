"""One model call per bundle: ``batch_map(stream, cls)`` is ``stream.map_batches(cls)``.

The mechanism lives in the core (:class:`sage_core.BatchMapFunction`,
:meth:`sage_core.api.datastream.DataStream.map_batches`); this module keeps the names the
recipes import.

Example::

    from sage_recipes.batching import BatchMapFunction, batch_map

    class Lengths(BatchMapFunction):
        def execute_batch(self, records):
            return [len(r) for r in records]

    batch_map(env.from_batch(["a", "bb"]), Lengths, max_batch=256).collect("out")
"""

from __future__ import annotations

from typing import Any

from sage_core.api.datastream import DataStream
from sage_core.api.functions import BatchMapFunction
from sage_core.runtime.operators import BatchMapOperator

__all__ = ["BatchMapFunction", "BatchMapOperator", "batch_map"]


def batch_map(stream: DataStream, fn: type[BatchMapFunction], *args: Any, **options: Any) -> DataStream:
    """``stream.map_batches(fn, *args, **options)``."""
    return stream.map_batches(fn, *args, **options)
