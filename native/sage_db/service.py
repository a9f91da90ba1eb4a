"""`SageDBService`: one sage_db collection exposed as a SAGE service.

SAGE services are plain classes built as ``cls(*args, **kwargs)`` with optional lifecycle
methods (``setup``, ``start``, ``stop``, ``health``); operators call their methods by name,
e.g. ``call_service("kb", q, method="search", k=5)``. This module holds only that adapter: it
imports nothing from sage_core, and every method delegates to `sage_db.Collection`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sage_db.collection import Collection, Hits
from sage_db.database import SageDB


def _hits_to_dicts(hits: Hits) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, (id_, score) in enumerate(hits):
        row: dict[str, Any] = {"id": id_, "score": score}
        if hits.records is not None:
            row.update({k: v for k, v in hits.records[i].items() if k != "id"})
        out.append(row)
    return out


class SageDBService:
    """A sage_db collection as a service.

    :arg path: database directory.
    :arg collection: collection name (created by a writer if missing).
    :arg mode: ``"w"`` for the one writer, ``"r"`` for readers (they ``refresh()`` before
        each read when ``refresh_interval`` seconds have passed; 0 = every call).
    :arg collection_options: passed to :meth:`SageDB.collection` (``dim``, ``metric``,
        ``index``, ``fields``, index parameters).

    Results are plain lists of ``{"id", "score", ["metadata", "text"]}`` dicts so they cross
    process boundaries cheaply.
    """

    def __init__(
        self,
        path: str,
        collection: str = "default",
        *,
        mode: str = "w",
        sync: bool = True,
        refresh_interval: float = 1.0,
        **collection_options: Any,
    ) -> None:
        self.path = path
        self.collection_name = collection
        self.mode = mode
        self.sync = sync
        self.refresh_interval = refresh_interval
        self.collection_options = collection_options
        self._db: SageDB | None = None
        self._col: Collection | None = None
        self._last_refresh = 0.0
        self._lock = threading.Lock()
        self._calls = 0
        self._errors = 0

    # -- lifecycle --------------------------------------------------------------------------
    def setup(self) -> None:
        """Opens the database and the collection (idempotent)."""
        with self._lock:
            if self._db is None:
                self._db = SageDB.open(self.path, mode=self.mode, sync=self.sync)
                self._col = self._db.collection(self.collection_name, **self.collection_options)
                self._last_refresh = time.monotonic()

    def start(self) -> None:
        self.setup()

    def stop(self) -> None:
        """Closes the database (releases the writer lock)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None
            self._col = None

    def health(self) -> dict[str, Any]:
        if self._col is None:
            return {"status": "stopped", "path": self.path, "collection": self.collection_name}
        return {
            "status": "ok",
            "path": self.path,
            "collection": self.collection_name,
            "mode": self.mode,
            "count": self._col.count(),
            "calls": self._calls,
            "errors": self._errors,
        }

    # -- calls ------------------------------------------------------------------------------
    def _collection(self) -> Collection:
        if self._col is None:
            self.setup()
        assert self._col is not None
        if self.mode == "r" and time.monotonic() - self._last_refresh >= self.refresh_interval:
            self._col.refresh()
            self._last_refresh = time.monotonic()
        self._calls += 1
        return self._col

    def _guard(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception:
            self._errors += 1
            raise

    def search(
        self,
        query: Any,
        k: int = 10,
        *,
        where: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("metadata", "text"),
        **kwargs: Any,
    ) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
        hits = self._guard(
            self._collection().search, query, k, where=where, include=include, **kwargs
        )
        if isinstance(hits, list):
            return [_hits_to_dicts(h) for h in hits]
        return _hits_to_dicts(hits)

    def search_text(
        self,
        text: str,
        k: int = 10,
        *,
        where: Mapping[str, Any] | None = None,
        include: Sequence[str] = ("metadata", "text"),
    ) -> list[dict[str, Any]]:
        return _hits_to_dicts(
            self._guard(self._collection().search_text, text, k, where=where, include=include)
        )

    def hybrid(
        self,
        query: Any,
        text: str,
        k: int = 10,
        *,
        include: Sequence[str] = ("metadata", "text"),
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        return _hits_to_dicts(
            self._guard(self._collection().hybrid, query, text, k, include=include, **kwargs)
        )

    def upsert(
        self,
        ids: Any,
        vectors: Any = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        texts: Sequence[str] | None = None,
        **columns: Any,
    ) -> int:
        """`Collection.upsert`: lists, or a pyarrow RecordBatch/Table as ``ids`` (``columns``:
        ``id_column``, ``vector_column``, ``text_column``). Returns the number of records."""
        self._guard(self._collection().upsert, ids, vectors, metadata, texts, **columns)
        return len(ids)

    def delete(self, ids: Sequence[str]) -> int:
        return int(self._guard(self._collection().delete, ids))

    def get(self, ids: Sequence[str]) -> list[dict[str, Any] | None]:
        return self._guard(self._collection().get, ids)

    def count(self) -> int:
        return self._collection().count()

    def checkpoint(self) -> None:
        self._guard(self._collection().checkpoint)

    def __getstate__(self) -> dict[str, Any]:
        # Pickles as configuration; the copy opens its own handle on first use.
        state = self.__dict__.copy()
        state.update(_db=None, _col=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
