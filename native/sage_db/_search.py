"""How a collection answers a search: the strategy, not the API.

Holds the dense search strategy (FAISS index or exact C++ scan, tombstone and filter
handling, the exact fallback for short graph results), the cache of the last filter's
selection and bitmap, multi-field scoring and hybrid (dense + BM25) fusion. Results are
slots and scores; turning them into `Hits` and checking the caller's arguments belong to
collection.py and _checks.py. Nothing here writes, loads or changes records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sage_db import _core
from sage_db._checks import check_where
from sage_db._index import FieldIndex

Dense = tuple[list[list[str]], np.ndarray, np.ndarray, np.ndarray]


def capped(k: int, core: Any) -> int:
    """``k`` limited to the live records: buffers are sized by this, never by the caller's k."""
    return max(1, min(int(k), int(core.count)))


class Selections:
    """Evaluates ``where`` filters in C++. The last result is reused while the filter text,
    the log position and the slot layout are unchanged (a service answering many queries
    with one filter evaluates it once)."""

    def __init__(self) -> None:
        self._last: tuple[Any, Any, np.ndarray] | None = None

    def select(self, core: Any, where: Mapping[str, Any] | None) -> Any:
        if where is None:
            return None
        check_where(where)
        key = (repr(where), core.lsn, core.layout_version)
        cached = self._last
        if cached is not None and cached[0] == key:
            return cached[1]
        sel = core.select(_core.Filter(dict(where)))
        self._last = (key, sel, sel.bitmap())
        return sel

    def bitmap(self, sel: Any) -> np.ndarray:
        cached = self._last
        if cached is not None and cached[1] is sel:
            return cached[2]
        return sel.bitmap()


def dense(
    core: Any,
    fname: str,
    fi: FieldIndex,
    queries: np.ndarray,
    k: int,
    sel: Any,
    ef_search: int | None,
    *,
    exact_fraction: float,
    selections: Selections,
) -> Dense:
    """Top-k per query row: (ids, scores, counts, slots) as returned by the core's resolve.

    FAISS searches unless the index is not trained yet or the filter keeps at most
    ``exact_fraction`` of the slots; then the core scans the allowed rows exactly."""
    n_slots = core.n_slots
    live = core.count
    if live == 0 or (sel is not None and sel.count == 0):
        nq = len(queries)
        return (
            [[] for _ in range(nq)],
            np.full((nq, k), np.nan, np.float32),
            np.zeros(nq, np.int64),
            np.full((nq, k), -1, np.int64),
        )
    if not fi.ready or (sel is not None and sel.count <= exact_fraction * n_slots):
        labels, scores = core.exact_search(fname, queries, k, sel)
        return core.resolve(labels, scores, k, None)
    bitmap = None
    kk = k
    if sel is not None:
        bitmap = selections.bitmap(sel)
    elif core.n_dead:
        if core.n_dead <= 256:
            kk = k + core.n_dead
        else:
            sel = core.select(None)
            bitmap = sel.bitmap()
    fraction = (sel.count / n_slots) if sel is not None else 1.0
    labels, scores = fi.search(queries, kk, bitmap, fraction, ef_search)
    ids, sc, counts, slots = core.resolve(labels, scores, k, sel)
    want = min(k, sel.count if sel is not None else live)
    if min(map(len, ids)) < want:
        short = np.flatnonzero(counts < want)
        # The graph walk found fewer than k allowed neighbours: scan those queries exactly.
        el, es = core.exact_search(fname, queries[short], k, sel)
        eids, esc, ecounts, eslots = core.resolve(el, es, k, None)
        for j, row in enumerate(short.tolist()):
            ids[row] = eids[j]
            sc[row] = esc[j]
            counts[row] = ecounts[j]
            slots[row] = eslots[j]
    return ids, sc, counts, slots


def multi_field(
    core: Any,
    indexes: dict[str, FieldIndex],
    metric: str,
    prepared: dict[str, np.ndarray],
    weights: dict[str, float],
    k: int,
    sel: Any,
    ef_search: int | None,
    *,
    exact_fraction: float,
    selections: Selections,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Several vector fields searched together: per query row, the top-k (slots, scores) by
    ``sum(weights[f] * sim_f)`` over the union of each field's candidates (distances count
    negatively for l2). ``prepared`` holds the core's prepared queries by field."""
    k = capped(k, core)
    n_cand = capped(max(4 * k, 40), core)
    per_field = {
        f: dense(
            core,
            f,
            indexes[f],
            prepared[f],
            n_cand,
            sel,
            ef_search,
            exact_fraction=exact_fraction,
            selections=selections,
        )[3]
        for f in prepared
    }
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for i in range(len(next(iter(prepared.values())))):
        cand = np.unique(np.concatenate([per_field[f][i] for f in prepared]))
        cand = cand[cand >= 0]
        total = np.zeros(len(cand), np.float64)
        for f in prepared:
            if weights[f] == 0.0:
                continue
            s = core.score_slots(f, prepared[f][i], cand).astype(np.float64)
            total += weights[f] * (-s if metric == "l2" else s)
        order = np.lexsort((cand, -total))[:k]
        out.append((cand[order], total[order].astype(np.float32)))
    return out


def hybrid(
    core: Any,
    fname: str,
    fi: FieldIndex,
    metric: str,
    query: np.ndarray,
    text: str,
    k: int,
    *,
    fusion: str,
    alpha: float,
    rrf_k: float,
    n_cand: int,
    sel: Any,
    exact_fraction: float,
    selections: Selections,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense and BM25 candidates (``n_cand`` each) fused by the core: (slots, scores)."""
    _, dscores, dcounts, dslots = dense(
        core,
        fname,
        fi,
        query,
        n_cand,
        sel,
        None,
        exact_fraction=exact_fraction,
        selections=selections,
    )
    nd = int(dcounts[0])
    bslots, bscores = core.bm25_search(text, n_cand, sel)
    w_dense, w_text = (alpha, 1.0 - alpha) if fusion == "weighted" else (1.0, 1.0)
    lists = [
        (dslots[0][:nd], dscores[0][:nd], metric != "l2", w_dense),
        (bslots, bscores, True, w_text),
    ]
    return core.fuse(lists, fusion, k, rrf_k)
