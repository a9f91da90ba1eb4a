"""One parallel instance of a stage: runs its fused chain over bundles and routes the output.

Every backend hosts ``StageInstance`` objects (a thread, a Dask worker, a Ray actor, a
Prefect task) and calls ``pull``/``process``/``finish``; each call returns a ``CallOutput``.
Its records leave as one ``Part`` per (route, target instance): on a distributed backend the
hosting process swaps each part's records for a reference before the output goes back to
the driver, so the driver sees counts and references, never the records.
"""

from __future__ import annotations

import pickle
import time
import traceback as tb
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sage_core import ir
from sage_core.api.context import RuntimeContext
from sage_core.errors import OperatorError
from sage_core.ir import plan
from sage_core.observe.logs import redact
from sage_core.observe.results import DeadLetter, OperatorMetrics
from sage_core.reliability.checkpoint import CheckpointError
from sage_core.runtime import partition
from sage_core.runtime.keyed import Keyed
from sage_core.runtime.lookup import runtime_class
from sage_core.runtime.operators import (
    _SKIP,
    Operator,
    as_callable,
    call_each,
    instantiate,
    without_skipped,
)
from sage_core.runtime.services import ServiceClient
from sage_core.runtime.sources import BatchReader, PollReader


class Part(NamedTuple):
    """Records of one call for one target instance of one route.

    ``data`` is the list of records where they were made; a distributed backend replaces it
    with a reference (a Ray object ref, a Dask future) that the driver hands to the target.
    """

    route: int
    target: int
    num_records: int
    data: Any


@dataclass
class CallOutput:
    """What one call returns to the driver."""

    routed: list[Part] = field(default_factory=list)
    collected: dict[str, list] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    metrics: dict[str, OperatorMetrics] = field(default_factory=dict)  # node name -> this instance's totals
    records_in: int = 0
    seconds: float = 0.0
    done: bool = False  # a source has ended


@dataclass(frozen=True)
class InstanceConfig:
    job_name: str
    strict: bool
    service_timeout: float
    target_parallelism: dict[int, int]  # stage id -> parallelism, for routing


