"""Arrow input for upserts: a `pyarrow.RecordBatch` or `pyarrow.Table` as upsert arguments.

Holds `upsert_arguments`, which splits a batch or table into what `Collection.upsert` takes
from lists: the ids, one ``(n, dim)`` float32 array per vector field, the metadata dicts and
the texts, checking each column (errors name the column and, where one is at fault, the row). Vectors are taken from the
column's value buffer without a per-row loop (without a copy for a single-chunk
``FixedSizeList<float32>``); every other column becomes one metadata key. pyarrow is imported
only here, and collection.py imports this module only once `_checks.is_arrow` has recognised
an Arrow object, so ``import sage_db`` never imports pyarrow. No I/O, no collection state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

ID_COLUMN = "id"
VECTOR_COLUMN = "vector"
TEXT_COLUMN = "text"


def _is_string(t: Any) -> bool:
    if pa.types.is_dictionary(t):
        return _is_string(t.value_type)
    is_view = getattr(pa.types, "is_string_view", None)  # pyarrow >= 16
    return bool(
        pa.types.is_string(t) or pa.types.is_large_string(t) or (is_view is not None and is_view(t))
    )


def _is_scalar(t: Any) -> bool:
    """Types whose values sage_db stores as metadata: str, int, float, bool."""
    return bool(
        _is_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    )


def _first_null(col: Any) -> int:
    """Row of the first null of an Array or ChunkedArray that has one."""
    return int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])


def _one_array(col: Any) -> Any:
    """A column as one Array: the chunk itself when there is one, else the chunks joined."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _vectors(collection: str, field: str, dim: int, name: str, col: Any) -> np.ndarray:
    """An ``(n, dim)`` float32 array from a list column, checked for nulls, ragged rows and the
    dimension; without a copy for a single-chunk ``FixedSizeList<float32>``."""
    arr = _one_array(col)
    t = arr.type
    fixed = pa.types.is_fixed_size_list(t)
    if not (fixed or pa.types.is_list(t) or pa.types.is_large_list(t)):
        msg = (
            f"column {name!r} (vectors of field {field!r}) has type {t}; pass "
            f"FixedSizeList<float32> of {dim} values (pa.list_(pa.float32(), {dim})), or a list of floats"
        )
        raise TypeError(msg)
    vt = t.value_type
    if not (pa.types.is_floating(vt) or pa.types.is_integer(vt)):
        msg = f"column {name!r} (vectors of field {field!r}) holds {vt} values; vectors are floats"
        raise TypeError(msg)
    n = len(arr)
    if arr.null_count:
        msg = f"column {name!r} row {_first_null(arr)} is null; every record needs a vector"
        raise ValueError(msg)
    if fixed:
        if t.list_size != dim:
            msg = (
                f"column {name!r} row 0 has a vector of dimension {t.list_size} (the column is "
                f"FixedSizeList of {t.list_size}); field {field!r} of collection {collection!r} "
                f"has dimension {dim}"
            )
            raise ValueError(msg)
    else:
        lengths = np.diff(arr.offsets.to_numpy())
        bad = np.flatnonzero(lengths != dim)
        if bad.size:
            row = int(bad[0])
            ragged = " (the column is ragged)" if np.any(lengths != lengths[0]) else ""
            msg = (
                f"column {name!r} row {row} has a vector of dimension {int(lengths[row])}{ragged}; "
                f"field {field!r} of collection {collection!r} has dimension {dim}"
            )
            raise ValueError(msg)
    values = arr.flatten()  # the values of these rows only (slices and offsets applied)
    if values.null_count:
        row = _first_null(values) // dim
        msg = f"column {name!r} row {row} has a null inside its vector"
        raise ValueError(msg)
    flat = values.to_numpy(zero_copy_only=False)  # no copy: primitive values without nulls
    if flat.dtype != np.float32:
        flat = flat.astype(np.float32)
    return flat.reshape(n, dim)


