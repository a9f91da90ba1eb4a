"""FAISS index of one vector field: building, incremental adds, filtered search, serialisation.

Holds only the FAISS side. Slot ``i`` of the C++ core is FAISS label ``i``; this module never
sees string ids, metadata or files.
"""

from __future__ import annotations

import os
from typing import Any

import faiss
import numpy as np


def _single_thread_in_child() -> None:
    # FAISS's OpenMP pool does not survive fork(): a forked child that searches with several
    # threads can hang. Forked children therefore search single-threaded; spawned ones
    # (Dask, Ray, multiprocessing "spawn") keep FAISS's default.
    faiss.omp_set_num_threads(1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_single_thread_in_child)

INDEX_KINDS = ("flat", "hnsw", "ivf")
_ptr = faiss.swig_ptr

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"M": 32, "ef_construction": 80, "ef_search": 64},
    "ivf": {"nlist": 256, "nprobe": 16},
}


def _metric_type(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


class FieldIndex:
    """FAISS index over one field's vectors, kept in step with the core's slots."""

    def __init__(self, kind: str, metric: str, dim: int, params: dict[str, Any]) -> None:
        if kind not in INDEX_KINDS:
            msg = f"unknown index {kind!r}; use one of {', '.join(INDEX_KINDS)}"
            raise ValueError(msg)
        self.kind = kind
        self.metric = metric
        self.dim = dim
        self.params = {**DEFAULT_PARAMS[kind], **params}
        self.index: Any = None
        self._rows: np.ndarray | None = None
        self._param_cache: dict[int | None, Any] = {}
        self._filter_cache: tuple[Any, ...] | None = None
        self.reset()

    # -- building ---------------------------------------------------------------------------
    def reset(self) -> None:
        self._filter_cache = None
        self._rows = None
        mt = _metric_type(self.metric)
        if self.kind == "flat":
            self.index = faiss.IndexFlat(self.dim, mt)
        elif self.kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(self.dim, int(self.params["M"]), mt)
            self.index.hnsw.efConstruction = int(self.params["ef_construction"])
        else:
            self.index = None  # IVF is trained once enough vectors exist

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @property
    def ready(self) -> bool:
        """False while an IVF index waits for enough vectors to train on."""
        return self.index is not None

    def ivf_min_train(self) -> int:
        return int(self.params["nlist"]) * 39

    def attach(self, vectors: np.ndarray) -> None:
        """Flat only: makes the index search ``vectors`` (the core's rows, a view into its
        memory) in place instead of holding a copy. The view is valid until the core's next
        write, so the collection calls this again after every write."""
        if len(vectors) == 0:
            self.reset()
            return
        index = self.index
        raw = vectors.reshape(-1).view(np.uint8)
        index.codes = faiss.MaybeOwnedVectorUInt8.create_view(
            faiss.swig_ptr(raw), raw.nbytes, index.codes.owner
        )
        index.ntotal = len(vectors)
        self._rows = vectors  # keeps the core (the view's owner) alive

    def add(self, vectors: np.ndarray) -> None:
        if len(vectors):
            self.index.add(vectors)

    def train_ivf(self, all_vectors: np.ndarray) -> None:
        mt = _metric_type(self.metric)
        nlist = int(self.params["nlist"])
        quantizer = faiss.IndexFlat(self.dim, mt)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, mt)
        rng = np.random.default_rng(0)
        n = len(all_vectors)
        sample = (
            all_vectors
            if n <= 256 * nlist
            else all_vectors[np.sort(rng.choice(n, 256 * nlist, replace=False))]
        )
        index.train(np.ascontiguousarray(sample))
        self._quantizer = quantizer  # the IVF index borrows it
        index.nprobe = int(self.params["nprobe"])
        self.index = index
        self.add(all_vectors)

    # -- search -----------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int,
        bitmap: np.ndarray | None = None,
        fraction: float = 1.0,
        ef_search: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS search; ``bitmap`` (bit i of byte i/8) restricts the labels searched."""
        index = self.index
        k = max(1, min(k, index.ntotal))
        if bitmap is None and not (
            self.kind == "hnsw" and k > int(ef_search or self.params["ef_search"])
        ):
            params = self._plain_params(ef_search)
        else:
            params = self._filtered_params(bitmap, ef_search, k, fraction)
        # ``queries`` comes from the core (C-contiguous float32, dimension checked), so the
        # FAISS wrapper's checks and conversions are skipped: straight to the C++ search.
        n = len(queries)
        scores = np.empty((n, k), dtype=np.float32)
        labels = np.empty((n, k), dtype=np.int64)
        index.search_c(n, _ptr(queries), k, _ptr(scores), _ptr(labels), params)
        return labels, scores

    def _params(self, ef_search: int | None, k: int, fraction: float) -> Any:
        if self.kind == "hnsw":
            ef = int(ef_search or self.params["ef_search"])
            # About ef * fraction of the visited candidates pass the filter: keep that >= k.
            ef = max(ef, k, min(1024, int(k / max(fraction, 1e-3))))
            return faiss.SearchParametersHNSW(efSearch=ef)
        if self.kind == "ivf":
            return faiss.SearchParametersIVF(nprobe=int(self.params["nprobe"]))
        return faiss.SearchParameters()

    def _filtered_params(
        self, bitmap: np.ndarray | None, ef_search: int | None, k: int, fraction: float
    ) -> Any:
        """Search parameters carrying an IDSelectorBitmap; reused while the same bitmap
        array comes back (the collection caches the bitmap of its last filter)."""
        cached = self._filter_cache
        if cached is not None and cached[0] is bitmap and cached[1] == (ef_search, k, fraction):
            return cached[2]
        params = self._params(ef_search, k, fraction)
        if bitmap is None:  # unfiltered, but with search parameters sized for a large k
            return params
        sel = faiss.IDSelectorBitmap(self.ntotal, faiss.swig_ptr(bitmap))
        params.sel = sel
        # The tuple keeps the bitmap and the selector alive as long as the parameters.
        self._filter_cache = (bitmap, (ef_search, k, fraction), params, sel)
        return params

    def _plain_params(self, ef_search: int | None) -> Any:
        """Unfiltered search parameters, cached (building SWIG objects costs microseconds)."""
        key = ef_search
        cached = self._param_cache.get(key)
        if cached is None:
            if self.kind == "hnsw":
                cached = faiss.SearchParametersHNSW(
                    efSearch=int(ef_search or self.params["ef_search"])
                )
            elif self.kind == "ivf":
                cached = faiss.SearchParametersIVF(nprobe=int(self.params["nprobe"]))
            self._param_cache[key] = cached
        return cached

    # -- persistence ------------------------------------------------------------------------
    def serialize(self) -> np.ndarray:
        """``faiss.serialize_index`` bytes as a uint8 array (the core reads it in place)."""
        return faiss.serialize_index(self.index)

    def load(self, blob: bytes) -> None:
        index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        if self.kind == "ivf":
            index.nprobe = int(self.params["nprobe"])
        self.index = index
