"""Reading one batch of Python records: key ids, timestamps, numeric values and vectors.

Holds the per-batch readers and the collector of unreadable records (dead letters). It
keeps no state between batches except the key table passed in, and knows nothing about
windows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import itemgetter
from typing import Any

import numpy as np

from sage_flow import _core


class KeyIds(dict):  # type: ignore[type-arg]
    """Python key -> dense int64 id, assigned on first sight and kept for the operator's life."""

    def __init__(self) -> None:
        super().__init__()
        self.keys_by_id: list[Any] = []

    def __missing__(self, key: Hashable) -> int:
        kid = len(self.keys_by_id)
        self[key] = kid
        self.keys_by_id.append(key)
        return kid


def getter(fn: Callable[[Any], Any] | str | None) -> Callable[[Any], Any] | None:
    """A field name means ``record[name]``."""
    if isinstance(fn, str):
        return itemgetter(fn)
    return fn


def record_error(kind: type[Exception], record: Any, what: str) -> Exception:
    return kind(f"window operator could not read record {record!r:.200}: {what}")


class BatchErrors:
    """Marks unreadable records of one batch; keeps ``(record, exception)`` for each,
    the first problem per record only."""

    def __init__(self, records: list[Any]) -> None:
        self.records = records
        self.bad = np.zeros(len(records), dtype=bool)
        self._items: list[tuple[int, Exception]] = []

    def add(self, i: int, exc: Exception) -> None:
        if not self.bad[i]:
            self.bad[i] = True
            self._items.append((i, exc))

    def in_record_order(self) -> list[tuple[Any, Exception]]:
        return [(self.records[i], exc) for i, exc in sorted(self._items, key=lambda t: t[0])]


def key_ids(ids: KeyIds, keys: list[Any], errs: BatchErrors) -> np.ndarray:
    out, missing = _core.lookup_ids(keys, ids)
    for i in missing:
        key = keys[i]
        try:
            out[i] = ids[key]
        except TypeError as exc:
            what = f"key {key!r:.80} is not hashable ({exc})"
            errs.add(i, record_error(TypeError, errs.records[i], what))
    return out


def call_each(fn: Callable[[Any], Any], errs: BatchErrors, what: str) -> list[Any]:
    """``[fn(r) for r in records]``; a record whose call raises gets ``None`` and an error."""
    records = errs.records
    try:
        return list(map(fn, records))
    except Exception:  # noqa: BLE001 - retried per record below
        pass
    raw: list[Any] = []
    for i, rec in enumerate(records):
        try:
            raw.append(fn(rec))
        except Exception as exc:  # noqa: BLE001 - routed to errors
            raw.append(None)
            kind = (
                type(exc) if isinstance(exc, (KeyError, AttributeError, TypeError)) else ValueError
            )
            errs.add(i, record_error(kind, rec, f"{what} function raised {exc!r}"))
    return raw


def _field_error(record: Any, field: str, what: str, want: str) -> Exception:
    try:
        got = record[field]
    except Exception as exc:  # noqa: BLE001 - reported
        kind = type(exc) if isinstance(exc, (KeyError, TypeError, IndexError)) else ValueError
        return record_error(kind, record, f"{what} field {field!r} is missing ({exc!r})")
    return record_error(ValueError, record, f"{what} must be {want}, got {got!r:.80}")


def numbers(
    fn: Callable[[Any], Any],
    field: str | None,
    errs: BatchErrors,
    *,
    what: str,
    want: str,
    allow_nonfinite: bool,
) -> np.ndarray:
    """float64 column of ``fn(record)``; a field name is read in C++ without calling fn."""
    records = errs.records
    if field is not None:
        col, bad_idx = _core.extract_float64(records, field, allow_nonfinite=allow_nonfinite)
        for i in bad_idx:
            errs.add(i, _field_error(records[i], field, what, want))
        return col
    return numbers_from(
        call_each(fn, errs, what), errs, what=what, want=want, allow_nonfinite=allow_nonfinite
    )


def numbers_from(
    raw: list[Any], errs: BatchErrors, *, what: str, want: str, allow_nonfinite: bool
) -> np.ndarray:
    col, bad_idx = _core.to_float64(raw, allow_nonfinite=allow_nonfinite)
    for i in bad_idx:
        errs.add(
            i,
            record_error(ValueError, errs.records[i], f"{what} must be {want}, got {raw[i]!r:.80}"),
        )
    return col


def is_vector(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, (int, float, np.number))


def vectors(raw: list[Any], errs: BatchErrors, dim: int) -> np.ndarray:
    """``(n, dim)`` float32 matrix; rows of other dimensions become errors (zero rows)."""
    if not errs.bad.any():
        try:
            mat = np.asarray(raw, dtype=np.float32)
            if mat.ndim == 2 and mat.shape[0] == len(raw) and (dim == 0 or mat.shape[1] == dim):
                return np.ascontiguousarray(mat)
        except (ValueError, TypeError):
            pass
    rows: list[np.ndarray | None] = []
    for i, v in enumerate(raw):
        row = None
        if not errs.bad[i]:
            try:
                row = np.asarray(v, dtype=np.float32)
            except (ValueError, TypeError) as exc:
                errs.add(
                    i,
                    record_error(
                        ValueError, errs.records[i], f"value is not a numeric vector ({exc})"
                    ),
                )
            else:
                if row.ndim == 1 and row.size and dim and row.size != dim:
                    what = f"vector has dimension {row.size}, expected dimension {dim} (mixed vector dimensions)"
                elif row.ndim != 1 or row.size == 0:
                    what = f"value has shape {row.shape}, expected a non-empty 1-D vector"
                else:
                    what = ""
                    dim = dim or row.size
                if what:
                    errs.add(i, record_error(ValueError, errs.records[i], what))
                    row = None
        rows.append(row)
    mat = np.zeros((len(raw), max(dim, 1)), dtype=np.float32)
    for i, maybe_row in enumerate(rows):
        if maybe_row is not None:
            mat[i] = maybe_row
    return mat
