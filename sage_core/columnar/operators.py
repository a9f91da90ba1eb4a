"""The operators of columnar streams: ``map_batches(fn, batch_format=...)`` and ``filter``
with a vectorized predicate, over records that are ``pyarrow.RecordBatch`` objects.

Both are :class:`~sage_core.runtime.operators.RecordOperator` shapes (one call per batch, so
keyed input, dead letters and retries work as for any record operator); dict records that
reach them are first gathered into one batch per run of consecutive dicts. This module must
not hold sources or graph code, and imports pyarrow only when a batch is built.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from typing import Any

from sage_core.columnar.arrow import from_format, from_records, is_batch, to_format
from sage_core.runtime.keyed import Keyed
from sage_core.runtime.operators import RecordOperator, as_callable


def gather(records: list) -> list:
    """``records`` with each run of consecutive non-batch records turned into one batch."""
    if all(is_batch(r) for r in records):
        return records
    out: list = []
    run: list = []
    for record in records:
        if is_batch(record):
            if run:
                out.append(from_records(run))
                run = []
            out.append(record)
        else:
            run.append(record)
    if run:
        out.append(from_records(run))
    return out


class _ArrowOperator(RecordOperator):
    """One call of the user's function per batch, in the node's ``batch_format``."""

    shape = "one"

    def user_function(self) -> Callable[[Any], Any]:
        spec = self.node.function
        assert spec is not None
        if spec.is_class:
            obj: Any = self.obj
            return getattr(obj, "execute_batch", None) or obj
        return as_callable(self.obj, spec)

    def run(self, items, input_index):
        return super().run(gather(items), input_index)

    def run_keyed(self, bundle, input_index):
        if not all(map(is_batch, bundle.records)):
            batches = gather(bundle.records)
            bundle = Keyed([None] * len(batches), batches)
        return super().run_keyed(bundle, input_index)


class ArrowMapOperator(_ArrowOperator):
    """``map_batches(fn, batch_format=...)``: ``fn`` gets the batch as an Arrow batch, a dict
    of NumPy arrays or a DataFrame, and returns one (any of those, or a Table)."""

    def function(self, input_index):
        fn, fmt = self.user_function(), self.node.batch_format  # type: ignore[attr-defined]
        return lambda batch: from_format(fn(to_format(batch, fmt)))


class ArrowFilterOperator(_ArrowOperator):
    """``filter(fn)`` on a columnar stream: ``fn`` returns a boolean mask (an Arrow boolean
    array, a NumPy array or a list), one entry per row; the rows where it is true stay."""

    def function(self, input_index):
        fn, fmt = self.user_function(), self.node.batch_format  # type: ignore[attr-defined]

        def keep(batch: Any) -> Any:
            kept = batch.filter(_mask(fn(to_format(batch, fmt)), batch.num_rows))
            self.ctx.metrics.inc("rows_filtered", batch.num_rows - kept.num_rows)
            return kept

        return keep

    def run(self, items, input_index):
        out = super().run(items, input_index)
        return self._count_empty(out, list(compress(out, _rows(out))))

    def run_keyed(self, bundle, input_index):
        out = super().run_keyed(bundle, input_index)
        return self._count_empty(out, out.compress(_rows(out.records)))

    def _count_empty(self, out: Any, kept: Any) -> Any:
        """``kept`` (the batches with rows left): a batch filtered down to nothing counts as filtered."""
        self.filtered += len(out) - len(kept)
        return kept


def _rows(batches: list) -> list[int]:
    return [batch.num_rows for batch in batches]


def _mask(mask: Any, rows: int) -> Any:
    import pyarrow as pa

    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    if not isinstance(mask, pa.Array):
        mask = pa.array(mask, type=pa.bool_())
    if len(mask) != rows or not pa.types.is_boolean(mask.type):
        msg = f"a batch filter must return one boolean per row ({rows}), got {len(mask)} values of type {mask.type}"
        raise ValueError(msg)
    return mask