class StageInstance:
    def __init__(self, stage: plan.Stage, index: int, config: InstanceConfig, services: ServiceClient):
        self.stage = stage
        self.index = index
        self.config = config
        self.services = services
        self._dead: list[DeadLetter] = []
        self._described: dict[int, str] = {}  # node id -> "Function (file:line)" for dead letters
        self._contexts: list[RuntimeContext] = []
        self._rr = index  # rotating offset for rebalance routes
        self.reader: BatchReader | PollReader | None = None
        self.ops: list[Operator] = []
        self._selectors: list[Any] = []
        self._source_out = 0
        self._replay: tuple[list, bool] | None = None  # records read by a pull that then failed
        self._parts: dict[tuple[int, int], list] = {}  # this call's output: (route, target) -> records

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        nodes = self.stage.nodes
        if self.stage.is_source:
            self.reader = runtime_class(nodes[0])(nodes[0], self._context(nodes[0]))
            nodes = nodes[1:]
        self.ops = [runtime_class(n)(n, self._context(n), self._fail) for n in nodes]
        for op in self.ops:
            op.ctx._dead_letter = op.dead_letter
        if self.reader is not None:
            head = self.stage.head
            self._contexts[0]._dead_letter = lambda record, exc: self._fail(head, record, exc, None)
        # whether the records entering op i are keyed (a Keyed bundle); an inline keyby makes them so
        self._keyed_in = [self.stage.keyed]
        for n in nodes:
            self._keyed_in.append(self._keyed_in[-1] or isinstance(n, ir.KeyBy))
        if self.ops:
            self.ops[-1].side_ports = frozenset(r.port for r in self.stage.routes if r.port)
        for r in self.stage.routes:
            if r.keyby is None:
                self._selectors.append(None)
            else:
                spec = r.keyby.function
                assert spec is not None
                self._selectors.append(as_callable(instantiate(spec, self._context(r.keyby)), spec))

    def _context(self, node: ir.Node) -> RuntimeContext:
        ctx = RuntimeContext(
            name=node.name,
            job_name=self.config.job_name,
            parallel_index=self.index,
            parallelism=self.stage.parallelism,
            services=self.services,
            service_timeout=self.config.service_timeout,
        )
        self._contexts.append(ctx)
        return ctx

    # -- calls -------------------------------------------------------------------------
    def pull(self, max_records: int, max_seconds: float) -> CallOutput:
        start = time.perf_counter()
        assert self.reader is not None, "pull() is only called on source stages"
        if self._replay is not None:  # the last pull failed after reading: process the same records again
            items, done = self._replay
        else:
            try:
                items, done = self.reader.read(max_records, max_seconds)
            except Exception as exc:
                raise self._error(self.stage.head, None, exc) from exc
            self._source_out += len(items)
        out = CallOutput(done=done, records_in=len(items))
        self._replay = (items, done)
        self._parts = {}  # a retried call starts clean
        self._run(items, 0, 0, out)
        self._replay = None
        out.seconds = time.perf_counter() - start
        self._finish_output(out)
        return out

    def process(self, batches: list[tuple[int, list]]) -> CallOutput:
        start = time.perf_counter()
        out = CallOutput()
        self._parts = {}
        for input_index, items in batches:
            self._run(items, 0, input_index, out)
            out.records_in += len(items)
        out.seconds = time.perf_counter() - start
        self._finish_output(out)
        return out

    def finish(self) -> CallOutput:
        """Every input has ended: flush buffering operators in chain order, then close all."""
        out = CallOutput()
        self._parts = {}
        for pos, op in enumerate(self.ops):
            flushed = op.end()  # emitted by op ``pos``: keyed as its output is
            if flushed:
                op.records_out += len(flushed)
                self._run(flushed, pos + 1, 0, out)
        for op in self.ops:
            op.close()
        if self.reader is not None and self.reader.obj is not None:
            closer = getattr(self.reader.obj, "close", None)
            if callable(closer):
                closer()
        self._finish_output(out)
        return out

    def snapshot(self) -> bytes:
        """This instance's part of a checkpoint (taken between calls, with nothing in flight)."""
        state: dict[str, Any] = {"rr": self._rr, "source_out": self._source_out}
        try:
            if self.reader is not None:
                saver = getattr(self.reader.obj, "snapshot", None)
                state["source"] = (self.reader.position, saver() if callable(saver) else None)
                state["source_metrics"] = dict(self._contexts[0].metrics.counters)
            state["ops"] = [op.snapshot() for op in self.ops]
            return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            msg = (
                f"stage {self.stage.name!r} (instance {self.index}): its state cannot be saved in a checkpoint "
                f"({_error_text(exc)}); keep picklable values in ctx.state, or define snapshot()/restore() "
                "on the function that holds the rest"
            )
            raise CheckpointError(msg) from exc

    def restore(self, data: bytes) -> None:
        """Continue from a :meth:`snapshot` (called after :meth:`open`, before any other call)."""
        state = pickle.loads(data)
        self._rr, self._source_out = state["rr"], state["source_out"]
        if self.reader is not None:
            position, own = state["source"]
            self.reader.seek(position)
            if own is not None:
                self.reader.obj.restore(own)  # type: ignore[union-attr]
            self._contexts[0].metrics.counters.update(state["source_metrics"])
        for op, op_state in zip(self.ops, state["ops"]):
            op.restore(op_state)

    # -- internals ---------------------------------------------------------------------
    def _run(self, items: list | Keyed, start: int, input_index: int, out: CallOutput) -> None:
        keyed = self._keyed_in[start]
        if keyed:
            items = Keyed.of(items)
        for pos in range(start, len(self.ops)):
            if not items:
                break
            op = self.ops[pos]
            t0 = time.perf_counter()
            n = len(items)
            op.records_in += n
            items = op.run_keyed(items, input_index) if keyed else op.run(items, input_index)  # type: ignore[arg-type]
            if op.finish_bundle is not None:
                self._finish_bundle(op)
            keyed = self._keyed_in[pos + 1]
            if keyed and type(items) is not Keyed:  # an operator that returned (key, record) pairs
                items = Keyed.of(items)
            op.records_out += len(items)
            elapsed = time.perf_counter() - t0
            op.seconds += elapsed
            op.latency.observe(elapsed / n, n)
            input_index = 0
        self._route(items, out)

    def _finish_bundle(self, op: Operator) -> None:
        try:
            op.finish_bundle()  # type: ignore[misc]
        except Exception as exc:
            raise self._error(op.node, None, exc, "finish_bundle(): ") from exc

    def _route(self, items: list | Keyed, out: CallOutput) -> None:
        """Split the chain's output (and its last operator's side outputs) over the routes."""
        routes = self.stage.routes
        if not routes:
            return
        keyed = self._keyed_in[-1]
        outputs: dict[str | None, list] = {}
        for ri, route in enumerate(routes):
            values = outputs.get(route.port)
            if values is None:
                batch: Any = items if route.port is None else self.ops[-1].take_side(route.port)
                values = outputs[route.port] = Keyed.of(batch).records if keyed else batch
            if not values:
                continue
            par = self.config.target_parallelism[route.target]
            if route.keyby is None:
                if route.partition == plan.FORWARD:
                    self._emit(ri, [(self.index, values)])
                else:
                    self._rr += 1
                    self._emit(ri, partition.spread(values, par, self._rr))
                continue
            pairs = self._keys(ri, route.keyby, values)
            if route.partition == plan.HASH:
                self._emit(ri, partition.by_key(pairs, par, route.keyby.field))
            elif route.partition == plan.BROADCAST:
                self._emit(ri, [(t, pairs) for t in range(par)])
            else:  # round robin
                self._rr += 1
                self._emit(ri, partition.spread(pairs, par, self._rr))

    def _emit(self, route: int, chunks: list[tuple[int, Any]]) -> None:
        """Add ``(target, records)`` chunks to this call's parts, one list per route and target."""
        for target, chunk in chunks:
            part = self._parts.get((route, target))
            self._parts[(route, target)] = chunk if part is None else part + chunk

    def _keys(self, ri: int, keyby: ir.Node, values: list) -> Keyed:
        selector = self._selectors[ri]
        failed = 0

        def fail(record, exc):
            nonlocal failed
            failed += 1
            self._fail(keyby, record, exc, None)

        keys = call_each(selector, values, fail, _SKIP)
        return without_skipped(Keyed(keys, values), keys, failed > 0)

    def _describe(self, node: ir.Node) -> str:
        """``"Function (file:line)"``, once per node (reading the source is slow)."""
        function = self._described.get(node.id)
        if function is None:
            function = self._described[node.id] = node.function.describe() if node.function is not None else node.kind
        return function

    def _error(self, node: ir.Node, record: Any, exc: BaseException, where: str = "") -> OperatorError:
        """The job-failing error for ``exc`` raised at ``node``, secrets masked."""
        return OperatorError(node.name, self._describe(node), record, redact(where + _error_text(exc)), redact(tb.format_exc()))

    def _fail(self, node: ir.Node, record: Any, exc: BaseException, key: Any, attempts: int = 1) -> None:
        if self.config.strict:
            raise self._error(node, record, exc) from exc
        error, trace = redact(_error_text(exc)), redact(tb.format_exc())
        self._dead.append(DeadLetter(node.name, self._describe(node), record, error, trace, key, attempts))

    def _finish_output(self, out: CallOutput) -> None:
        out.routed = [Part(ri, t, len(records), records) for (ri, t), records in self._parts.items()]
        self._parts = {}
        for ctx in self._contexts:
            for name, records in ctx.take_collected().items():
                out.collected.setdefault(name, []).extend(records)
        if self._dead:
            out.dead_letters.extend(self._dead)
            self._dead = []
        out.metrics = {op.node.name: op.metrics() for op in self.ops}
        if self.reader is not None:
            head = self.stage.head
            counters = dict(self._contexts[0].metrics.counters)
            out.metrics[head.name] = OperatorMetrics(head.name, kind=head.kind, records_out=self._source_out, custom=counters)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
