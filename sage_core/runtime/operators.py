"""How nodes run over a bundle: the ``Operator`` base, the per-record loop every record
operator shares (``RecordOperator``), and the built-in operators made from it.

An operator gets a list of records (or, when its stage is keyed, a
:class:`~sage_core.runtime.keyed.Keyed` bundle: keys and records as parallel lists) and
returns what it emits in the same form. A record that raises is handed to ``fail`` (dead
letter, or an ``OperatorError`` in strict mode) and the rest of the bundle goes on. Which
operator runs which node type is decided in ``lookup.py``, not here.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable
from itertools import compress
from typing import Any

from sage_core import ir
from sage_core.api.context import RuntimeContext
from sage_core.api.functions import BaseFunction
from sage_core.observe.metrics import LatencyHistogram
from sage_core.observe.results import OperatorMetrics
from sage_core.runtime.keyed import Keyed

_SKIP = object()

Fail = Callable[[Any, BaseException], None]
Retry = Callable[[Callable[[Any], Any], Any, BaseException], Any]


def call_each(fn: Callable[[Any], Any], items: list, fail: Fail, fill: Any, retry: Retry | None = None) -> list:
    """``[fn(x) for x in items]`` at C speed; a record that raises is given to ``retry``
    (if any) and, when that raises too, becomes ``fill``.

    >>> call_each(lambda x: 10 // x, [1, 0, 2], lambda rec, exc: None, None)
    [10, None, 5]
    """
    out: list = []
    it = iter(items)
    while True:
        try:
            out.extend(map(fn, it))
            return out
        except Exception as exc:
            record = items[len(out)]
            if retry is not None:
                try:
                    out.append(retry(fn, record, exc))
                    continue
                except Exception as last:
                    exc = last
            fail(record, exc)
            out.append(fill)


def without_skipped(bundle: Keyed, values: list, failed: bool) -> Keyed:
    """``bundle`` without the pairs whose value in ``values`` is the fill of a failed record
    (checked only when ``failed``: most bundles have no failure and pass as they are)."""
    return bundle.compress([v is not _SKIP for v in values]) if failed else bundle


def instantiate(spec: ir.FunctionSpec, ctx: RuntimeContext) -> Any:
    """A function class becomes an instance with ``ctx`` set and ``open()`` called."""
    if spec.is_class:
        obj = spec.target(*spec.args, **spec.kwargs)
        obj.ctx = ctx
        opener = getattr(obj, "open", None)
        if callable(opener):
            opener()
        return obj
    return spec.target


def as_callable(obj: Any, spec: ir.FunctionSpec, method: str = "execute") -> Callable:
    if spec.is_class:
        return getattr(obj, method)
    if spec.args or spec.kwargs:
        return _bind_extra(obj, spec.args, spec.kwargs)
    return obj


def _bind_extra(fn: Callable, args: tuple, kwargs: dict) -> Callable:
    return lambda x: fn(x, *args, **kwargs)


class Operator:
    """Base: holds the node, its function object, its context and counters."""

    def __init__(self, node: ir.Node, ctx: RuntimeContext, fail: Callable[[ir.Node, Any, BaseException, Any, int], None]):
        self.node = node
        self.ctx = ctx
        self.obj = None if node.function is None else instantiate(node.function, ctx)
        self._fail = fail
        self.side_ports: frozenset[str] = frozenset()  # side outputs read downstream (set by the instance)
        self._side: dict[str, list] = {}
        self.records_in = 0
        self.records_out = 0
        self.errors = 0
        self.filtered = 0
        self.retries = 0
        self.seconds = 0.0
        self.latency = LatencyHistogram()
        hook = getattr(self.obj, "finish_bundle", None) if self._is_object() else None
        overridden = hook is not None and getattr(type(self.obj), "finish_bundle", None) is not BaseFunction.finish_bundle
        self.finish_bundle: Callable[[], None] | None = hook if overridden else None
        self.retry: Retry | None = None if node.retry is None else self._retry
        self._failure_times: deque[float] = deque(maxlen=1024)
        self._attempts = 1

    def fail(self, record: Any, exc: BaseException) -> None:
        self.errors += 1
        self._fail(self.node, record, exc, None, self._attempts)
        self._attempts = 1

    def fail_keyed(self, pair: tuple, exc: BaseException) -> None:
        self.errors += 1
        self._fail(self.node, pair[1], exc, pair[0], self._attempts)
        self._attempts = 1

    def dead_letter(self, record: Any, exc: BaseException) -> None:
        """``ctx.dead_letter``: a record the function rejected without raising."""
        self.errors += 1
        self._fail(self.node, record, exc, self.ctx.current_key, 1)

    def each(self, fn: Callable[[Any], Any], items: list, fail: Fail, fill: Any) -> list:
        """:func:`call_each` with this operator's retry strategy."""
        return call_each(fn, items, fail, fill, self.retry)

    def _retry(self, fn: Callable[[Any], Any], record: Any, exc: BaseException) -> Any:
        """Call ``fn(record)`` again as the node's retry strategy allows; raise the last error
        when it gives up. Failure times are the operator's (for ``FailureRateRestart``)."""
        strategy = self.node.retry
        attempt = 0
        while True:
            attempt += 1
            self._failure_times.append(time.monotonic())
            delay = strategy.delay_before(attempt, list(self._failure_times))
            if delay is None:
                self._attempts = attempt
                raise exc
            self.retries += 1
            time.sleep(delay)
            try:
                return fn(record)
            except Exception as again:
                exc = again

    def metrics(self) -> OperatorMetrics:
        """This instance's counters so far."""
        return OperatorMetrics(
            self.node.name,
            kind=self.node.kind,
            records_in=self.records_in,
            records_out=self.records_out,
            errors=self.errors,
            filtered=self.filtered,
            retries=self.retries,
            seconds=self.seconds,
            latency=self.latency.copy(),
            custom=dict(self.ctx.metrics.counters),
        )

    def run(self, items: list, input_index: int) -> list:
        raise NotImplementedError

    def run_keyed(self, bundle: Keyed, input_index: int) -> Keyed | list:
        """Like :meth:`run` for a keyed bundle; may return a :class:`Keyed` bundle or a list
        of ``(key, record)`` pairs."""
        raise NotImplementedError

    def emit_side(self, port: str, item: Any) -> None:
        """Send ``item`` to side output ``port`` (only when ``port in self.side_ports``)."""
        self._side.setdefault(port, []).append(item)

    def take_side(self, port: str) -> list:
        return self._side.pop(port, [])

    def end(self) -> list:
        """Records to emit when every input has ended (for operators that buffer)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """This operator's part of a checkpoint: counters, keyed state, the function's own state."""
        saver = getattr(self.obj, "snapshot", None)
        own = saver() if self._is_object() and callable(saver) else None
        counters = (self.records_in, self.records_out, self.errors, self.filtered, self.retries, self.seconds)
        return {"counters": counters, "latency": self.latency.copy(), "metrics": dict(self.ctx.metrics.counters), "keyed": self.ctx.keyed_state(), "own": own}

    def restore(self, state: dict[str, Any]) -> None:
        self.records_in, self.records_out, self.errors, self.filtered, self.retries, self.seconds = state["counters"]
        self.latency = state["latency"]
        self.ctx.metrics.counters.update(state["metrics"])
        self.ctx.keyed_state().update(state["keyed"])
        if state["own"] is not None:
            self.obj.restore(state["own"])  # type: ignore[union-attr]

    def _is_object(self) -> bool:
        """Whether ``obj`` is an object SAGE made (a function class instance or an operator's helper)."""
        return self.obj is not None and (self.node.function is None or self.node.function.is_class)

    def close(self) -> None:
        closer = getattr(self.obj, "close", None)
        if self.node.function is not None and self.node.function.is_class and callable(closer):
            closer()


class RecordOperator(Operator):
    """An operator that calls one function per record: the keyed loop, failure handling and
    output shapes live here once; subclasses only say which function runs for each input
    (:meth:`function`) and what its result means (``shape``).

    Shapes: ``ONE`` (the result is the output), ``KEEP`` (the result says whether to keep
    the record), ``MANY`` (the result is an iterable of outputs, or None), ``NONE`` (no
    output), ``KEY`` (the result is the record's key: emit ``(key, record)``).
    """

    shape: str = "one"

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self._fns: dict[int, Callable[[Any], Any]] = {}
        self._keyed_fns: dict[int, Callable[[Any], Any]] = {}

    def function(self, input_index: int) -> Callable[[Any], Any]:
        """The per-record function for input ``input_index``."""
        assert self.node.function is not None
        return as_callable(self.obj, self.node.function)

    def _fn(self, input_index: int) -> Callable[[Any], Any]:
        fn = self._fns.get(input_index)
        if fn is None:
            fn = self._fns[input_index] = self.function(input_index)
        return fn

    def _keyed_fn(self, input_index: int) -> Callable[[Any], Any]:
        """The function over ``(key, record)`` pairs: sets ``ctx.current_key`` first."""
        keyed = self._keyed_fns.get(input_index)
        if keyed is None:
            fn, ctx = self._fn(input_index), self.ctx

            def keyed(pair: tuple) -> Any:
                ctx.current_key = pair[0]
                return fn(pair[1])

            self._keyed_fns[input_index] = keyed
        return keyed

    def run(self, items, input_index):
        before = self.errors
        return self._outputs(items, self.each(self._fn(input_index), items, self.fail, _FILL[self.shape]), False, before)

    def run_keyed(self, bundle, input_index):
        before = self.errors
        return self._outputs(bundle, self.each(self._keyed_fn(input_index), bundle, self.fail_keyed, _FILL[self.shape]), True, before)

    def _outputs(self, items: Any, results: list, keyed: bool, errors_before: int) -> Any:
        """What the operator emits, from its inputs (records, or a Keyed bundle when
        ``keyed``) and the function's results (a failed record's result is the shape's fill
        value; ``errors_before`` tells whether any failed)."""
        shape, failed = self.shape, self.errors != errors_before
        if shape == ONE:
            if keyed:
                return without_skipped(Keyed(items.keys, results), results, failed)
            return [r for r in results if r is not _SKIP] if failed else results
        if shape == KEEP:
            kept = items.compress(results) if keyed else list(compress(items, results))
            self.filtered += len(items) - len(kept) - (self.errors - errors_before)
            return kept
        if shape == MANY:
            if keyed:
                keys = [key for key, outs in zip(items.keys, results) if outs for _ in outs]
                return Keyed(keys, [out for outs in results if outs for out in outs])
            return [out for outs in results if outs for out in outs]
        if shape == KEY:
            return without_skipped(Keyed(results, items.records if keyed else items), results, failed)
        return []


ONE, KEEP, MANY, NONE, KEY = "one", "keep", "many", "none", "key"
_FILL = {ONE: _SKIP, KEEP: False, MANY: None, NONE: None, KEY: _SKIP}


class MapOperator(RecordOperator):
    shape = ONE


class FilterOperator(RecordOperator):
    shape = KEEP


class SinkOperator(RecordOperator):
    shape = NONE


class KeyByOperator(RecordOperator):
    """A keyby run inline (between single-instance operators): records become ``(key, record)``."""

    shape = KEY

    def run_keyed(self, bundle, input_index):
        before = self.errors
        return self._outputs(bundle, self.each(self._fn(input_index), bundle.records, self.fail, _SKIP), True, before)


class FlatMapOperator(RecordOperator):
    """Any number of outputs: the function's iterable, plus what a class ``collect``-ed."""

    shape = MANY

    def function(self, input_index):
        fn = super().function(input_index)
        obj = self.obj if self.node.function.is_class else None  # type: ignore[union-attr]

        def expand(record: Any) -> list:
            if obj is not None:
                obj._collected = None
            try:
                returned = fn(record)
                out = list(returned) if returned is not None else []
            finally:
                if obj is not None and obj._collected:
                    out = obj._collected + out if returned is not None else obj._collected
                    obj._collected = None
            return out

        return expand


class CoMapOperator(RecordOperator):
    """One function per input: ``CoMapFunction.map<i>`` or the i-th of several callables."""

    shape = ONE

    def function(self, input_index):
        spec = self.node.function
        assert spec is not None
        if spec.is_class:
            return functools.partial(self.obj.execute, input_index=input_index)  # type: ignore[union-attr]
        return spec.target[input_index]


class JoinOperator(RecordOperator):
    """Keyed two-input join: ``JoinFunction.execute(payload, key, tag)`` per record."""

    shape = MANY

    def function(self, input_index):
        execute, ctx = self.obj.execute, self.ctx  # type: ignore[union-attr]
        return lambda payload: execute(payload, ctx.current_key, input_index)


class BatchMapOperator(Operator):
    """``map_batches``: one ``execute_batch`` call per slice of a bundle (``max_batch``).

    An output that is an exception instance fails its record. If ``execute_batch`` raises,
    the slice is run again record by record through ``execute`` (with the node's retry
    strategy), so that only the records that fail become dead letters.
    """

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.max_batch = int(getattr(self.node, "max_batch", None) or 0)

    def run(self, items, input_index):
        return self._run(items, items, self.fail)

    def run_keyed(self, bundle, input_index):
        if len(bundle) == 1:
            self.ctx.current_key = bundle.keys[0]
        before = self.errors
        outs = self._run(bundle, bundle.records, self.fail_keyed, keep=True)
        return without_skipped(Keyed(bundle.keys, outs), outs, self.errors != before)

    def _run(self, items: list, records: list, fail: Fail, keep: bool = False) -> list:
        """Outputs for ``records`` (``_SKIP`` for failed ones when ``keep``); ``items`` are
        what ``fail`` is given (records, or key pairs)."""
        n = self.max_batch or len(records) or 1
        out: list = []
        for start in range(0, len(records), n):
            out.extend(self._slice(items[start : start + n], records[start : start + n], fail))
        return out if keep or _SKIP not in out else [x for x in out if x is not _SKIP]

    def _slice(self, items: list, records: list, fail: Fail) -> list:
        fn: Any = self.obj
        try:
            outs = list(fn.execute_batch(records))
        except Exception:
            outs = None
        if outs is None or len(outs) != len(records):
            # the call failed (or broke its contract): run record by record to find the failing ones
            return self.each(lambda i: fn.execute(records[i]), list(range(len(records))), lambda i, exc: fail(items[i], exc), _SKIP)
        for i, out in enumerate(outs):
            if not isinstance(out, BaseException):
                continue
            if self.retry is not None:
                try:
                    outs[i] = self.retry(fn.execute, records[i], out)
                    continue
                except Exception as exc:
                    out = exc
            fail(items[i], out)
            outs[i] = _SKIP
        return outs


class PassOperator(Operator):
    """The head of a feedback loop (``from_future``): passes records through."""

    def run(self, items, input_index):
        return items

    run_keyed = run