def _strings(name: str, col: Any, what: str, rule: str) -> list[str]:
    if not _is_string(col.type):
        msg = f"column {name!r} ({what}) has type {col.type}; {what} are str: cast it with col.cast(pa.string())"
        raise TypeError(msg)
    if col.null_count:
        msg = f"column {name!r} row {_first_null(col)} is null; {rule}"
        raise ValueError(msg)
    return list(col.to_pylist())


def upsert_arguments(
    collection: str,
    fields: dict[str, int],
    data: Any,
    *,
    id_column: str | None,
    vector_column: str | Mapping[str, str] | None,
    text_column: str | None,
) -> tuple[list[str], list[np.ndarray], list[dict[str, Any]] | None, list[str] | None]:
    """``(ids, vectors by field, metadata, texts)`` from a RecordBatch or Table.

    Columns: ``id_column`` (default ``"id"``, str); the vectors in ``vector_column``
    (default ``"vector"`` for a one-field collection; for several fields a dict
    ``{field: column}``, by default each field's own name); the texts in ``text_column``
    (default ``"text"``, used when present); every other column is one metadata key.
    """
    names = list(data.schema.names)
    twice = sorted(c for c, times in Counter(names).items() if times > 1)
    if twice:
        msg = f"column name(s) {twice} appear more than once in the Arrow data"
        raise ValueError(msg)
    ids_name = ID_COLUMN if id_column is None else id_column
    if vector_column is None:
        by_field = {f: VECTOR_COLUMN if len(fields) == 1 else f for f in fields}
    elif isinstance(vector_column, str):
        if len(fields) != 1:
            msg = (
                f"collection {collection!r} has fields {fields}: pass vector_column as a dict "
                "{field: column}"
            )
            raise ValueError(msg)
        by_field = {next(iter(fields)): vector_column}
    else:
        unknown = sorted(set(vector_column) - set(fields))
        missing = [f for f in fields if f not in vector_column]
        if unknown or missing:
            msg = (
                f"vector_column must map every vector field of {collection!r} ({list(fields)}) "
                f"to a column; unknown {unknown}, missing {missing}"
            )
            raise ValueError(msg)
        by_field = {f: vector_column[f] for f in fields}
    text_name = TEXT_COLUMN if text_column is None else text_column
    has_text = text_name in names
    if text_column is not None and not has_text:
        msg = f"no text column {text_column!r} in the Arrow data (columns: {names})"
        raise KeyError(msg)
    roles = [ids_name, *by_field.values()] + ([text_name] if has_text else [])
    if len(set(roles)) != len(roles):
        msg = f"the id, vector and text columns must be different columns, got {roles}"
        raise ValueError(msg)
    for role, col in [("id", ids_name)] + [
        (f"vectors of field {f!r}", c) for f, c in by_field.items()
    ]:
        if col not in names:
            msg = f"no {role} column {col!r} in the Arrow data (columns: {names})"
            raise KeyError(msg)

    ids = _strings(ids_name, data.column(ids_name), "ids", "every record needs an id")
    vecs = [_vectors(collection, f, fields[f], c, data.column(c)) for f, c in by_field.items()]
    texts = (
        _strings(text_name, data.column(text_name), "texts", 'texts must be str (use "" for none)')
        if has_text
        else None
    )
    keys = [c for c in names if c not in roles]
    columns = []
    for key in keys:
        col = data.column(key)
        if col.null_count:
            msg = (
                f"column {key!r} row {_first_null(col)} is null: sage_db stores no null metadata "
                "(None values are refused the same way). Fill it (col.fill_null(...)) with a "
                'sentinel such as "" or -1, or upsert the rows without that key separately'
            )
            raise TypeError(msg)
        if not _is_scalar(col.type):
            msg = (
                f"column {key!r} has type {col.type}; metadata columns must hold str, int, float "
                "or bool (name the vector column with vector_column=...)"
            )
            raise TypeError(msg)
        columns.append(col.to_pylist())
    metadata = [dict(zip(keys, row)) for row in zip(*columns)] if keys else None
    return ids, vecs, metadata, texts
