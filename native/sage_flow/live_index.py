"""A live vector index of recent windows: fired vector windows upserted into sage_db.

:class:`WindowIndexSink` takes the output of a vector window aggregate (``centroid``/``mean``)
and keeps one record per key and window in a sage_db collection: id ``"<key>@<start>"``,
the window's vector, metadata ``key``, ``start``, ``end``, ``count``. A re-fired window
(a late record updated it) replaces its record. With ``keep_seconds`` the collection holds
only windows that ended within ``keep_seconds`` of the newest window end seen: the index of
the last N minutes that a real-time agent searches.

Example::

    from sage_flow import TumblingWindow
    from sage_flow.live_index import WindowIndexSink

    (env.from_source(Embeddings)                 # records {"user", "ts", "vec"}
        .keyby(lambda e: e["user"])
        .window(TumblingWindow(seconds=60), timestamp="ts")
        .aggregate("centroid", value="vec")
        .sink(WindowIndexSink, "data/live", "recent", keep_seconds=600))

    SageDB.open("data/live", mode="r").collection("recent").search(q, k=5)

The sink is the collection's single writer: run it with parallelism 1. Upserts are
idempotent by id, so a job resumed from a checkpoint rewrites the same records.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from sage_core import SinkFunction
from sage_flow.results import WindowResult


class WindowIndexSink(SinkFunction):
    """Upsert fired vector windows into ``collection`` of the sage_db at ``path``."""

    def __init__(
        self,
        path: str,
        collection: str,
        *,
        keep_seconds: float | None = None,
        metric: str = "cosine",
        index: str = "flat",
    ):
        if keep_seconds is not None and keep_seconds <= 0:
            msg = f"WindowIndexSink: keep_seconds must be > 0 (or None to keep every window), got {keep_seconds!r}"
            raise ValueError(msg)
        self.path, self.name = path, collection
        self.keep_seconds, self.metric, self.index = keep_seconds, metric, index
        self._db: Any = None
        self._col: Any = None
        self._ends: list[tuple[float, str]] = []  # heap of (window end, id) for expiry
        self._newest = float("-inf")

    def open(self) -> None:
        if self.ctx.parallelism != 1:
            msg = f"WindowIndexSink {self.ctx.name!r}: a sage_db collection has one writer; use parallelism=1"
            raise ValueError(msg)
        from sage_db import SageDB

        self._db = SageDB.open(self.path)

    def execute(self, data: WindowResult) -> None:
        if not isinstance(data, WindowResult):
            msg = f"WindowIndexSink expects WindowResult records from .window(...).aggregate(...), got {type(data).__name__}"
            raise TypeError(msg)
        vector = np.asarray(data.value, dtype=np.float32)
        if vector.ndim != 1:
            msg = f"WindowIndexSink needs a vector aggregate (centroid/mean of vectors), got value {data.value!r}"
            raise TypeError(msg)
        if self._col is None:
            self._col = self._db.collection(
                self.name, dim=vector.shape[0], metric=self.metric, index=self.index
            )
        record_id = f"{data.key}@{data.start:g}"
        meta = {
            "key": str(data.key),
            "start": float(data.start),
            "end": float(data.end),
            "count": int(data.count),
        }
        self._col.upsert(ids=[record_id], vectors=vector[None, :], metadata=[meta])
        if self.keep_seconds is not None:
            heapq.heappush(self._ends, (float(data.end), record_id))
            self._newest = max(self._newest, float(data.end))
            self._expire()

    def _expire(self) -> None:
        horizon = self._newest - float(self.keep_seconds or 0.0)
        old = []
        while self._ends and self._ends[0][0] < horizon:
            old.append(heapq.heappop(self._ends)[1])
        if old:
            self._col.delete(old)

    def snapshot(self) -> Any:
        return {"ends": list(self._ends), "newest": self._newest}

    def restore(self, state: Any) -> None:
        self._ends, self._newest = list(state["ends"]), state["newest"]
        heapq.heapify(self._ends)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
