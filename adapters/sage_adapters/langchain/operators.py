"""Any LangChain ``Runnable`` as a SAGE operator, called once per bundle with ``batch``.

A prompt, chat model, retriever, tool, output parser or a whole LCEL chain: whatever
``runnable.batch(inputs)`` accepts. :func:`runnable_map` adds it to a stream; each bundle of
records (up to ``max_batch``) becomes one ``runnable.batch(records, config={"max_concurrency":
n}, return_exceptions=True)`` call, or ``abatch`` with ``use_async=True``. A record whose
call raised goes to SAGE's dead-letter output (``JobResult.dead_letters``, or an
``OperatorError`` with ``strict=True``) with the runnable's error; the others go on.

The runnable is pickled with the operator, so on Dask and Ray it must pickle (prompts,
parsers, ``RunnableLambda`` of a module-level function, most chat models do).

Example::

    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.output_parsers import StrOutputParser
    from sage_adapters.langchain import runnable_map

    chain = ChatPromptTemplate.from_template("Summarise: {text}") | chat_model | StrOutputParser()
    summaries = runnable_map(docs, chain, max_concurrency=8)            # docs: {"text": ...}
    tagged = runnable_map(docs, chain, input_key=None, output_key="summary")  # keep the record, add a field

Holds the Runnable-as-operator direction only; it needs nothing but ``sage_core`` and the
runnable. Must not hold the other direction (:mod:`.runnable`) nor any model or recipe.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sage_core.api.datastream import DataStream
from sage_core.api.functions import BatchMapFunction

__all__ = ["RunnableMap", "runnable_map"]


class RunnableMap(BatchMapFunction):
    """Runs a LangChain Runnable over whole bundles of records.

    ``input_key``: feed ``record[input_key]`` instead of the record. ``output_key``: emit a
    copy of the (dict) record with the result under that key instead of the bare result.
    ``config`` is a ``RunnableConfig`` merged under ``max_concurrency``.

    >>> from langchain_core.runnables import RunnableLambda
    >>> op = RunnableMap(RunnableLambda(lambda x: 10 // x))
    >>> op.execute_batch([1, 0, 5])[::2], type(op.execute_batch([0])[0]).__name__
    ([10, 2], 'ZeroDivisionError')
    """

    def __init__(
        self,
        runnable: Any,
        *,
        max_concurrency: int | None = 4,
        config: dict[str, Any] | None = None,
        input_key: str | None = None,
        output_key: str | None = None,
        use_async: bool = False,
    ):
        if not callable(getattr(runnable, "batch", None)):
            msg = f"RunnableMap needs a LangChain Runnable (with .batch), got {runnable!r:.120}; wrap plain functions in RunnableLambda"
            raise TypeError(msg)
        self.runnable = runnable
        self.config = {**(config or {}), **({"max_concurrency": max_concurrency} if max_concurrency else {})}
        self.input_key = input_key
        self.output_key = output_key
        self.use_async = use_async

    def _input(self, record: Any) -> Any:
        if self.input_key is None:
            return record
        if not isinstance(record, dict) or self.input_key not in record:
            msg = f"RunnableMap(input_key={self.input_key!r}): record has no such key: {record!r:.120}"
            raise KeyError(msg)
        return record[self.input_key]

    def _output(self, record: Any, result: Any) -> Any:
        if self.output_key is None or isinstance(result, BaseException):
            return result
        base = dict(record) if isinstance(record, dict) else {"input": record}
        base[self.output_key] = result
        return base

    def execute_batch(self, records: list[Any]) -> list[Any]:
        inputs: list[Any] = []
        positions: list[int] = []
        outs: list[Any] = [None] * len(records)
        for i, r in enumerate(records):
            try:
                inputs.append(self._input(r))
                positions.append(i)
            except Exception as exc:
                outs[i] = exc
        if inputs:
            if self.use_async:
                results = asyncio.run(self.runnable.abatch(inputs, config=self.config, return_exceptions=True))
            else:
                results = self.runnable.batch(inputs, config=self.config, return_exceptions=True)
            for i, res in zip(positions, results):
                outs[i] = self._output(records[i], res)
        return outs


def runnable_map(
    stream: DataStream,
    runnable: Any,
    *,
    max_concurrency: int | None = 4,
    max_batch: int | None = None,
    config: dict[str, Any] | None = None,
    input_key: str | None = None,
    output_key: str | None = None,
    use_async: bool = False,
    parallelism: int | None = None,
    name: str | None = None,
) -> DataStream:
    """Add ``runnable`` after ``stream`` as a bundle-batched operator; returns the output stream.

    >>> from sage_core import LocalEnvironment
    >>> from langchain_core.runnables import RunnableLambda
    >>> env = LocalEnvironment("doc_runnable_map")
    >>> _ = runnable_map(env.from_batch([1, 2, 3]), RunnableLambda(lambda x: x + 1)).collect("out")
    >>> sorted(env.submit().collected["out"])
    [2, 3, 4]
    """
    return stream.map_batches(
        RunnableMap,
        runnable,
        max_concurrency=max_concurrency,
        config=config,
        input_key=input_key,
        output_key=output_key,
        use_async=use_async,
        max_batch=max_batch,
        parallelism=parallelism,
        name=name,
    )
