"""The DataStream API: typed methods that add nodes to an environment's graph.

Each method takes a function class (instantiated once per parallel instance with the
given ``*args, **kwargs``) or a plain callable, plus ``parallelism=`` and ``name=``.

Example::

    env = LocalEnvironment("demo")
    (env.from_batch(["a", "b", "c"])
        .map(str.upper)
        .filter(lambda s: s != "B")
        .print())
    env.submit()
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sage_core import ir
from sage_core.api.functions import (
    BatchMapFunction,
    CollectSink,
    CoMapFunction,
    FilterFunction,
    FlatMapFunction,
    JoinFunction,
    KeyByFunction,
    MapFunction,
    PairJoin,
    PrintSink,
    SinkFunction,
)
from sage_core.errors import PipelineValidationError
from sage_core.ir.validate import check_callable
from sage_core.observe.results import JobResult
from sage_core.registry import stream_method
from sage_core.reliability.restart import RestartStrategy

if TYPE_CHECKING:
    from sage_core.api.environment import Environment

# The function class each built-in node type takes.
_BASES: dict[type[ir.Node], type] = {
    ir.Map: MapFunction,
    ir.Filter: FilterFunction,
    ir.FlatMap: FlatMapFunction,
    ir.Sink: SinkFunction,
    ir.KeyBy: KeyByFunction,
    ir.CoMap: CoMapFunction,
    ir.Join: JoinFunction,
}


def function_spec(node_type: type[ir.Node], fn: Any, args: tuple, kwargs: dict, where: str) -> ir.FunctionSpec:
    """Check ``fn`` for a node of ``node_type`` and wrap it in a spec."""
    kind = node_type.kind
    if inspect.isclass(fn):
        base = _BASES[node_type]
        if not callable(getattr(fn, "execute", None)):
            msg = f"{where}: class {fn.__qualname__} has no execute() method; subclass {base.__name__}"
            raise PipelineValidationError(msg)
        wrong = next((b for t, b in _BASES.items() if t is not node_type and issubclass(fn, b) and not issubclass(fn, base)), None)
        if wrong is not None:
            msg = f"{where}: {fn.__qualname__} is a {wrong.__name__}, but {kind} needs a {base.__name__} or a callable"
            raise PipelineValidationError(msg)
        return ir.FunctionSpec(fn, tuple(args), dict(kwargs))
    if not callable(fn):
        msg = f"{where}: expected a function class or a callable, got {type(fn).__name__} {fn!r}"
        raise PipelineValidationError(msg)
    check_callable(node_type, fn, len(args), where, tuple(kwargs))
    return ir.FunctionSpec(fn, tuple(args), dict(kwargs))


class DataStream:
    """A stream of records: the output of one operator."""

    def __init__(self, env: Environment, node_id: int, port: str | None = None, columnar: bool = False):
        self.env = env
        self.node_id = node_id
        self.port = port  # None: the operator's main output; else one of its side outputs
        self.columnar = columnar  # its records are pyarrow.RecordBatch objects (docs/columnar.md)

    def _edge(self, input_index: int = 0) -> ir.Edge:
        return ir.Edge(self.node_id, input_index, port=self.port)

    @property
    def name(self) -> str:
        return self.env._nodes[self.node_id].name

    def _then(self, node_type: type[ir.Node], fn: Any, args: tuple, kwargs: dict, parallelism: int | None, name: str | None) -> DataStream:
        where = f"{node_type.kind}() after {self.name!r}"
        spec = function_spec(node_type, fn, args, kwargs, where)
        return self.env._add(node_type, spec, [self._edge()], parallelism, name)

    def apply(
        self,
        node_type: type[ir.Node],
        function: Any = None,
        *,
        parallelism: int | None = None,
        name: str | None = None,
        **fields: Any,
    ) -> DataStream:
        """Add a node of ``node_type`` (any :class:`sage_core.ir.Node` subclass with a
        registered runtime class) after this stream: how plugins add operators.

        ``function`` is an :class:`~sage_core.ir.FunctionSpec`, a function class or a
        callable; ``fields`` are the node type's own options. See docs/architecture.md.
        """
        if not (isinstance(node_type, type) and issubclass(node_type, ir.Node)) or node_type.is_source:
            msg = f"apply() after {self.name!r}: expected a non-source subclass of sage_core.ir.Node, got {node_type!r}"
            raise PipelineValidationError(msg)
        spec = function if function is None or isinstance(function, ir.FunctionSpec) else ir.FunctionSpec(function)
        try:
            return self.env._add(node_type, spec, [self._edge()], parallelism, name, **fields)
        except TypeError as exc:  # an unknown or missing field of the node type
            msg = f"apply({node_type.__name__}) after {self.name!r}: {exc}"
            raise PipelineValidationError(msg) from None

    def map(self, fn: Any, *args: Any, parallelism: int | None = None, name: str | None = None, **kwargs: Any) -> DataStream:
        """One output per record: ``stream.map(lambda x: x * 2)`` or ``stream.map(MyMap, arg)``."""
        return self._then(ir.Map, fn, args, kwargs, parallelism, name)

    def map_batches(
        self,
        fn: Any,
        *args: Any,
        batch_format: str | None = None,
        max_batch: int | None = None,
        parallelism: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> DataStream:
        """One call per batch instead of one per record.

        Without ``batch_format``, ``fn`` is a :class:`BatchMapFunction` class and gets whole
        bundles of records: one ``execute_batch(records)`` call per bundle, at most
        ``max_batch`` records each. Failures stay per record (an exception instance in the
        output, or a record that raises when the bundle is re-run record by record); bundles
        grow until one takes about ``bundle_target_ms``, so raise that for models that like
        large batches.

        >>> from sage_core import BatchMapFunction, Environment
        >>> class Lengths(BatchMapFunction):
        ...     def execute_batch(self, records):
        ...         return [len(r) for r in records]
        >>> env = Environment("lengths")
        >>> _ = env.from_batch(["a", "bb", "ccc"]).map_batches(Lengths, max_batch=256).collect("out")
        >>> sorted(env.submit().collected["out"])
        [1, 2, 3]

        With ``batch_format`` (``"arrow"``, ``"numpy"`` or ``"pandas"``, as Ray Data names
        them) the stream becomes columnar: ``fn`` (a callable, or a class whose instances
        are callable or have ``execute_batch``) gets one Arrow batch at a time as a
        ``pyarrow.RecordBatch``, a dict of NumPy arrays or a DataFrame, and returns a batch
        in any of those forms (or a Table); it is emitted as a ``pyarrow.RecordBatch``. Dict
        records are first gathered into one batch per bundle. A batch whose call raises is
        a dead letter. See docs/columnar.md.
        """
        where = f"map_batches() after {self.name!r}"
        if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
            msg = f"{where}: max_batch must be an integer >= 1, got {max_batch!r}"
            raise PipelineValidationError(msg)
        if batch_format is not None:
            if batch_format not in ir.BATCH_FORMATS:
                msg = f"{where}: unknown batch_format {batch_format!r}; use one of {', '.join(ir.BATCH_FORMATS)}"
                raise PipelineValidationError(msg)
            if not callable(fn):
                msg = f"{where}: expected a callable or a class, got {fn!r}"
                raise PipelineValidationError(msg)
            spec = ir.FunctionSpec(fn, tuple(args), dict(kwargs))
            stream = self.env._add(ir.MapArrow, spec, [self._edge()], parallelism, name, batch_format=batch_format)
            stream.columnar = True
            return stream
        if not (inspect.isclass(fn) and issubclass(fn, BatchMapFunction)):
            msg = f"{where}: needs a BatchMapFunction subclass, got {fn!r}; use map() for plain functions, or give batch_format"
            raise PipelineValidationError(msg)
        spec = function_spec(ir.Map, fn, args, kwargs, where)
        return self.env._add(ir.MapBatches, spec, [self._edge()], parallelism, name, max_batch=max_batch)

    def flatmap(self, fn: Any, *args: Any, parallelism: int | None = None, name: str | None = None, **kwargs: Any) -> DataStream:
        """Any number of outputs per record: return an iterable (or call ``self.collect`` in a class)."""
        return self._then(ir.FlatMap, fn, args, kwargs, parallelism, name)

    def filter(
        self,
        fn: Any,
        *args: Any,
        batch_format: str | None = None,
        parallelism: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> DataStream:
        """Keep records for which ``fn`` is true.

        On a columnar stream (or with ``batch_format``) the predicate is vectorized: ``fn``
        gets each batch (in ``batch_format``, default ``"arrow"``) and returns one boolean per
        row, e.g. ``filter(lambda b: pc.greater(b["value"], 0))``.
        """
        if batch_format is None and not self.columnar:
            return self._then(ir.Filter, fn, args, kwargs, parallelism, name)
        fmt = batch_format or "arrow"
        if fmt not in ir.BATCH_FORMATS or not callable(fn):
            msg = f"filter() after {self.name!r}: needs a callable and batch_format in {', '.join(ir.BATCH_FORMATS)}, got {fn!r}, {fmt!r}"
            raise PipelineValidationError(msg)
        stream = self.env._add(ir.FilterArrow, ir.FunctionSpec(fn, tuple(args), dict(kwargs)), [self._edge()], parallelism, name, batch_format=fmt)
        stream.columnar = True
        return stream

    def sink(self, fn: Any, *args: Any, parallelism: int | None = None, name: str | None = None, **kwargs: Any) -> DataStream:
        """Consume records: ``stream.sink(print)`` or ``stream.sink(MySink, path)``."""
        return self._then(ir.Sink, fn, args, kwargs, parallelism, name)

    def print(self, prefix: str = "", *, name: str | None = None) -> DataStream:
        """Print every record (with ``prefix``)."""
        return self.sink(PrintSink, prefix, name=name)

    def collect(self, name: str, *, format: str | None = None) -> DataStream:  # noqa: A002 - the name users know
        """Send records back to the driver: ``env.submit().collected[name]``, on every backend.

        ``format="arrow"`` makes ``collected[name]`` one ``pyarrow.Table`` (Arrow batches are
        concatenated; dict and dataclass records become rows).
        """
        if format not in (None, "arrow"):
            msg = f"collect({name!r}): format must be None (a list of records) or 'arrow', got {format!r}"
            raise PipelineValidationError(msg)
        if format == "arrow":
            self.env._arrow_collects.add(name)
        return self.sink(CollectSink, name, name=f"collect_{name}")

    def to_arrow(self, **submit_options: Any) -> Any:
        """Run the pipeline (``env.submit(**submit_options)``) and return this stream's
        records as one ``pyarrow.Table``.

        >>> import pyarrow as pa
        >>> from sage_core import Environment
        >>> env = Environment("t")
        >>> env.from_arrow(pa.table({"x": [1, 2, 3]})).filter(lambda b: [v > 1 for v in b["x"].to_pylist()]).to_arrow()
        pyarrow.Table
        x: int64
        ----
        x: [[2,3]]
        """
        label = f"to_arrow_{self.node_id}{'_' + self.port if self.port else ''}"
        if label not in self.env._arrow_collects:
            self.collect(label, format="arrow")
        result = self.env.submit(autostop=True, **submit_options)
        assert isinstance(result, JobResult)
        return result.collected[label]

    def keyby(self, selector: Any, *args: Any, strategy: str = "hash", name: str | None = None, **kwargs: Any) -> DataStream:
        """Key the stream: every record with the same key goes to the same parallel instance.

        ``selector`` is a field name (``keyby("user")``: ``record["user"]``, read without a
        Python call per record; on a columnar stream the column, and Arrow batches are split
        by key in vectorized code), a callable, or a ``KeyByFunction`` class. ``strategy``
        is ``"hash"`` (default), ``"broadcast"`` (every instance gets every record) or
        ``"round_robin"`` (keys are computed but records are spread evenly).
        """
        if strategy not in ir.KEYBY_STRATEGIES:
            msg = f"keyby() after {self.name!r}: unknown strategy {strategy!r}; use one of {', '.join(ir.KEYBY_STRATEGIES)}"
            raise PipelineValidationError(msg)
        parallelism = self.env._nodes[self.node_id].parallelism
        if isinstance(selector, str):  # a field: record[field] for dicts, a column for Arrow batches
            if args or kwargs:
                msg = f"keyby({selector!r}) after {self.name!r}: a field name takes no further arguments"
                raise PipelineValidationError(msg)
            spec = ir.FunctionSpec(itemgetter(selector))
            stream = self.env._add(ir.KeyBy, spec, [self._edge()], parallelism, name, strategy=strategy, field=selector)
            stream.columnar = self.columnar
            return stream
        spec = function_spec(ir.KeyBy, selector, args, kwargs, f"keyby() after {self.name!r}")
        return self.env._add(ir.KeyBy, spec, [self._edge()], parallelism, name, strategy=strategy)

    def connect(self, other: DataStream | ConnectedStreams) -> ConnectedStreams:
        """Combine with another stream for ``comap`` or ``join``."""
        others = other.streams if isinstance(other, ConnectedStreams) else [other]
        return ConnectedStreams(self.env, [self, *others])

    def window(self, window: Any, **options: Any) -> Any:
        """Group a keyed stream into windows, e.g. ``stream.keyby(lambda e: e["user"])
        .window(TumblingWindow(60), timestamp="ts").aggregate("count")``.

        Windows are a plugin: ``sage_flow`` provides this method through the
        ``sage.operators`` entry point ``window`` (see ``sage_flow.operator.window`` for the
        options and an example, and docs/windows.md for the semantics).
        """
        return stream_method("window")(self, window, **options)

    def __getattr__(self, name: str) -> Any:
        """A method a plugin registered (``sage.operators`` entry points, or
        ``sage_core.register_stream_method``), bound to this stream."""
        if name.startswith("_"):
            raise AttributeError(name)
        method = stream_method(name, missing=AttributeError)
        return lambda *args, **kwargs: method(self, *args, **kwargs)

    def side_output(self, port: str) -> DataStream:
        """Another output of this operator, named by its node type's ``side_outputs``: e.g.
        ``"late"`` for a window's late records (``counts.side_output("late")``; see
        docs/windows.md). Reading a side output is what makes the operator fill it.
        """
        node = self.env._nodes[self.node_id]
        ports = node.side_outputs
        if self.port is not None or port not in ports:
            offered = ", ".join(repr(p) for p in ports) or "none"
            msg = f"side_output({port!r}): operator {node.name!r} has no such output (side outputs: {offered})"
            raise PipelineValidationError(msg)
        return DataStream(self.env, self.node_id, port, columnar=self.columnar)

    def retry(self, strategy: RestartStrategy) -> DataStream:
        """Call this operator again on a record that raised, as ``strategy`` allows
        (``FixedDelayRestart``, ``ExponentialBackoffRestart``, ``FailureRateRestart``); a
        record still failing after its retry budget goes to the dead-letter output with its
        last error and the number of attempts, and the job goes on.

        >>> from sage_core import FixedDelayRestart, LocalEnvironment
        >>> calls = {}
        >>> def flaky(x):
        ...     calls[x] = calls.get(x, 0) + 1
        ...     if x == 2 and calls[x] < 3 or x == 4:
        ...         raise ConnectionError(f"no luck with {x}")
        ...     return x * 10
        >>> env = LocalEnvironment("retry")
        >>> _ = env.from_batch([1, 2, 3, 4]).map(flaky).retry(FixedDelayRestart(attempts=2, delay=0)).collect("out")
        >>> result = env.submit()
        >>> result.collected["out"], [(d.record, d.attempts) for d in result.dead_letters]
        ([10, 20, 30], [(4, 3)])
        """
        node = self.env._nodes[self.node_id]
        if not isinstance(strategy, RestartStrategy):
            msg = f"retry() on {node.name!r}: expected a restart strategy such as FixedDelayRestart(attempts=3), got {strategy!r}"
            raise PipelineValidationError(msg)
        if node.is_source or isinstance(node, ir.Future) or self.port is not None:
            msg = f"retry() on {node.name!r}: only operators that call a function per record retry (a source restarts with the job)"
            raise PipelineValidationError(msg)
        self.env._nodes[self.node_id] = node.replace(retry=strategy)
        return DataStream(self.env, self.node_id, self.port)

    def fill_future(self, future: DataStream) -> None:
        """Feed this stream back into ``future`` (made by ``env.from_future(name)``): a loop."""
        self.env._fill_future(future, self)


class ConnectedStreams:
    """Several streams handled by one operator; input ``i`` is the i-th stream."""

    def __init__(self, env: Environment, streams: Sequence[DataStream]):
        self.env = env
        self.streams = list(streams)

    def connect(self, other: DataStream | ConnectedStreams) -> ConnectedStreams:
        others = other.streams if isinstance(other, ConnectedStreams) else [other]
        return ConnectedStreams(self.env, [*self.streams, *others])

    def keyby(self, selector: Any | Sequence[Any], *, strategy: str = "hash") -> ConnectedStreams:
        """Key every input: one selector for all, or a list with one selector per input."""
        if isinstance(selector, (list, tuple)):
            if len(selector) != len(self.streams):
                msg = f"keyby() on {len(self.streams)} connected streams got {len(selector)} selectors; give one, or one per stream"
                raise PipelineValidationError(msg)
            selectors = list(selector)
        else:
            selectors = [selector] * len(self.streams)
        return ConnectedStreams(self.env, [s.keyby(f, strategy=strategy) for s, f in zip(self.streams, selectors)])

    def _edges(self) -> list[ir.Edge]:
        return [s._edge(i) for i, s in enumerate(self.streams)]

    def comap(self, fn: Any, *args: Any, parallelism: int | None = None, name: str | None = None, **kwargs: Any) -> DataStream:
        """Map each input with its own function.

        ``comap(MyCoMap)`` (a CoMapFunction with ``map0``, ``map1``, ...), or one callable per
        input: ``comap(f0, f1)`` / ``comap([f0, f1])``.
        """
        n = len(self.streams)
        where = f"comap() over {n} streams"
        if inspect.isclass(fn):
            spec = function_spec(ir.CoMap, fn, args, kwargs, where)
            if getattr(fn, "execute", None) is CoMapFunction.execute:
                missing = [f"map{i}" for i in range(n) if not callable(getattr(fn, f"map{i}", None))]
                if missing:
                    msg = f"{where}: {fn.__qualname__} lacks {', '.join(missing)}; define one method per input"
                    raise PipelineValidationError(msg)
        else:
            fns = list(fn) if isinstance(fn, (list, tuple)) else [fn, *args]
            if len(fns) != n or not all(callable(f) for f in fns) or kwargs:
                msg = f"{where}: give a CoMapFunction class or exactly {n} callables (one per input), got {len(fns)}"
                raise PipelineValidationError(msg)
            for i, f in enumerate(fns):
                check_callable(ir.Map, f, 0, f"{where}, input {i}")
            spec = ir.FunctionSpec(tuple(fns))
        return self.env._add(ir.CoMap, spec, self._edges(), parallelism, name, arity=n)

    def join(self, fn: Any, *args: Any, parallelism: int | None = None, name: str | None = None, **kwargs: Any) -> DataStream:
        """Keyed join of two streams (call ``keyby`` first).

        ``join(MyJoin)`` with a JoinFunction (``execute(payload, key, tag)``), or a callable
        ``fn(left, right)`` for an inner join emitting one record per matching pair.
        """
        where = f"join() over {len(self.streams)} streams"
        if len(self.streams) != 2:
            msg = f"{where}: join takes exactly two streams"
            raise PipelineValidationError(msg)
        if inspect.isclass(fn):
            spec = function_spec(ir.Join, fn, args, kwargs, where)
        elif callable(fn):
            try:
                inspect.signature(fn).bind(None, None)
            except TypeError:
                msg = f"{where}: a join callable takes (left, right); give a JoinFunction class for more control"
                raise PipelineValidationError(msg) from None
            except ValueError:
                pass
            spec = ir.FunctionSpec(PairJoin, (fn,))
        else:
            msg = f"{where}: expected a JoinFunction class or a callable(left, right), got {fn!r}"
            raise PipelineValidationError(msg)
        return self.env._add(ir.Join, spec, self._edges(), parallelism, name)


