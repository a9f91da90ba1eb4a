"""Checks a logical graph before anything runs; every problem names the operator and the fix.

Holds graph validation only. API-time checks (wrong function type at ``map(...)``) live in
``datastream.py`` so the error points at the user's line.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from sage_core import ir
from sage_core.errors import PipelineValidationError

if TYPE_CHECKING:
    from sage_core.runtime.services import ServiceSpec

# How many positional arguments a plain callable receives, per node type.
CALLABLE_ARITY: dict[type[ir.Node], int] = {ir.Map: 1, ir.Filter: 1, ir.FlatMap: 1, ir.Sink: 1, ir.KeyBy: 1}


def validate(
    graph: ir.Graph, *, services: tuple[ServiceSpec, ...] = (), distributed: bool = False, backend: str = "local"
) -> None:
    """Raise ``PipelineValidationError`` listing every problem found in ``graph``: the
    checks every node shares, then each node type's own (:meth:`Node.problems`)."""
    problems: list[str] = []
    if not graph.nodes:
        raise PipelineValidationError(f"pipeline {graph.name!r} is empty: start it with env.from_batch(...) or env.from_source(...)")
    consumers: dict[int, int] = {n.id: 0 for n in graph.nodes}
    for n in graph.nodes:
        for e in n.inputs:
            if e.port is None:  # side outputs do not consume the main output
                consumers[e.source] += 1
    if not any(isinstance(n, ir.Sink) for n in graph.nodes):
        problems.append("the pipeline has no sink: end a stream with .sink(...), .print() or .collect(name)")
    for n in graph.nodes:
        where = f"operator {n.name!r}"
        if not isinstance(n, ir.Sink) and consumers[n.id] == 0:
            problems.append(f"{where} ({n.kind}) has no consumer, so its output would be lost: add a sink after it")
        if not isinstance(n.parallelism, int) or n.parallelism < 1:
            problems.append(f"{where}: parallelism must be an integer >= 1, got {n.parallelism!r}")
        problems.extend(n.problems(graph))
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


def check_callable(node_type: type[ir.Node], fn: Any, extra_args: int, where: str, kwargs: tuple[str, ...] = ()) -> None:
    """A plain callable must accept the record (plus the operator's extra args)."""
    wanted = CALLABLE_ARITY.get(node_type)
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
