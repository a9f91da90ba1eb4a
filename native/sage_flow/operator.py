"""Windows as a SAGE operator: the ``Window`` node type, ``stream.window(...).aggregate(...)``,
and :class:`WindowOperator`, which runs the node on every backend.

sage_flow is a plugin of ``sage_core``: ``DataStream.window`` finds :func:`window` through
the ``sage.operators`` entry point, and importing this module registers ``WindowOperator``
as the runtime class of :class:`Window` nodes. The window state itself is
:class:`~sage_flow.aggregate.WindowAggregate` (C++ engine); this module only adapts it to
SAGE's operator contract: fired windows flow downstream as
:class:`~sage_flow.results.WindowResult` records, late records go to the side output
``"late"`` when the pipeline reads it (``.side_output("late")``), else to the dead-letter
output with the window operator's name, as malformed records do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, ClassVar

from sage_core import PipelineValidationError, ir, register_operator
from sage_core.api.datastream import DataStream
from sage_core.runtime.keyed import Keyed
from sage_core.runtime.operators import Operator
from sage_core.runtime.partition import batch_type
from sage_flow.aggregate import WindowAggregate
from sage_flow.columns import process_arrow, results_batch


@dataclass(frozen=True)
class Window(ir.KeyedInput, ir.Node):
    """A keyed window aggregation; its function is a :class:`WindowAggregate` spec."""

    key_field: str | None = None  # the keyby field: the key column of Arrow batches
    columnar: bool = False  # its input is Arrow batches: windows still open at the end come out as one
    kind: ClassVar[str] = "window"
    side_outputs: ClassVar[tuple[str, ...]] = ("late",)
    needs_keys_for: ClassVar[str] = "windows need a keyed stream; call .keyby(selector) before .window(...)"

    def problems(self, graph: ir.Graph) -> list[str]:
        return self.keyed_problems(graph)


def window(
    stream: DataStream,
    window: Any,
    *,
    timestamp: Callable[[Any], float] | str | None = None,
    allowed_lateness: float = 0.0,
    out_of_orderness: float = 0.0,
) -> WindowedStream:
    """``stream.window(spec, timestamp=..., allowed_lateness=..., out_of_orderness=...)``:
    group a keyed stream into windows (tumbling, sliding, session, count).

    ``timestamp`` gives a record's event time in seconds (a callable, or a field name); see
    docs/windows.md for watermarks, lateness and re-fires. Late records go to the side
    output ``"late"`` when the pipeline reads it:

    >>> from sage_core import Environment
    >>> from sage_flow import TumblingWindow
    >>> env = Environment("w")
    >>> events = [{"user": "a", "ts": 1.0}, {"user": "a", "ts": 15.0}, {"user": "a", "ts": 2.0}]
    >>> counts = env.from_batch(events).keyby(lambda e: e["user"]).window(
    ...     TumblingWindow(seconds=10), timestamp="ts").aggregate("count")
    >>> _ = counts.map(lambda r: (r.key, r.start, r.end, r.value)).collect("out")
    >>> _ = counts.side_output("late").collect("late")
    >>> result = env.submit()
    >>> sorted(result.collected["out"]), result.collected["late"]
    ([('a', 0.0, 10.0, 1), ('a', 10.0, 20.0, 1)], [{'user': 'a', 'ts': 2.0}])
    """
    node = stream.env._nodes[stream.node_id]
    if not isinstance(node, ir.KeyBy):
        msg = f"window() after {stream.name!r}: windows need a keyed stream; call .keyby(selector) first"
        raise PipelineValidationError(msg)
    options = {"timestamp": timestamp, "allowed_lateness": allowed_lateness, "out_of_orderness": out_of_orderness}
    return WindowedStream(stream, window, options, node.field)


class WindowedStream:
    """A keyed stream cut into windows; ``aggregate`` turns each fired window into a record."""

    def __init__(self, stream: DataStream, window: Any, options: dict[str, Any], key_field: str | None = None):
        self.stream = stream
        self.window = window
        self.options = options
        self.key_field = key_field

    def aggregate(
        self,
        aggregate: str | Callable[[list[Any]], Any] = "count",
        *,
        value: Callable[[Any], Any] | str | None = None,
        field: str | None = None,
        query: Any = None,
        k: int | None = None,
        parallelism: int | None = None,
        name: str | None = None,
    ) -> DataStream:
        """``count``, ``sum``, ``mean``, ``min``, ``max``, ``first``, ``last``, ``centroid``
        (vector mean), ``topk`` (vectors most similar to ``query``), or a Python reduce
        function over a window's values. Emits ``sage_flow.WindowResult(key, start, end,
        value, count)``. Late records go to the side output ``"late"``
        (``.side_output("late")``) when something reads it, else to the dead-letter output,
        as malformed records do.

        ``field="x"`` names the value's field (the same as ``value="x"``). On a columnar
        stream (Arrow batches keyed by a field) the key, timestamp and value columns are read
        in C++, and fired windows come out as Arrow batches with the columns ``key``,
        ``start``, ``end``, ``value`` and ``count``; late rows come out as Arrow batches too.
        """
        if field is not None:
            if value is not None:
                msg = f"window aggregate after {self.stream.name!r}: give value= or field=, not both"
                raise PipelineValidationError(msg)
            value = field
        kwargs = {**self.options, "value": value, "query": query, "k": k}
        try:  # fail here, at the user's line, rather than on a worker
            WindowAggregate(self.window, aggregate, **kwargs)
        except (TypeError, ValueError) as exc:
            msg = f"window aggregate after {self.stream.name!r}: {exc}"
            raise PipelineValidationError(msg) from None
        spec = ir.FunctionSpec(WindowAggregate, (self.window, aggregate), kwargs)
        columnar = self.stream.columnar
        out = self.stream.apply(Window, spec, parallelism=parallelism, name=name, key_field=self.key_field, columnar=columnar)
        out.columnar = columnar
        return out


_key = attrgetter("key")


def _by_key(results: list) -> Keyed:
    """Fired windows as a keyed bundle, each keyed by its window's key."""
    return Keyed(list(map(_key, results)), results)


