"""A SAGE pipeline as a LangChain ``Runnable``: existing LangChain apps call it like any chain.

``build(stream) -> DataStream`` describes the pipeline after a source of input records;
each call submits a job whose source holds the inputs and returns what the pipeline's last
stream produced. ``invoke(x)`` returns the list of outputs for ``x`` (or the one output
with ``single=True``); ``batch(xs)`` runs one job per input (concurrently, bounded by
``max_concurrency``), ``stream(x)`` yields the outputs one by one, and ``ainvoke`` /
``abatch`` / ``astream`` are the async forms. It composes with LCEL (``prompt | sage | parser``).

Example::

    from sage_adapters.langchain import PipelineRunnable

    def build(questions):
        return add_answering(questions, "data/kb")          # any DataStream steps

    rag = PipelineRunnable(build, single=True)
    rag.invoke("What does the with statement do?")["answer"]
    chain = rag | (lambda reply: reply["answer"])          # LCEL
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from sage_core import LocalEnvironment
from sage_core.api.datastream import DataStream

__all__ = ["PipelineRunnable", "as_runnable"]

_OUT = "pipeline_output"


class PipelineRunnable(Runnable[Any, Any]):
    """Wraps ``build`` (a function from an input stream to an output stream) as a Runnable.

    ``backend`` and ``submit_options`` choose where each job runs (default: local);
    ``env_config`` is the environment's config (``EnvConfig`` fields). With ``strict=True``
    (default) a record that fails inside the pipeline makes the call raise
    ``sage_core.OperatorError``; with ``strict=False`` failing records are left out of the outputs.

    >>> square = PipelineRunnable(lambda s: s.map(lambda x: x * x), single=True)
    >>> square.invoke(7), square.batch([2, 3])
    (49, [4, 9])
    """

    def __init__(
        self,
        build: Callable[[DataStream], DataStream],
        *,
        single: bool = False,
        name: str = "sage_pipeline",
        backend: str | None = None,
        env_config: dict[str, Any] | None = None,
        strict: bool = True,
        **submit_options: Any,
    ):
        if not callable(build):
            msg = f"PipelineRunnable needs a function build(stream) -> DataStream, got {build!r}"
            raise TypeError(msg)
        self.build = build
        self.single = single
        self.name = name
        self.backend = backend
        self.env_config = dict(env_config or {})
        self.strict = strict
        self.submit_options = submit_options

    def run_job(self, inputs: list[Any]) -> list[Any]:
        """One SAGE job over all ``inputs``: every output of the pipeline, in no fixed order."""
        env = LocalEnvironment(self.name or "sage_pipeline", config=self.env_config, strict=self.strict)
        out = self.build(env.from_batch(list(inputs), name="inputs"))
        if not isinstance(out, DataStream):
            msg = f"PipelineRunnable: build() must return the DataStream to read from, got {type(out).__name__}"
            raise TypeError(msg)
        out.collect(_OUT)
        result: Any = env.submit(backend=self.backend, **self.submit_options)
        return list(result.collected.get(_OUT, []))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the pipeline on one input: its outputs (a list), or the only one when ``single``."""
        return self._call_with_config(self._invoke, input, config, **kwargs)

    def _invoke(self, input: Any) -> Any:
        outputs = self.run_job([input])
        if not self.single:
            return outputs
        if len(outputs) != 1:
            msg = f"PipelineRunnable(single=True): the pipeline produced {len(outputs)} outputs for one input; use single=False"
            raise ValueError(msg)
        return outputs[0]

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:
        """Yield the pipeline's outputs for ``input`` one at a time."""
        result = self.invoke(input, config, **kwargs)
        yield from ([result] if self.single else result)


def as_runnable(build: Callable[[DataStream], DataStream] | None = None, **options: Any) -> Any:
    """``as_runnable(build)``, or as a decorator: ``@as_runnable`` / ``@as_runnable(single=True)``.

    >>> @as_runnable(single=True)
    ... def upper(stream):
    ...     return stream.map(str.upper)
    >>> upper.invoke("sage")
    'SAGE'
    """
    if build is None:
        return lambda fn: PipelineRunnable(fn, **options)
    return PipelineRunnable(build, **options)
