"""Brute-force reference for sage_flow window semantics, used only by the tests.

Keeps every record of every live window in Python lists and recomputes aggregates from
scratch at each firing. It follows the rules in docs/windows.md step by step, per record:
join windows (late firing if the window already fired), update the watermark, fire
windows whose end the watermark passed (ordered by end, key, start), purge windows whose
end + allowed lateness the watermark passed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INF = math.inf


@dataclass
class _Win:
    key: Any
    start: float
    end: float
    recs: list = field(default_factory=list)  # (ts, seq, value)


def aggregate(name: str, recs: list, query=None, k=None) -> Any:
    vals = [v for _, _, v in recs]
    if name == "count":
        return len(recs)
    if name == "sum":
        return float(sum(vals))
    if name == "mean":
        if isinstance(vals[0], np.ndarray):
            return np.mean(np.stack(vals).astype(np.float64), axis=0).astype(np.float32)
        return float(sum(vals)) / len(vals)
    if name == "centroid":
        return np.mean(np.stack(vals).astype(np.float64), axis=0).astype(np.float32)
    if name == "min":
        return float(min(vals))
    if name == "max":
        return float(max(vals))
    if name == "first":
        return float(min(recs, key=lambda r: (r[0], r[1]))[2])
    if name == "last":
        return float(max(recs, key=lambda r: (r[0], r[1]))[2])
    if name == "topk":
        q = np.asarray(query, dtype=np.float64)

        def score(v):
            v = np.asarray(v, dtype=np.float64)
            d = np.linalg.norm(q) * np.linalg.norm(v)
            return 0.0 if d == 0 else float(q @ v / d)

        ranked = sorted(recs, key=lambda r: (-score(r[2]), r[1]))[:k]
        return [(score(v), np.asarray(v, dtype=np.float32)) for _, _, v in ranked]
    if callable(name):
        return name([v for _, _, v in sorted(recs, key=lambda r: r[1])])
    raise ValueError(name)


class ReferenceTimeWindows:
    def __init__(
        self,
        kind,
        agg,
        *,
        size=0.0,
        slide=0.0,
        gap=0.0,
        lateness=0.0,
        delay=0.0,
        query=None,
        k=None,
    ):
        self.kind, self.agg = kind, agg
        self.size, self.slide, self.gap = size, slide, gap
        self.lateness, self.delay = lateness, delay
        self.query, self.k = query, k
        self.wm = -INF
        self.max_ts = -INF
        self.seq = 0
        self.wins: list[_Win] = []
        self.order: dict = {}  # key -> id in first-seen order (the operator's key ids)

    def _emit(self, w: _Win) -> tuple:
        return (w.key, w.start, w.end, aggregate(self.agg, w.recs, self.query, self.k), len(w.recs))

    def process(self, key, ts, v) -> tuple[list, bool]:
        out, joined = [], False
        self.order.setdefault(key, len(self.order))
        rec = (ts, self.seq, v)
        self.seq += 1
        if self.kind == "session":
            mine = _Win(key, ts, ts + self.gap)
            touching = [
                w for w in self.wins if w.key == key and ts <= w.end and ts + self.gap >= w.start
            ]
            if touching or mine.end + self.lateness > self.wm:
                for w in touching:
                    self.wins.remove(w)
                    mine.start = min(mine.start, w.start)
                    mine.end = max(mine.end, w.end)
                    mine.recs += w.recs
                mine.recs.append(rec)
                self.wins.append(mine)
                joined = True
                if mine.end <= self.wm:
                    out.append(self._emit(mine))
        else:
            last = math.floor(ts / self.slide)
            j = last
            while (j - 1) * self.slide + self.size > ts:
                j -= 1
            for jj in range(j, last + 1):
                start = jj * self.slide
                end = start + self.size
                if end + self.lateness <= self.wm:
                    continue
                joined = True
                w = next((w for w in self.wins if w.key == key and w.start == start), None)
                if w is None:
                    w = _Win(key, start, end)
                    self.wins.append(w)
                w.recs.append(rec)
                if end <= self.wm:
                    out.append(self._emit(w))
        old = self.wm
        if ts > self.max_ts:
            self.max_ts = ts
            self.wm = max(self.wm, ts - self.delay)
        out += self._advance(old, self.wm)
        return out, not joined

    def _advance(self, old, new):
        due = [w for w in self.wins if old < w.end <= new]
        due.sort(key=lambda w: (w.end, self.order[w.key], w.start))
        out = [self._emit(w) for w in due]
        self.wins = [w for w in self.wins if w.end + self.lateness > new]
        return out

    def flush(self):
        old = self.wm
        self.wm = INF
        return self._advance(old, INF)


class ReferenceCountWindows:
    def __init__(self, agg, size, slide=None, query=None, k=None):
        self.agg, self.size = agg, size
        self.slide = slide or size
        self.query, self.k = query, k
        self.recs: dict = {}
        self.last_fire: dict = {}
        self.seq = 0

    def _emit(self, key, lo, hi):
        recs = self.recs[key][lo:hi]
        return (key, float(lo), float(hi), aggregate(self.agg, recs, self.query, self.k), hi - lo)

    def process(self, key, ts, v):
        recs = self.recs.setdefault(key, [])
        recs.append((float(len(recs)), self.seq, v))
        self.seq += 1
        self.last_fire.setdefault(key, 0)
        n = len(recs)
        if n % self.slide == 0:
            self.last_fire[key] = n
            return [self._emit(key, max(0, n - self.size), n)], False
        return [], False

    def flush(self):
        out = []
        for key in self.recs:  # dict order = first-seen order = the operator's key ids
            n = len(self.recs[key])
            lo = max(0, self.last_fire[key] + self.slide - self.size)
            if n > self.last_fire[key] and lo < n:
                out.append(self._emit(key, lo, n))
            self.last_fire[key] = n
        return out
