"""Arrow batches as records: recognising them, turning data into them, converting them to and
from the formats ``map_batches`` offers, splitting them by key, and gathering results.

Holds small, vectorized functions over ``pyarrow.RecordBatch``. It must not hold operators
or graph code, and it imports pyarrow only inside the functions that build or convert
batches: :func:`is_batch` answers without importing it (no record can be a RecordBatch in a
process that never imported pyarrow).

>>> import pyarrow as pa
>>> batch = pa.RecordBatch.from_pydict({"user": ["a", "b", "a"], "n": [1, 2, 3]})
>>> is_batch(batch), is_batch({"user": "a"})
(True, False)
>>> parts = split_by_key(pa.RecordBatch.from_pydict({"user": [1, 2, 1, 3], "n": [10, 20, 30, 40]}), "user", 2)
>>> [(t, b.to_pydict()) for t, b in parts]
[(0, {'user': [2], 'n': [20]}), (1, {'user': [1, 1, 3], 'n': [10, 30, 40]})]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sage_core.ir.nodes import BATCH_FORMATS
from sage_core.runtime.partition import batch_type, stable_hash

__all__ = ["BATCH_FORMATS", "batches_of", "from_format", "from_records", "is_batch", "split_by_key", "table_of", "to_format"]


def is_batch(record: Any) -> bool:
    """Whether ``record`` is a ``pyarrow.RecordBatch`` (without importing pyarrow)."""
    kind = batch_type()
    return kind is not None and type(record) is kind


def batches_of(data: Any, batch_size: int | None = None) -> list:
    """A Table, a RecordBatch, a RecordBatchReader or an iterable of them, as a list of
    RecordBatches of at most ``batch_size`` rows (empty ones dropped)."""
    import pyarrow as pa

    if isinstance(data, (pa.Table, pa.RecordBatch)):
        parts: Iterable[Any] = [data]
    elif isinstance(data, pa.RecordBatchReader):
        parts = list(data)
    elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, dict)):
        parts = list(data)
    else:
        msg = f"from_arrow() needs a pyarrow Table, RecordBatch, RecordBatchReader or an iterable of RecordBatches, got {type(data).__name__}"
        raise TypeError(msg)
    out = []
    for i, part in enumerate(parts):
        if isinstance(part, pa.Table):
            out.extend(part.to_batches(max_chunksize=batch_size))
        elif isinstance(part, pa.RecordBatch):
            out.extend(pa.Table.from_batches([part]).to_batches(max_chunksize=batch_size) if batch_size else [part])
        else:
            msg = f"from_arrow(): item {i} is a {type(part).__name__}, not a pyarrow RecordBatch or Table"
            raise TypeError(msg)
    return [b for b in out if b.num_rows]


def to_format(batch: Any, batch_format: str) -> Any:
    """A RecordBatch as ``batch_format``: the batch itself (``"arrow"``), a dict of NumPy
    arrays (``"numpy"``) or a pandas DataFrame (``"pandas"``)."""
    if batch_format == "arrow":
        return batch
    if batch_format == "numpy":
        return {name: column.to_numpy(zero_copy_only=False) for name, column in zip(batch.schema.names, batch.columns)}
    if batch_format == "pandas":
        return batch.to_pandas()
    msg = f"unknown batch_format {batch_format!r}; use one of {', '.join(BATCH_FORMATS)}"
    raise ValueError(msg)


def from_format(data: Any) -> Any:
    """What a batch function returned, as one RecordBatch: a RecordBatch, a Table, a dict of
    columns (arrays or lists) or a pandas DataFrame."""
    import pyarrow as pa

    if isinstance(data, pa.RecordBatch):
        return data
    if isinstance(data, pa.Table):
        return data.combine_chunks().to_batches()[0] if data.num_rows else pa.RecordBatch.from_pylist([], schema=data.schema)
    if isinstance(data, dict):
        return pa.RecordBatch.from_pydict(data)
    if type(data).__module__.startswith("pandas") and type(data).__name__ == "DataFrame":
        return pa.RecordBatch.from_pandas(data, preserve_index=False)
    msg = f"a batch function must return a pyarrow RecordBatch or Table, a dict of columns or a pandas DataFrame, got {type(data).__name__}"
    raise TypeError(msg)


def from_records(records: list) -> Any:
    """Dict records as one RecordBatch (their keys are the columns)."""
    import pyarrow as pa

    return pa.RecordBatch.from_pylist(records)


def key_column(batch: Any, field: str) -> Any:
    """Column ``field`` of ``batch``; a clear ``KeyError`` naming the columns there are."""
    index = batch.schema.get_field_index(field)
    if index < 0:
        msg = f"batch has no column {field!r} (columns: {', '.join(batch.schema.names)})"
        raise KeyError(msg)
    return batch.column(index)


def split_by_key(batch: Any, field: str, parallelism: int) -> list[tuple[int, Any]]:
    """``(target, sub-batch)`` for each instance that owns keys of ``batch`` (column
    ``field``), rows in order: the key of each distinct value is hashed once in Python, the
    rows are assigned and cut in vectorized code. Targets match ``stable_hash(key) %
    parallelism``, as for records."""
    if parallelism == 1:
        return [(0, batch)]
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(key_column(batch, field), null_encoding="encode")
    owners = np.array([stable_hash(k) % parallelism for k in encoded.dictionary.to_pylist()], dtype=np.int64)
    targets = owners[encoded.indices.to_numpy(zero_copy_only=False)]
    out = []
    for target in np.unique(targets).tolist():
        rows = targets == target
        out.append((target, batch if rows.all() else batch.filter(pa.array(rows))))
    return out


def table_of(records: list) -> Any:
    """Collected records as one ``pyarrow.Table``: RecordBatches are concatenated, other
    records (dicts, or objects with ``_asdict``/dataclass fields) become rows."""
    import pyarrow as pa

    if isinstance(records, pa.Table):
        return records
    batches = [r for r in records if isinstance(r, pa.RecordBatch)]
    rows = [_row(r) for r in records if not isinstance(r, pa.RecordBatch)]
    if rows:
        batches.append(pa.RecordBatch.from_pylist(rows))
    if not batches:
        return pa.table({})
    return pa.Table.from_batches(batches)


def _row(record: Any) -> dict:
    if isinstance(record, dict):
        return record
    as_dict = getattr(record, "_asdict", None)
    if callable(as_dict):
        return dict(as_dict())
    fields = getattr(record, "__dataclass_fields__", None)
    if fields is not None:
        return {name: getattr(record, name) for name in fields}
    msg = f"cannot turn a {type(record).__name__} record into an Arrow row; collect dicts, dataclasses or RecordBatches"
    raise TypeError(msg)
