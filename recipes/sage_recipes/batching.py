"""Batch-aware map operators: one call per bundle instead of one call per record.

SAGE hands every operator whole bundles of records; a plain ``MapFunction`` is then called
once per record. Models and remote endpoints want the whole group at once (one
``model.encode(list)``, one ``runnable.batch(list)``). A :class:`BatchMapFunction` gets
it: subclass it, implement ``execute_batch(records) -> list`` (one output per input, in
order), and add it to a pipeline with :func:`batch_map`.

Failures stay per record: an output that *is* an exception instance sends that record to
the dead-letter output (``JobResult.dead_letters``) and the rest of the bundle goes on. If
``execute_batch`` itself raises, the bundle is retried record by record through
``execute`` so that only the records that fail become dead letters.

Bundles grow until a bundle takes about ``bundle_target_ms`` (20 ms by default); for
models that like large batches raise it, e.g. ``config={"bundle_target_ms": 500}``.
``max_batch`` caps how many records go into one ``execute_batch`` call.

Example::

    from sage_core import LocalEnvironment
    from sage_recipes.batching import BatchMapFunction, batch_map

    class Lengths(BatchMapFunction):
        def execute_batch(self, records):
            return [len(r) for r in records]          # one call for the whole bundle

    env = LocalEnvironment("lengths")
    batch_map(env.from_batch(["a", "bb"]), Lengths).collect("out")
    sorted(env.submit().collected["out"])              # [1, 2]
"""

from __future__ import annotations

from typing import Any

from sage_core import ir
from sage_core.datastream import DataStream, function_spec
from sage_core.functions import MapFunction
from sage_core.runtime.operators import Operator

__all__ = ["BatchMapFunction", "BatchMapOperator", "batch_map"]


class BatchMapFunction(MapFunction):
    """A map whose work is done on lists: override :meth:`execute_batch`.

    Used with :func:`batch_map` it receives whole bundles (at most ``max_batch`` records);
    used with a plain ``stream.map(cls)`` it still works, one record per call.
    """

    def execute_batch(self, records: list[Any]) -> list[Any]:
        """Return one output per record, in order; an exception instance dead-letters its record."""
        raise NotImplementedError

    def execute(self, data: Any) -> Any:
        (out,) = self.execute_batch([data])
        if isinstance(out, BaseException):
            raise out
        return out


class BatchMapOperator(Operator):
    """Runtime side of :func:`batch_map`: calls ``execute_batch`` once per slice of a bundle."""

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.max_batch = int(self.node.options.get("max_batch") or 0)

    def _slices(self, items: list) -> list[list]:
        n = self.max_batch or len(items) or 1
        return [items[i : i + n] for i in range(0, len(items), n)]

    def _apply(self, records: list, fail: Any) -> list[tuple[bool, Any]]:
        """``[(ok, output)]`` for each record; failures go to ``fail(index, exc)``."""
        fn: Any = self.obj
        try:
            outs = list(fn.execute_batch(records))
            if len(outs) != len(records):
                msg = (
                    f"{type(self.obj).__name__}.execute_batch returned {len(outs)} outputs for "
                    f"{len(records)} records; return one output per record"
                )
                raise ValueError(msg)
        except Exception:
            outs = []  # the whole call failed: retry record by record to find the failing ones
            for record in records:
                try:
                    outs.append(fn.execute(record))
                except Exception as exc:
                    outs.append(exc)
        result = []
        for i, out in enumerate(outs):
            if isinstance(out, BaseException):
                fail(i, out)
                result.append((False, None))
            else:
                result.append((True, out))
        return result

    def run(self, items: list, input_index: int) -> list:
        out: list = []
        for part in self._slices(items):
            pairs = self._apply(part, lambda i, exc, part=part: self.fail(part[i], exc))
            out.extend(o for ok, o in pairs if ok)
        return out

    def run_keyed(self, pairs: list, input_index: int) -> list:
        out: list = []
        for part in self._slices(pairs):
            records = [p[1] for p in part]
            self.ctx.current_key = part[0][0] if len(part) == 1 else None
            results = self._apply(records, lambda i, exc, part=part: self.fail_keyed(part[i], exc))
            out.extend((p[0], o) for p, (ok, o) in zip(part, results) if ok)
        return out


def batch_map(
    stream: DataStream,
    fn: type[BatchMapFunction],
    *args: Any,
    max_batch: int | None = None,
    parallelism: int | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> DataStream:
    """Add ``fn`` (a :class:`BatchMapFunction` class) after ``stream``, called once per bundle.

    ``args``/``kwargs`` go to ``fn``'s constructor (on the worker), ``max_batch`` caps the
    records per ``execute_batch`` call. Returns the output stream.

    >>> from sage_core import LocalEnvironment
    >>> class Double(BatchMapFunction):
    ...     def execute_batch(self, records):
    ...         return [r * 2 for r in records]
    >>> env = LocalEnvironment("doc_batch_map")
    >>> _ = batch_map(env.from_batch([1, 2, 3]), Double).collect("out")
    >>> sorted(env.submit().collected["out"])
    [2, 4, 6]
    """
    if not (isinstance(fn, type) and issubclass(fn, BatchMapFunction)):
        msg = f"batch_map() needs a BatchMapFunction subclass, got {fn!r}; use stream.map() for plain functions"
        raise TypeError(msg)
    if max_batch is not None and (not isinstance(max_batch, int) or max_batch < 1):
        msg = f"batch_map(): max_batch must be an integer >= 1, got {max_batch!r}"
        raise ValueError(msg)
    spec = function_spec(ir.MAP, fn, args, kwargs, f"batch_map() after {stream.name!r}")
    return stream.env._add(
        ir.MAP, spec, [ir.Edge(stream.node_id)], parallelism, name, operator=BatchMapOperator, max_batch=max_batch
    )
