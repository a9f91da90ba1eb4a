"""Windows over Arrow columns: one ``pyarrow.RecordBatch`` in, fired windows as a
RecordBatch out, read straight from the Arrow buffers with no Python call per row.

Holds :func:`process_arrow`, the columnar twin of
:meth:`~sage_flow.aggregate.WindowAggregate.process_batch`, with exactly its semantics:
rows are fed to the same C++ engine, in order, after the key column is dictionary-encoded
(each distinct key is looked up once, in the aggregate's own key table, so record and
columnar input share window state and checkpoints), and timestamps and values are cast to
float64 views. Rows with a null or non-finite timestamp, or a null value, are errors (dead
letters); rows too late for every window come back as a RecordBatch. This module must not
hold window state, and imports pyarrow only when called.

>>> import pyarrow as pa
>>> from sage_flow import TumblingWindow, WindowAggregate
>>> op = WindowAggregate(TumblingWindow(10), "sum", timestamp="ts", value="x")
>>> batch = pa.RecordBatch.from_pydict({"k": ["a", "a", "b", "a"], "ts": [1.0, 4.0, 5.0, 12.0], "x": [2, 3, 1, 7]})
>>> out = process_arrow(op, batch, "k")
>>> out.results.to_pylist()
[{'key': 'a', 'start': 0.0, 'end': 10.0, 'value': 5.0, 'count': 2}, {'key': 'b', 'start': 0.0, 'end': 10.0, 'value': 1.0, 'count': 1}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from sage_flow.aggregate import WindowAggregate

#: Aggregates the columnar path computes (numbers only; vectors and reduce functions need records).
COLUMN_AGGREGATES = ("count", "sum", "mean", "min", "max", "first", "last")
_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_LUT_LIMIT = 1 << 22  # integer keys below this are looked up in an array (at most 32 MiB)


class ArrowOutcome(NamedTuple):
    """What :func:`process_arrow` returns: fired windows (``key``, ``start``, ``end``,
    ``value``, ``count`` columns) or None, the late rows or None, and ``(row, exception)``
    for rows that could not be read, in row order."""

    results: Any
    late: Any
    errors: list[tuple[dict, Exception]]


def process_arrow(agg: WindowAggregate, batch: Any, key_field: str) -> ArrowOutcome:
    """Feed ``batch`` to ``agg``: keys from column ``key_field``, timestamps and values from
    the columns ``agg`` was given as field names (``timestamp="ts"``, ``value="x"``)."""
    import pyarrow as pa

    _check_columnar(agg)
    n = batch.num_rows
    problems: dict[int, Exception] = {}
    ids = _key_ids(agg, _column(batch, key_field, "key"), problems)
    ts = None
    if agg._processing_time:
        now = max(float(agg._clock()), agg._last_clock)
        agg._last_clock = now
        ts = np.full(n, now)
    elif agg._event_time:
        ts = _floats(batch, agg._ts_field, "timestamp", "a finite number of seconds", problems, finite=True)
    values = None
    if agg._agg_name != "count":
        values = _floats(batch, agg._value_field, "value", "a number", problems, finite=False)
    if agg._engine is None:  # 'mean' over numbers
        agg._vector = False
        agg._engine = agg._make_engine(False)
    keep = None
    if problems:
        keep = np.setdiff1d(np.arange(n), np.fromiter(problems, dtype=np.int64, count=len(problems)), assume_unique=True)
        ids = ids[keep]
        ts = ts[keep] if ts is not None else None
        values = values[keep] if values is not None else None
    fired, late_idx = agg._engine.process(ids, ts, values)
    if agg._processing_time:
        fired = agg._concat(fired, agg._engine.advance(max(agg._engine.watermark, agg._last_clock)))
    late = None
    if len(late_idx):
        rows = late_idx if keep is None else keep[late_idx]
        late = batch.take(pa.array(rows))
    errors = []
    if problems:
        rows = batch.take(pa.array(sorted(problems))).to_pylist()
        errors = [(row, problems[i]) for row, i in zip(rows, sorted(problems))]
    return ArrowOutcome(results_batch(agg, fired), late, errors)


def results_batch(agg: WindowAggregate, fired: dict[str, np.ndarray]) -> Any:
    """Fired windows as a RecordBatch (None when nothing fired)."""
    import pyarrow as pa

    if len(fired["key"]) == 0:
        return None
    counts = fired["count"]
    value = counts if agg._agg_name == "count" else fired["value"]
    return pa.RecordBatch.from_arrays(
        [_keys_of(agg).take(pa.array(fired["key"])), pa.array(fired["start"]), pa.array(fired["end"]), pa.array(value), pa.array(counts)],
        names=["key", "start", "end", "value", "count"],
    )


def _check_columnar(agg: WindowAggregate) -> None:
    if agg._reduce is not None or agg._agg_name not in COLUMN_AGGREGATES or agg._vector:
        name = "a reduce function" if agg._reduce is not None else repr(agg._agg_name)
        msg = f"aggregate {name} needs records; on Arrow batches use one of {', '.join(COLUMN_AGGREGATES)}"
        raise TypeError(msg)
    for what, field, given in (("timestamp", agg._ts_field, agg._timestamp), ("value", agg._value_field, agg._value)):
        if given is not None and field is None and (what == "value" or agg._event_time):
            msg = f"on Arrow batches the {what} is read from a column: pass {what}='<column name>' (or field= for the value), not a callable"
            raise TypeError(msg)


def _column(batch: Any, field: str | None, what: str) -> Any:
    index = -1 if field is None else batch.schema.get_field_index(field)
    if index < 0:
        msg = f"the Arrow batch has no {what} column {field!r} (columns: {', '.join(batch.schema.names)})"
        raise KeyError(msg)
    return batch.column(index)


def _key_ids(agg: WindowAggregate, column: Any, problems: dict[int, Exception]) -> np.ndarray:
    """Dense key ids per row: each distinct key is looked up once in the aggregate's table
    (small non-negative integer keys through a lookup array, others dictionary-encoded)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(column.type) and column.null_count == 0 and len(column):
        ids = _small_int_ids(agg, column.to_numpy())
        if ids is not None:
            return ids

    encoded = pc.dictionary_encode(column, null_encoding="encode")
    distinct = encoded.dictionary.to_pylist()
    table = agg._ids
    ids = np.empty(len(distinct), dtype=np.int64)
    for j, key in enumerate(distinct):
        try:
            ids[j] = table[key]
        except TypeError as exc:  # a list or struct key
            ids[j] = -1
            for i in np.flatnonzero(encoded.indices.to_numpy(zero_copy_only=False) == j).tolist():
                problems[i] = TypeError(f"window operator could not read record: key {key!r:.80} is not hashable ({exc})")
    return ids[encoded.indices.to_numpy(zero_copy_only=False)]


