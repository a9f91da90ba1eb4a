"""Keyed window aggregation: records in, fired windows, late records and errors out.

Holds :class:`WindowAggregate` (one instance per parallel operator instance) and its
snapshot format. Window state lives in the C++ engine (``sage_flow._core``); reading
records is in :mod:`sage_flow._records`, result types in :mod:`sage_flow.results`. This
module wires them: Python keys to int64 ids, records to arrays, fired arrays back to
:class:`WindowResult` objects. It knows nothing about DataStream graphs or backends (:mod:`sage_flow.operator` makes it a DataStream operator).
"""

from __future__ import annotations

import json
import math
import struct
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from sage_flow import _codec, _core, _records
from sage_flow.results import BatchOutcome, TopK, WindowReduceError, WindowResult, make_results
from sage_flow.windows import CountWindow, SessionWindow, SlidingWindow, TumblingWindow, Window

__all__ = [
    "AGGREGATES",
    "BatchOutcome",
    "TopK",
    "WindowAggregate",
    "WindowReduceError",
    "WindowResult",
]

#: Built-in aggregate names. ``centroid`` and ``topk`` (and ``mean`` given vectors) work on
#: vectors; the others on numbers.
AGGREGATES = ("count", "sum", "mean", "min", "max", "first", "last", "centroid", "topk")
_VECTOR_ONLY = ("centroid", "topk")
_SNAPSHOT_MAGIC = b"SGFO"
_SNAPSHOT_VERSION = 1
_HEAD = struct.Struct("<4sII")  # magic, version, header length
_U64 = struct.Struct("<Q")