class LateRecordError(Exception):
    """A record arrived after every window it belongs to was purged (past allowed lateness)."""


class WindowOperator(Operator):
    """Runs a :class:`~sage_flow.aggregate.WindowAggregate` over keyed bundles: record runs
    through ``process_batch``, Arrow batches through :func:`~sage_flow.columns.process_arrow`,
    in arrival order."""

    def run(self, items, input_index):  # pragma: no cover - validation requires a keyed input
        msg = f"window operator {self.node.name!r} needs a keyed stream; call .keyby(...) before .window(...)"
        raise TypeError(msg)

    def run_keyed(self, bundle, input_index):
        kind = batch_type()
        records = bundle.records
        if kind is None or kind not in map(type, records):
            return self._records(bundle.keys, records)
        out = Keyed([], [])
        start = 0
        for i, record in enumerate(records):
            if type(record) is kind:
                if start < i:
                    out += self._records(bundle.keys[start:i], records[start:i])
                out += self._batch(record)
                start = i + 1
        if start < len(records):
            out += self._records(bundle.keys[start:], records[start:])
        return out

    def _records(self, keys, records):
        outcome = self.obj.process_batch(keys, records)
        for record, exc in outcome.errors:
            self.fail(record, exc)
        if outcome.late:
            key_of = dict(zip(map(id, records), keys))
            self._late(Keyed([key_of.get(id(record)) for record in outcome.late], outcome.late))
        return _by_key(outcome.results)

    def _batch(self, batch):
        field = self.node.key_field
        if field is None:
            self.fail(batch, TypeError("windows over Arrow batches need the key as a column: keyby('<column>'), not a function"))
            return Keyed([], [])
        try:
            outcome = process_arrow(self.obj, batch, field)
        except (KeyError, TypeError) as exc:
            self.fail(batch, exc)
            return Keyed([], [])
        for row, error in outcome.errors:
            self.fail(row, error)
        if outcome.late is not None:
            if "late" in self.side_ports:
                self.emit_side("late", (None, outcome.late))
            else:
                rows = outcome.late.to_pylist()
                self._late(Keyed([None] * len(rows), rows))
        return Keyed([], []) if outcome.results is None else Keyed([None], [outcome.results])

    def _late(self, late: Keyed) -> None:
        """Late records go to the ``"late"`` side output when it is read, else to dead letters."""
        if "late" in self.side_ports:
            for pair in late:
                self.emit_side("late", pair)
            return
        watermark = self.obj.watermark  # type: ignore[union-attr]
        for record in late.records:
            self.fail(record, LateRecordError(f"late record: its windows closed (watermark {watermark})"))

    def end(self):
        if self.node.columnar and self.obj._engine is not None and self.obj._reduce is None:
            flushed = results_batch(self.obj, self.obj._engine.flush())
            return Keyed([], []) if flushed is None else Keyed([None], [flushed])
        return _by_key(self.obj.flush())


register_operator(Window, WindowOperator)