def _small_int_ids(agg: WindowAggregate, values: np.ndarray) -> np.ndarray | None:
    """Ids of integer keys in ``[0, _LUT_LIMIT)`` through an array indexed by key (grown as
    keys arrive, rebuilt when the key table is replaced by a restore); None for others."""
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= _LUT_LIMIT:
        return None
    table = agg._ids
    lut = getattr(agg, "_key_lut", None)
    if lut is None or agg._key_lut_table is not table or len(lut) <= high:  # type: ignore[attr-defined]
        size = max(1024, 1 << high.bit_length())
        lut = np.full(size, -1, dtype=np.int64)
        known = [(k, i) for k, i in table.items() if type(k) is int and 0 <= k < size]
        if known:
            where, known_ids = zip(*known)
            lut[list(where)] = known_ids
        agg._key_lut, agg._key_lut_table = lut, table  # type: ignore[attr-defined]
    ids = lut.take(values)
    if ids.min() < 0:
        new = np.flatnonzero(np.bincount(values[ids < 0]))  # the new keys, each once
        lut[new] = [table[key] for key in new.tolist()]
        ids = lut.take(values)
    return ids


def _floats(batch: Any, field: str | None, what: str, want: str, problems: dict[int, Exception], *, finite: bool) -> np.ndarray:
    """Column ``field`` as float64 seconds or numbers; null (and, with ``finite``, NaN or
    infinite) entries become problems named as the record path names them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = _column(batch, field, what)
    kind = column.type
    if pa.types.is_timestamp(kind):
        values = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64) / _UNITS[kind.unit]
        values[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
    elif kind == pa.float64():
        values = column.to_numpy(zero_copy_only=False)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind) or pa.types.is_boolean(kind):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    else:
        values = np.full(len(column), np.nan)
        for i in range(len(column)):
            problems.setdefault(i, ValueError(f"window operator could not read record: {what} must be {want}, got a {kind} column {field!r}"))
        return values
    if finite:
        with np.errstate(over="ignore"):  # one pass: NaN and infinity carry into the sum
            total = np.add.reduce(values)
        if np.isfinite(total):
            return np.ascontiguousarray(values)
        bad = ~np.isfinite(values)
    else:
        bad = column.is_null().to_numpy(zero_copy_only=False)
    if bad.any():
        for i in np.flatnonzero(bad).tolist():
            problems.setdefault(i, ValueError(f"window operator could not read record: {what} must be {want}, got {values[i] if not np.isnan(values[i]) else None!r} in column {field!r}"))
    return np.ascontiguousarray(values)


def _keys_of(agg: WindowAggregate) -> Any:
    """The aggregate's keys by id as an Arrow array, rebuilt only when new keys arrived."""
    import pyarrow as pa

    keys = agg._ids.keys_by_id
    cached = getattr(agg, "_key_array", None)
    if cached is None or len(cached) != len(keys):
        try:
            cached = pa.array(keys)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # keys of mixed types: keep them as strings
            cached = pa.array([str(k) for k in keys])
        agg._key_array = cached  # type: ignore[attr-defined]
    return cached