class WindowAggregate:
    """Keyed window aggregation over batches of records.

    One instance per parallel operator instance; keys arrive already partitioned.

    :arg window: a :class:`TumblingWindow`, :class:`SlidingWindow`,
        :class:`SessionWindow` or :class:`CountWindow`.
    :arg aggregate: ``count``, ``sum``, ``mean``, ``min``, ``max``, ``first``, ``last``
        (numbers; first/last by event time, ties by arrival), ``mean``/``centroid``
        (vectors: the centroid), ``topk`` (vectors: the ``k`` most similar to ``query``),
        or a Python callable ``reduce(list_of_values) -> value``. The callable path keeps
        the values in Python and calls it once per firing, so it is much slower than the
        built-ins; values are passed in arrival order.
    :arg timestamp: ``record -> float`` seconds of event time; required for event-time
        time windows, ignored for processing time and count windows. A string ``"ts"``
        means ``record["ts"]`` and is read in C++ (faster than a lambda).
    :arg value: ``record -> number`` or ``record -> vector``; required unless the
        aggregate is ``count``. A string means ``record[that string]``.
    :arg allowed_lateness: seconds a window stays updatable after it fired.
    :arg out_of_orderness: the watermark is the largest event time seen minus this.
    :arg query: the query vector for ``topk``. :arg k: how many records ``topk`` keeps.
    :arg clock: the processing-time clock (default :func:`time.time`).

    >>> from sage_flow import TumblingWindow, WindowAggregate
    >>> op = WindowAggregate(TumblingWindow(10), "sum",
    ...                      timestamp=lambda r: r["ts"], value=lambda r: r["x"])
    >>> out = op.process_batch(["a", "a", "b", "a"],
    ...     [{"ts": 1, "x": 2}, {"ts": 4, "x": 3}, {"ts": 5, "x": 1}, {"ts": 12, "x": 7}])
    >>> out.results
    [WindowResult(key='a', start=0.0, end=10.0, value=5.0, count=2), WindowResult(key='b', start=0.0, end=10.0, value=1.0, count=1)]
    >>> op.flush()
    [WindowResult(key='a', start=10.0, end=20.0, value=7.0, count=1)]
    """

    def __init__(
        self,
        window: Window,
        aggregate: str | Callable[[list[Any]], Any] = "count",
        *,
        timestamp: Callable[[Any], float] | str | None = None,
        value: Callable[[Any], Any] | str | None = None,
        allowed_lateness: float = 0.0,
        out_of_orderness: float = 0.0,
        query: Sequence[float] | np.ndarray | None = None,
        k: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._init_args = {
            "window": window,
            "aggregate": aggregate,
            "timestamp": timestamp,
            "value": value,
            "allowed_lateness": allowed_lateness,
            "out_of_orderness": out_of_orderness,
            "query": query,
            "k": k,
            "clock": clock,
        }
        if not isinstance(window, (TumblingWindow, SlidingWindow, SessionWindow, CountWindow)):
            msg = (
                f"window must be TumblingWindow, SlidingWindow, SessionWindow or CountWindow, "
                f"got {window!r}"
            )
            raise TypeError(msg)
        self.window = window
        self._event_time = not isinstance(window, CountWindow) and window.time == "event"
        self._processing_time = not isinstance(window, CountWindow) and window.time == "processing"
        if self._event_time and timestamp is None:
            msg = (
                f"{window!r} windows on event time and needs timestamp=callable(record) -> "
                f"seconds; pass time='processing' to window by arrival time instead"
            )
            raise ValueError(msg)
        self._reduce: Callable[[list[Any]], Any] | None = None
        if callable(aggregate):
            self._reduce = aggregate
            self._agg_name = "collect"
        elif isinstance(aggregate, str):
            if aggregate not in AGGREGATES:
                msg = (
                    f"unknown aggregate {aggregate!r}; choose one of {', '.join(AGGREGATES)}, "
                    f"or pass a Python reduce function"
                )
                raise ValueError(msg)
            self._agg_name = aggregate
        else:
            msg = f"aggregate must be a name or a callable, got {aggregate!r}"
            raise TypeError(msg)
        if self._agg_name != "count" and value is None:
            msg = f"aggregate {self._agg_name if self._reduce is None else 'reduce'!r} needs value=callable(record)"
            raise ValueError(msg)
        for name, v in (
            ("allowed_lateness", allowed_lateness),
            ("out_of_orderness", out_of_orderness),
        ):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not (math.isfinite(v) and v >= 0)
            ):
                msg = f"{name} must be a finite number of seconds >= 0, got {v!r}"
                raise ValueError(msg)
        self._query: np.ndarray | None = None
        if self._agg_name == "topk":
            if query is None or k is None:
                msg = "aggregate 'topk' needs query=vector and k=int"
                raise ValueError(msg)
            self._query = np.ascontiguousarray(query, dtype=np.float32)
            if self._query.ndim != 1 or self._query.size == 0:
                msg = f"query must be a non-empty 1-D vector, got shape {self._query.shape}"
                raise ValueError(msg)
            if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
                msg = f"k must be an integer > 0, got {k!r}"
                raise ValueError(msg)
        self._k = int(k) if k is not None else 0
        for name, fn in (("timestamp", timestamp), ("value", value)):
            if fn is not None and not callable(fn) and not isinstance(fn, str):
                msg = f"{name} must be a callable(record) or a field name (str), got {fn!r}"
                raise TypeError(msg)
        self._ts_field = timestamp if isinstance(timestamp, str) else None
        self._timestamp = _records.getter(timestamp)
        self._value_field = value if isinstance(value, str) else None
        self._value = _records.getter(value) if self._agg_name != "count" else None
        self._lateness = float(allowed_lateness)
        self._delay = 0.0 if self._processing_time else float(out_of_orderness)
        self._clock = clock or _time.time
        self._last_clock = -math.inf
        self._ids = _records.KeyIds()
        self._values: dict[int, Any] = {}  # reduce path: arrival seq -> value
        self._gc_at = 4096
        # Vector or scalar is known up front except for 'mean' (decided by the first value).
        self._vector: bool | None = (
            None if self._agg_name == "mean" else self._agg_name in _VECTOR_ONLY
        )
        self._engine: _core.Engine | None = None
        if self._vector is not None:
            self._engine = self._make_engine(self._vector)

    # -- public API ---------------------------------------------------------------------

    def process_batch(self, keys: list[Any], records: list[Any]) -> BatchOutcome:
        """Feed a batch; keys are arbitrary hashable Python keys, one per record.

        Returns a :class:`BatchOutcome` ``(results, late, errors)``: windows fired by this
        batch, records too late for any window (side output), and ``(record, exception)``
        for records that could not be read (dead letters). A bad record never fails the
        batch. Records are processed in order; results do not depend on batch boundaries.
        """
        n = len(records)
        if len(keys) != n:
            msg = f"process_batch got {len(keys)} keys for {n} records; pass one key per record"
            raise ValueError(msg)
        errs = _records.BatchErrors(records)
        key_ids = _records.key_ids(self._ids, keys, errs)
        ts: np.ndarray | None = None
        if self._processing_time:
            now = max(float(self._clock()), self._last_clock)
            self._last_clock = now
            ts = np.full(n, now)
        elif self._event_time:
            assert self._timestamp is not None
            ts = _records.numbers(
                self._timestamp,
                self._ts_field,
                errs,
                what="timestamp",
                want="a finite number of seconds",
                allow_nonfinite=False,
            )
        raw_values: list[Any] | None = None
        values: np.ndarray | None = None
        if self._value is not None:
            raw_values, values = self._read_values(errs)
        engine = self._engine
        if engine is None:  # no readable value yet to tell numbers from vectors
            return BatchOutcome([], [], errs.in_record_order())
        idx = None
        if errs.bad.any():
            idx = np.flatnonzero(~errs.bad)
            key_ids = key_ids[idx]
            ts = ts[idx] if ts is not None else None
            values = values[idx] if values is not None else None
        if self._reduce is not None:
            assert raw_values is not None
            kept = raw_values if idx is None else [raw_values[i] for i in idx]
            base = engine.next_seq
            self._values.update(zip(range(base, base + len(kept)), kept, strict=True))
        fired, late_idx = engine.process(key_ids, ts, values)
        if self._processing_time:
            fired = self._concat(fired, engine.advance(max(engine.watermark, self._last_clock)))
        late_pos = late_idx if idx is None else idx[late_idx]
        late = [records[i] for i in late_pos.tolist()]
        errors = errs.in_record_order()
        results = self._results(fired, errors)  # appends windows whose reduce raised
        if self._reduce is not None and len(self._values) >= self._gc_at:
            self._collect_values()
        return BatchOutcome(results, late, errors)

    def advance_watermark(self, watermark: float | None = None) -> list[WindowResult]:
        """Move time forward without records (idle sources, processing-time timers).

        Processing time: ``watermark`` defaults to the clock. Event time: pass the new
        watermark; it must not be lower than the current one. Raises
        :class:`WindowReduceError` (carrying the good results) if a reduce function fails.
        """
        if self._engine is None:
            return []
        if watermark is None:
            if not self._processing_time:
                msg = "advance_watermark() needs a watermark for event-time windows"
                raise ValueError(msg)
            watermark = max(float(self._clock()), self._last_clock)
            self._last_clock = watermark
        return self._results(self._engine.advance(float(watermark)))

    def flush(self) -> list[WindowResult]:
        """End of stream: fire every open window (count windows: each partial window).

        Raises :class:`WindowReduceError` (carrying the good results) if a reduce function
        fails for some windows.
        """
        if self._engine is None:
            return []
        return self._results(self._engine.flush())

    @property
    def watermark(self) -> float:
        """The current watermark in seconds (``-inf`` before the first record)."""
        return -math.inf if self._engine is None else self._engine.watermark

    def snapshot(self) -> bytes:
        """State as bytes (format in docs/windows.md): header, key table, reduce-path
        values, then the engine snapshot. Restoring it into an operator built with the
        same arguments continues exactly where this one stopped.
        """
        header = json.dumps(
            {
                "window": type(self.window).__name__,
                "spec": asdict(self.window),
                "aggregate": self._agg_name,
                "vector": self._vector,
                "last_clock": None if math.isinf(self._last_clock) else self._last_clock,
            },
            sort_keys=True,
        ).encode()
        keys = bytearray()
        _codec.encode(self._ids.keys_by_id, keys)
        values = bytearray()
        if self._reduce is not None:
            self._collect_values()
            _codec.encode([list(kv) for kv in sorted(self._values.items())], values)
        engine = b"" if self._engine is None else self._engine.snapshot()
        return b"".join(
            [
                _HEAD.pack(_SNAPSHOT_MAGIC, _SNAPSHOT_VERSION, len(header)),
                header,
                _U64.pack(len(keys)),
                bytes(keys),
                _U64.pack(len(values)),
                bytes(values),
                engine,
            ]
        )

    def restore(self, data: bytes) -> None:
        """Replace this operator's state with a :meth:`snapshot`.

        Raises ``ValueError`` (and keeps the current state) when ``data`` is not a snapshot,
        has another format version, is truncated, or was taken by an operator with another
        window, aggregate, lateness or out-of-orderness.
        """
        try:
            self._restore(bytes(data))
        except (
            struct.error,
            IndexError,
            UnicodeDecodeError,
            json.JSONDecodeError,
            KeyError,
        ) as exc:
            msg = f"sage_flow operator snapshot is truncated or corrupt ({exc})"
            raise ValueError(msg) from exc

    def _restore(self, data: bytes) -> None:
        if len(data) < _HEAD.size:
            msg = "not a sage_flow operator snapshot (too short)"
            raise ValueError(msg)
        magic, version, hlen = _HEAD.unpack_from(data, 0)
        if magic != _SNAPSHOT_MAGIC:
            msg = "not a sage_flow operator snapshot (bad magic bytes)"
            raise ValueError(msg)
        if version != _SNAPSHOT_VERSION:
            msg = f"unsupported sage_flow operator snapshot version {version} (this build reads {_SNAPSHOT_VERSION})"
            raise ValueError(msg)
        pos = _HEAD.size
        header = json.loads(data[pos : pos + hlen])
        pos += hlen
        mine = {
            "window": type(self.window).__name__,
            "spec": asdict(self.window),
            "aggregate": self._agg_name,
        }
        theirs = {k: header[k] for k in mine}
        if json.dumps(mine, sort_keys=True) != json.dumps(theirs, sort_keys=True):
            msg = f"snapshot was taken by a different operator ({theirs}); this one is {mine}"
            raise ValueError(msg)
        (klen,) = _U64.unpack_from(data, pos)
        pos += 8
        keys, _ = _codec.decode(data[pos : pos + klen])
        pos += klen
        (vlen,) = _U64.unpack_from(data, pos)
        pos += 8
        values = _codec.decode(data[pos : pos + vlen])[0] if vlen else []
        pos += vlen
        engine = None
        if header["vector"] is not None:
            engine = self._make_engine(header["vector"])
            engine.restore(data[pos:])
        ids = _records.KeyIds()
        for key in keys:
            ids[key]  # noqa: B018 - assigns the next id
        self._ids = ids
        self._values = {int(s): v for s, v in values}
        self._vector = header["vector"]
        self._engine = engine
        self._last_clock = -math.inf if header["last_clock"] is None else header["last_clock"]

    def __getstate__(self) -> dict[str, Any]:
        """Pickles as ``{"ser_version": 1, "args": constructor arguments, "snapshot": bytes}``.

        The ``timestamp``/``value``/``aggregate`` callables must themselves be picklable
        (module-level functions, or lambdas under cloudpickle as Dask and Ray use).
        """
        return {"ser_version": 1, "args": dict(self._init_args), "snapshot": self.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("ser_version") != 1:
            msg = "Unpickle Error: unsupported WindowAggregate state (expected ser_version 1)"
            raise ValueError(msg)
        self.__init__(**state["args"])  # type: ignore[misc]
        self.restore(state["snapshot"])

    def __repr__(self) -> str:
        agg = getattr(self._reduce, "__name__", "reduce") if self._reduce else self._agg_name
        return f"WindowAggregate({self.window!r}, {agg!r}, watermark={self.watermark})"

    # -- internals ----------------------------------------------------------------------

    def _make_engine(self, vector: bool) -> _core.Engine:
        return _core.Engine(
            **self.window._engine_args(),
            aggregate=self._agg_name,
            allowed_lateness=self._lateness,
            out_of_orderness=self._delay,
            vector=vector,
            query=self._query,
            k=self._k,
        )

    def _read_values(
        self, errs: _records.BatchErrors
    ) -> tuple[list[Any] | None, np.ndarray | None]:
        """Returns (raw values for the reduce path, engine column or matrix)."""
        fn = self._value
        assert fn is not None
        if self._vector is False and self._reduce is None:
            return None, _records.numbers(
                fn, self._value_field, errs, what="value", want="a number", allow_nonfinite=True
            )
        raw = _records.call_each(fn, errs, "value")
        if self._reduce is not None:
            return raw, None
        if self._vector is None:  # 'mean': the first readable value decides
            first = next((v for i, v in enumerate(raw) if not errs.bad[i] and v is not None), None)
            if first is None:
                return None, None
            self._vector = _records.is_vector(first)
            self._engine = self._make_engine(self._vector)
        if not self._vector:
            return None, _records.numbers_from(
                raw, errs, what="value", want="a number", allow_nonfinite=True
            )
        assert self._engine is not None
        return None, _records.vectors(raw, errs, self._engine.dim)

    @staticmethod
    def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(b["key"]) == 0:
            return a
        if len(a["key"]) == 0:
            return b
        out = {}
        for name in a:
            if name == "offsets":
                out[name] = np.concatenate([a[name], b[name][1:] + a[name][-1]])
            else:
                out[name] = np.concatenate([a[name], b[name]])
        return out

    def _reduce_results(
        self,
        fired: dict[str, np.ndarray],
        key_col: list[Any],
        starts: list[float],
        ends: list[float],
        counts: list[int],
        errors: list[tuple[Any, Exception]] | None,
    ) -> list[WindowResult]:
        reduce = self._reduce
        assert reduce is not None
        offs = fired["offsets"].tolist()
        seqs = fired["seqs"].tolist()
        stored = self._values
        out: list[WindowResult] = []
        failed: list[tuple[Any, Exception]] = []
        for j in range(len(key_col)):
            values = [stored[s] for s in seqs[offs[j] : offs[j + 1]]]
            try:
                value = reduce(values)
            except Exception as exc:  # noqa: BLE001 - routed to errors
                window = make_results([key_col[j]], [starts[j]], [ends[j]], [values], [counts[j]])[0]
                failed.append((window, exc))
                continue
            out += make_results([key_col[j]], [starts[j]], [ends[j]], [value], [counts[j]])
        if failed:
            if errors is None:
                raise WindowReduceError(out, failed)
            errors.extend(failed)
        return out

    def _results(
        self, fired: dict[str, np.ndarray], errors: list[tuple[Any, Exception]] | None = None
    ) -> list[WindowResult]:
        n = len(fired["key"])
        if n == 0:
            return []
        keys = self._ids.keys_by_id
        key_col = [keys[i] for i in fired["key"].tolist()]
        starts = fired["start"].tolist()
        ends = fired["end"].tolist()
        counts = fired["count"].tolist()
        if self._reduce is not None:
            return self._reduce_results(fired, key_col, starts, ends, counts, errors)
        if self._agg_name == "topk":
            offs = fired["offsets"].tolist()
            vec, sc = fired["value"], fired["scores"]
            values = [TopK(vec[offs[j] : offs[j + 1]], sc[offs[j] : offs[j + 1]]) for j in range(n)]
        elif self._vector:
            values = list(fired["value"])
        elif self._agg_name == "count":
            values = counts
        else:
            values = fired["value"].tolist()
        return make_results(key_col, starts, ends, values, counts)

    def _collect_values(self) -> None:
        assert self._engine is not None
        live = set(self._engine.referenced_seqs().tolist())
        self._values = {s: v for s, v in self._values.items() if s in live}
        self._gc_at = max(4096, 2 * len(self._values))
