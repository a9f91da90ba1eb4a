"""Pipelines as real Prefect flows: call them, nest them, serve or deploy them.

Example (a module-level flow can be served and deployed)::

    from sage_adapters.prefect import as_prefect_flow

    @as_prefect_flow
    def wordcount():
        env = LocalEnvironment("wordcount")
        env.from_batch(texts).flatmap(str.split).collect("words")
        return env

    wordcount()                                   # a flow run with one task run per bundle call
    wordcount.serve(name="wordcount-nightly")     # or .deploy(...) / .to_deployment(...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import Flow, flow
from prefect.task_runners import ThreadPoolTaskRunner

from sage_adapters.prefect.backend import _inside_sage_flow
from sage_core.api.environment import Environment
from sage_core.errors import PipelineValidationError
from sage_core.observe.results import JobResult


def as_prefect_flow(
    pipeline: Environment | Callable[[], Environment] | None = None,
    *,
    name: str | None = None,
    max_workers: int = 32,
    **options: Any,
) -> Flow:
    """Turn an environment, or a function that builds one, into a Prefect flow.

    The flow returns the job's ``JobResult.to_dict()``. ``options`` go to the Prefect
    backend (``retries``, ``retry_delay_seconds``). Used as a decorator on a module-level
    function, the flow can be served and deployed (Prefect finds it by that name).
    """
    if pipeline is None:
        return lambda fn: as_prefect_flow(fn, name=name, max_workers=max_workers, **options)  # type: ignore[return-value]
    if isinstance(pipeline, Environment):
        env, build, label = pipeline, None, pipeline.name
    elif callable(pipeline):
        env, build, label = None, pipeline, getattr(pipeline, "__name__", "sage_pipeline")
    else:
        msg = f"as_prefect_flow() needs an Environment or a function returning one, got {pipeline!r}"
        raise PipelineValidationError(msg)

    def run_pipeline() -> dict[str, Any]:
        return run_in_flow(env if build is None else build(), label, options)

    if build is not None:  # let Prefect find the flow by the decorated function's name
        run_pipeline.__name__ = run_pipeline.__qualname__ = build.__name__
        run_pipeline.__module__ = build.__module__
        run_pipeline.__doc__ = build.__doc__
    return flow(
        name=name or label,
        task_runner=ThreadPoolTaskRunner(max_workers=max_workers),  # type: ignore[arg-type]
        validate_parameters=False,
        persist_result=False,
    )(run_pipeline)


def run_in_flow(env: Any, label: str, options: dict[str, Any]) -> dict[str, Any]:
    """The body of a SAGE flow: submit ``env`` so its tasks join the current flow run."""
    if not isinstance(env, Environment):
        msg = f"{label}() must return an Environment, got {type(env).__name__}"
        raise PipelineValidationError(msg)
    token = _inside_sage_flow.set(True)
    try:
        result = env.submit(backend="prefect", **options)
        assert isinstance(result, JobResult)
        return result.to_dict()
    finally:
        _inside_sage_flow.reset(token)
