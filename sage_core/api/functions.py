"""Function classes users subclass to write operators.

Each class has one ``execute`` method. SAGE instantiates a class once per parallel instance
(with the ``*args, **kwargs`` given to the operator) on the worker that runs it, sets
``self.ctx`` (a :class:`~sage_core.api.context.RuntimeContext`), then calls ``open()``, then
``execute`` for every record (and ``finish_bundle()`` after each bundle of them), then
``close()`` when the stream ends.

Example::

    class Upper(MapFunction):
        def execute(self, data):
            return data.upper()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_core.api.context import RuntimeContext


class StopSignal:
    """Returned by a :class:`SourceFunction` (the class itself, or an instance) to end the stream."""


class BaseFunction:
    """Common base: runtime context, lifecycle hooks and service calls."""

    ctx: RuntimeContext

    def open(self) -> None:
        """Called once on the worker before the first record."""

    def close(self) -> None:
        """Called once when the stream has ended (after the last record)."""

    def snapshot(self) -> Any:
        """State to keep in a checkpoint besides ``ctx.state`` (``None``: nothing).

        Called between bundles when a checkpoint is taken; what it returns is pickled and
        handed to :meth:`restore` when the job resumes from that checkpoint.
        """
        return None

    def restore(self, state: Any) -> None:
        """Take back what :meth:`snapshot` returned (called after ``open()`` on resume)."""

    def finish_bundle(self) -> None:
        """Called after each bundle of records (as in Beam): a sink that buffers writes
        flushes them here, so that an unbounded stream's writes become visible at once.
        An exception here fails the call, and the job (a restart strategy may act)."""

    @property
    def logger(self):
        return self.ctx.logger

    def call_service(
        self, name: str, *args: Any, method: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        """Call ``method`` of the service registered as ``name`` and wait for the answer.

        ``method=None`` calls the service object itself. Raises ``ServiceTimeoutError``
        after ``timeout`` seconds (the environment's ``service_timeout`` by default).
        """
        return self.ctx.call_service(name, *args, method=method, timeout=timeout, **kwargs)

    def call_service_async(
        self, name: str, *args: Any, method: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> Future:
        """Like :meth:`call_service` but returns a ``concurrent.futures.Future`` at once."""
        return self.ctx.call_service_async(name, *args, method=method, timeout=timeout, **kwargs)


class MapFunction(BaseFunction):
    """One record in, one record out."""

    def execute(self, data: Any) -> Any:
        raise NotImplementedError


class BatchMapFunction(MapFunction):
    """A map whose work is done on lists: override :meth:`execute_batch`.

    Added with ``stream.map_batches(cls)`` it receives whole bundles (at most ``max_batch``
    records) in one call, as models and remote endpoints want them; with a plain
    ``stream.map(cls)`` it still works, one record per call.
    """

    def execute_batch(self, records: list[Any]) -> list[Any]:
        """Return one output per record, in order; an exception instance dead-letters its record."""
        raise NotImplementedError

    @staticmethod
    def per_record(fn: Callable[[Any], Any], records: list[Any]) -> list[Any]:
        """``[fn(r) for r in records]`` with a record's exception as its output, so that only
        that record becomes a dead letter (for batch functions whose work is per record).

        >>> BatchMapFunction.per_record(lambda r: 10 // r, [5, 0])
        [2, ZeroDivisionError('integer division or modulo by zero')]
        """
        outs: list[Any] = []
        for record in records:
            try:
                outs.append(fn(record))
            except Exception as exc:
                outs.append(exc)
        return outs

    def execute(self, data: Any) -> Any:
        (out,) = self.execute_batch([data])
        if isinstance(out, BaseException):
            raise out
        return out


class FilterFunction(BaseFunction):
    """Keep the record when ``execute`` returns a true value."""

    def execute(self, data: Any) -> bool:
        raise NotImplementedError


class FlatMapFunction(BaseFunction):
    """One record in, any number out: return an iterable, or call ``self.collect(x)``."""

    _collected: list[Any] | None = None

    def collect(self, data: Any) -> None:
        if self._collected is None:
            self._collected = []
        self._collected.append(data)

    def execute(self, data: Any) -> Iterable[Any] | None:
        raise NotImplementedError


class SinkFunction(BaseFunction):
    """Consumes records; override ``close()`` to flush."""

    def execute(self, data: Any) -> None:
        raise NotImplementedError


class KeyByFunction(BaseFunction):
    """Returns the key of a record."""

    def execute(self, data: Any) -> Any:
        raise NotImplementedError


class _PositionedSource(BaseFunction):
    """Sources checkpoint their attributes by default: a source that keeps its position in
    plain attributes (an offset, a file position, a cursor) resumes where it was. Override
    ``snapshot``/``restore`` for sources holding things that cannot be pickled."""

    def snapshot(self) -> Any:
        return {k: v for k, v in vars(self).items() if k != "ctx"}

    def restore(self, state: Any) -> None:
        vars(self).update(state)


class SourceFunction(_PositionedSource):
    """An unbounded source polled by SAGE.

    ``execute()`` returns the next record, ``None`` when nothing is available yet (SAGE polls
    again shortly), or :class:`StopSignal` to end the stream.
    """

    def execute(self) -> Any:
        raise NotImplementedError


class BatchFunction(_PositionedSource):
    """A bounded source: ``execute()`` returns the next record, or ``None`` when exhausted.

    A source whose records are ``pyarrow.RecordBatch`` objects sets ``columnar = True``, so
    that ``filter`` and windows after it work on columns (see docs/columnar.md).
    """

    columnar: bool = False

    def execute(self) -> Any:
        raise NotImplementedError


class CoMapFunction(BaseFunction):
    """For connected streams: ``map0`` handles input 0, ``map1`` input 1, and so on.

    ``execute(data, input_index)`` dispatches to ``map<input_index>``; override it to handle
    every input in one place.
    """

    def execute(self, data: Any, input_index: int) -> Any:
        return getattr(self, f"map{input_index}")(data)


class JoinFunction(BaseFunction):
    """Keyed join of two streams.

    ``execute(payload, key, tag)`` is called for every record of either input (``tag`` is 0
    or 1) and returns an iterable of output records (or ``None``). Keep what you need in
    ``self.ctx.state``, which is scoped to ``key``.
    """

    def execute(self, payload: Any, key: Any, tag: int) -> Iterable[Any] | None:
        raise NotImplementedError


class PairJoin(JoinFunction):
    """Inner join that emits ``fn(left, right)`` for every pair of records sharing a key.

    Used when ``join`` is given a plain two-argument callable. Both sides are buffered per
    key for the life of the stream.
    """

    def __init__(self, fn):
        self.fn = fn

    def execute(self, payload: Any, key: Any, tag: int) -> list[Any]:
        sides = self.ctx.state.setdefault("sides", ([], []))
        sides[tag].append(payload)
        others = sides[1 - tag]
        if tag == 0:
            return [self.fn(payload, other) for other in others]
        return [self.fn(other, payload) for other in others]


class PrintSink(SinkFunction):
    """Prints each record, with an optional prefix."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def execute(self, data: Any) -> None:
        print(f"{self.prefix}{data}", flush=True)


class CollectSink(SinkFunction):
    """Sends every record back to the driver: ``JobResult.collected[name]`` on any backend."""

    def __init__(self, name: str):
        self.name = name

    def execute(self, data: Any) -> None:
        self.ctx.collect(self.name, data)
