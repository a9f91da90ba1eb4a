"""Result types of the window operator: fired windows, top-k values, batch outcomes and
the reduce-failure error. Plain data only; no engine or operator logic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from sage_flow._core import build_objects

__all__ = ["BatchOutcome", "TopK", "WindowReduceError", "WindowResult"]


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One fired window of one key.

    ``value`` is the aggregate: a number for scalar aggregates (``int`` for count), a
    float32 vector for ``centroid``, a :class:`TopK` for ``topk``, or whatever the user's
    reduce function returned. ``start``/``end`` are seconds (``end`` exclusive); for count
    windows they are the key's record positions. ``count`` is the number of records in the
    window. A window updated by a late record fires again with the updated value.
    """

    key: Any
    start: float
    end: float
    value: Any
    count: int

    def __reduce__(self) -> tuple[Any, ...]:
        return (WindowResult, (self.key, self.start, self.end, self.value, self.count))


_SLOTS = ("key", "start", "end", "value", "count")


def make_results(keys: list, starts: list, ends: list, values: list, counts: list) -> list[WindowResult]:
    """One WindowResult per row of the columns, built in C++ without the frozen-dataclass
    ``__init__`` (hot path: one result per fired window).

    >>> make_results(["a"], [0.0], [10.0], [3], [3])
    [WindowResult(key='a', start=0.0, end=10.0, value=3, count=3)]
    """
    return build_objects(WindowResult, _SLOTS, (keys, starts, ends, values, counts))


class TopK(NamedTuple):
    """The ``k`` records of a window most similar to the query (cosine similarity).

    ``vectors`` is ``(m, dim)`` float32 with ``m <= k``, best first; ``scores`` is ``(m,)``.
    Ties keep the earlier record.
    """

    vectors: np.ndarray
    scores: np.ndarray


class BatchOutcome(NamedTuple):
    """What :meth:`WindowAggregate.process_batch` returns.

    - ``results``: windows fired by this batch (including late re-fires), in firing order.
    - ``late``: records that arrived after every window they belong to was purged
      (watermark >= window end + allowed lateness); route them to a side output.
    - ``errors``: ``(record, exception)`` for records that could not be read (missing or
      non-numeric timestamp, bad value, wrong vector dimension, unhashable key), in record
      order, then ``(window, exception)`` for windows whose reduce function raised
      (``window`` is a WindowResult whose value is the list of values). Route them to a
      dead-letter output. The rest of the batch is processed normally.
    """

    results: list[WindowResult]
    late: list[Any]
    errors: list[tuple[Any, Exception]]


class WindowReduceError(RuntimeError):
    """A user reduce function raised while firing windows in ``flush`` or
    ``advance_watermark``. ``results`` holds the windows that did reduce; ``errors`` holds
    ``(window, exception)`` where ``window.value`` is the list of values given to reduce.
    (In ``process_batch`` such windows go to ``BatchOutcome.errors`` instead.)
    """

    def __init__(self, results: list[WindowResult], errors: list[tuple[Any, Exception]]) -> None:
        self.results = results
        self.errors = errors
        msg = f"reduce function failed for {len(errors)} window(s): {errors[0][1]!r}"
        super().__init__(msg)
