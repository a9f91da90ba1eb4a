"""Checks a logical graph before anything runs; every problem names the operator and the fix.

Holds graph validation only. API-time checks (wrong function type at ``map(...)``) live in
``datastream.py`` so the error points at the user's line.
"""

from __future__ import annotations

import inspect
from typing import Any

from sage_core import ir
from sage_core.errors import PipelineValidationError
from sage_core.services import ServiceSpec

# How many positional arguments a plain callable receives, per node kind.
CALLABLE_ARITY = {ir.MAP: 1, ir.FILTER: 1, ir.FLATMAP: 1, ir.SINK: 1, ir.KEYBY: 1}


def validate(
    graph: ir.Graph, *, services: tuple[ServiceSpec, ...] = (), distributed: bool = False, backend: str = "local"
) -> None:
    """Raise ``PipelineValidationError`` listing every problem found in ``graph``."""
    problems: list[str] = []
    if not graph.nodes:
        raise PipelineValidationError(f"pipeline {graph.name!r} is empty: start it with env.from_batch(...) or env.from_source(...)")
    consumers: dict[int, int] = {n.id: 0 for n in graph.nodes}
    for n in graph.nodes:
        for e in n.inputs:
            if e.port is None:  # side outputs do not consume the main output
                consumers[e.source] += 1
    if not any(n.kind == ir.SINK for n in graph.nodes):
        problems.append("the pipeline has no sink: end a stream with .sink(...), .print() or .collect(name)")
    for n in graph.nodes:
        where = f"operator {n.name!r}"
        if n.kind == ir.FUTURE and not n.inputs:
            problems.append(f"from_future({n.options.get('future')!r}) was never filled: call stream.fill_future(future)")
        if n.kind != ir.SINK and consumers[n.id] == 0:
            problems.append(f"{where} ({n.kind}) has no consumer, so its output would be lost: add a sink after it")
        if not isinstance(n.parallelism, int) or n.parallelism < 1:
            problems.append(f"{where}: parallelism must be an integer >= 1, got {n.parallelism!r}")
        if n.kind == ir.SOURCE_BATCH and n.parallelism != 1:
            problems.append(f"{where}: a batch source runs with parallelism 1; use from_source(...) to read in parallel")
        if n.kind == ir.JOIN:
            if len(n.inputs) != 2:
                problems.append(f"{where}: join takes exactly two inputs, got {len(n.inputs)}")
        if n.kind in (ir.JOIN, ir.COMAP) and len(n.inputs) > 1:
            keyed = [graph.node(e.source).kind == ir.KEYBY for e in n.inputs]
            if n.kind == ir.JOIN and not all(keyed):
                problems.append(f"{where}: join needs keyed inputs: call .keyby(selector) on the connected streams first")
            elif any(keyed) and not all(keyed):
                problems.append(f"{where}: either key every input of a connected stream or none")
        if n.kind == ir.WINDOW and graph.node(n.inputs[0].source).kind != ir.KEYBY:
            problems.append(f"{where}: windows need a keyed stream; call .keyby(selector) before .window(...)")
        if n.kind == ir.KEYBY and n.options.get("strategy") not in ir.KEYBY_STRATEGIES:
            problems.append(f"{where}: unknown keyby strategy {n.options.get('strategy')!r}; use one of {ir.KEYBY_STRATEGIES}")
        if n.kind == ir.KEYBY and graph.node(n.inputs[0].source).kind == ir.KEYBY:
            problems.append(f"{where}: keyby directly after keyby; keep only the last one")
        if distributed and n.function is not None:
            problem = _unpicklable(n.function)
            if problem:
                problems.append(
                    f"{where}: function {n.function.describe()} cannot be sent to backend {backend!r} ({problem}); "
                    "define it at module level and avoid capturing locks, files or generators"
                )
    if distributed:
        for spec in services:
            problem = _unpicklable(spec)
            if problem:
                problems.append(f"service {spec.name!r} cannot be sent to backend {backend!r} ({problem})")
    if problems:
        msg = f"pipeline {graph.name!r} is invalid:\n" + "\n".join(f"  - {p}" for p in problems)
        raise PipelineValidationError(msg)


def check_callable(kind: str, fn: Any, extra_args: int, where: str, kwargs: tuple[str, ...] = ()) -> None:
    """A plain callable must accept the record (plus the operator's extra args)."""
    wanted = CALLABLE_ARITY.get(kind)
    if wanted is None:
        return
    try:
        inspect.signature(fn).bind(*([None] * (wanted + extra_args)), **dict.fromkeys(kwargs))
    except TypeError as exc:
        msg = f"{where}: {getattr(fn, '__qualname__', fn)!r} must accept {wanted + extra_args} positional argument(s) ({exc})"
        raise PipelineValidationError(msg) from None
    except ValueError:  # builtins without a signature (print, len): accept
        return


def _unpicklable(obj: Any) -> str | None:
    try:
        import cloudpickle
    except ImportError:  # distributed backends ship cloudpickle; without it use pickle
        import pickle as cloudpickle
    try:
        cloudpickle.dumps(obj)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
