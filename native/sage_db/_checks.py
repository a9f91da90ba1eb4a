"""Checks of the arguments callers pass to sage_db, and the config of a new collection.

Holds pure functions that validate caller input (ids, k, filters, vectors, queries, include,
fusion options, collection options) and raise `ValueError`, `TypeError` or `KeyError` with a
message saying what to pass instead, and `is_arrow`, which recognises a pyarrow batch or table
without importing pyarrow. They read no collection state beyond what they are
given and do no I/O, searching or writing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sage_db._index import FieldIndex

METRICS = ("cosine", "l2", "ip")
# The largest k (or hybrid candidates) accepted; larger values are refused as mistakes. Any
# accepted k is capped at the number of live records before buffers are allocated.
MAX_K = 2**31 - 1


def make_config(
    name: str,
    *,
    fields: Mapping[str, int],
    metric: str,
    index: str,
    index_params: Mapping[str, Any],
) -> dict[str, Any]:
    """The stored config of a new collection, after checking every option."""
    if metric not in METRICS:
        msg = f"unknown metric {metric!r} for collection {name!r}; use one of {', '.join(METRICS)}"
        raise ValueError(msg)
    if not fields:
        msg = f"collection {name!r} needs a dimension: pass dim=... or fields={{'text': 384}}"
        raise ValueError(msg)
    for fname, dim in fields.items():
        if not isinstance(fname, str) or not fname:
            msg = f"vector field names must be non-empty str, got {fname!r}"
            raise ValueError(msg)
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim <= 0:
            msg = f"dimension of field {fname!r} must be a positive int, got {dim!r}"
            raise ValueError(msg)
    FieldIndex(index, metric, 1, dict(index_params))  # validates the index kind
    return {
        "name": name,
        "fields": [[f, int(d)] for f, d in fields.items()],
        "metric": metric,
        "index": index,
        "index_params": dict(index_params),
    }


def is_arrow(obj: Any) -> bool:
    """Whether ``obj`` is a pyarrow RecordBatch or Table, told by its type's module and name so
    that pyarrow is never imported here (it is an optional dependency)."""
    cls = type(obj)
    return cls.__module__.startswith("pyarrow") and cls.__name__ in ("RecordBatch", "Table")


def id_list(ids: Any) -> list[str]:
    if isinstance(ids, (str, bytes)):
        msg = f"ids must be a list of str, not a single {type(ids).__name__}: wrap it as [{ids!r}]"
        raise TypeError(msg)
    return list(ids)


def check_k(k: int, name: str = "k") -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
        msg = f"{name} must be a positive int, got {k!r}"
        raise ValueError(msg)
    if k > MAX_K:
        msg = (
            f"{name}={k} is beyond any collection sage_db can hold (at most {MAX_K:,}); ask for "
            f"the number of results you will read (a {name} above the number of records returns "
            "them all)"
        )
        raise ValueError(msg)


def check_where(where: Any) -> None:
    if where is not None and not isinstance(where, Mapping):
        msg = (
            f"where must be a dict filter, not the {type(where).__name__} {where!r}; write it as "
            """{"n": 1}, {"n": {"$gte": 1}} or {"$or": [{"lang": "en"}, {"lang": "de"}]} """
            "(operators in docs/sage_db.md)"
        )
        raise TypeError(msg)


def check_real(array: Any, what: str) -> None:
    """Complex arrays would be cast to float32 with their imaginary part dropped."""
    if isinstance(array, np.ndarray) and array.dtype.kind == "c":
        msg = (
            f"{what} has complex dtype {array.dtype}; sage_db stores real vectors only: pass "
            "array.real, np.abs(array) or both parts side by side (np.hstack([a.real, a.imag]))"
        )
        raise TypeError(msg)


def check_include(include: Sequence[str]) -> None:
    unknown = set(include) - {"metadata", "text"}
    if unknown:
        msg = f"include accepts 'metadata' and 'text', not {sorted(unknown)}"
        raise ValueError(msg)


def check_fusion(fusion: str, alpha: float) -> None:
    if fusion not in ("rrf", "weighted"):
        msg = f"unknown fusion {fusion!r}; use 'rrf' or 'weighted'"
        raise ValueError(msg)
    if not 0.0 <= alpha <= 1.0:
        msg = f"alpha must lie in [0, 1], got {alpha}"
        raise ValueError(msg)


def field_name(collection: str, fields: dict[str, int], field: str | None) -> str:
    """The vector field a query or write addresses: ``field``, or the only one."""
    if field is None:
        if len(fields) != 1:
            msg = f"collection {collection!r} has fields {fields}: pass field=... or a dict query"
            raise ValueError(msg)
        return next(iter(fields))
    if field not in fields:
        msg = f"collection {collection!r} has no vector field {field!r}; fields: {fields}"
        raise KeyError(msg)
    return field


def vector_list(collection: str, fields: dict[str, int], vectors: Any) -> list[Any]:
    """Upsert vectors in field order: ``vectors`` is an array (one field) or a dict by field."""
    if isinstance(vectors, Mapping):
        unknown = set(vectors) - set(fields)
        if unknown:
            msg = f"collection {collection!r} has no vector field(s) {sorted(unknown)}; fields: {fields}"
            raise ValueError(msg)
        missing = [f for f in fields if f not in vectors]
        if missing:
            msg = f"upsert into {collection!r} must give every vector field; missing {missing}"
            raise ValueError(msg)
        for f in fields:
            check_real(vectors[f], f"vectors[{f!r}] for {collection!r}")
        return [vectors[f] for f in fields]
    if len(fields) != 1:
        msg = f"collection {collection!r} has fields {fields}: pass vectors as a dict by field"
        raise ValueError(msg)
    check_real(vectors, f"vectors for {collection!r}")
    return [vectors]


def multi_query(
    collection: str,
    fields: dict[str, int],
    query: Mapping[str, Any],
    weights: Mapping[str, float] | None,
) -> tuple[dict[str, np.ndarray], dict[str, float], bool]:
    """A dict query ``{field: vector or batch}`` as 2-D float32 arrays by field, the weight of
    each field, and whether the query was single vectors (not batches)."""
    if not query:
        msg = "a dict query needs at least one field"
        raise ValueError(msg)
    for f, q in query.items():
        field_name(collection, fields, f)
        check_real(q, f"query[{f!r}]")
    w = (
        {f: 1.0 for f in query}
        if weights is None
        else {f: float(weights.get(f, 0.0)) for f in query}
    )
    arrays = {f: np.asarray(q, dtype=np.float32) for f, q in query.items()}
    dims = {a.ndim for a in arrays.values()}
    if len(dims) != 1:
        msg = "all fields of a dict query must be single vectors, or batches of the same length"
        raise ValueError(msg)
    single = dims == {1}
    if single:
        arrays = {f: a[None, :] for f, a in arrays.items()}
    if len({len(a) for a in arrays.values()}) != 1:
        msg = "all fields of a dict query must hold the same number of queries"
        raise ValueError(msg)
    return arrays, w, single
