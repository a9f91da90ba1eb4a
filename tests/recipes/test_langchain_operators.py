"""LangChain Runnables as SAGE operators (batch per bundle, errors as dead letters), and
SAGE pipelines as LangChain Runnables."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason="needs langchain_core (the langchain/embed extras)")

import asyncio  # noqa: E402
import os  # noqa: E402

from langchain_core.language_models import FakeListChatModel  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate  # noqa: E402
from langchain_core.runnables import RunnableLambda  # noqa: E402

from sage_adapters.langchain import PipelineRunnable, RunnableMap, as_runnable, runnable_map  # noqa: E402
from sage_core import LocalEnvironment, OperatorError  # noqa: E402
from tests.recipes.langchain_helpers import shout  # noqa: E402


class CountingLambda(RunnableLambda):
    """Records the size of every ``batch`` call."""

    def batch(self, inputs, config=None, **kwargs):
        self.__dict__.setdefault("sizes", []).append(len(inputs))
        self.__dict__.setdefault("configs", []).append(config)
        return super().batch(inputs, config, **kwargs)


def test_runnable_is_called_with_whole_bundles_and_errors_are_dead_letters():
    chain = CountingLambda(lambda x: 100 // x)
    env = LocalEnvironment("lc_batch", config={"initial_bundle": 32})
    runnable_map(env.from_batch([1, 2, 0, 4, 5]), chain, max_concurrency=3, name="divide").collect("out")
    result = env.submit()
    assert sorted(result.collected["out"]) == [20, 25, 50, 100]
    assert chain.sizes == [5] and chain.configs[0]["max_concurrency"] == 3
    [dead] = result.dead_letters
    assert dead.operator == "divide" and dead.record == 0 and "ZeroDivisionError" in dead.error


def test_prompt_chat_model_parser_chain_with_keys():
    chain = ChatPromptTemplate.from_template("Summarise: {text}") | FakeListChatModel(responses=["short"]) | StrOutputParser()
    env = LocalEnvironment("lc_chain")
    docs = [{"id": i, "payload": {"text": f"document {i}"}} for i in range(4)]
    runnable_map(env.from_batch(docs), chain, input_key="payload", output_key="summary").collect("out")
    out = sorted(env.submit().collected["out"], key=lambda r: r["id"])
    assert [r["summary"] for r in out] == ["short"] * 4 and out[0]["payload"] == {"text": "document 0"}


def test_async_batch_and_strict_mode():
    env = LocalEnvironment("lc_async")
    runnable_map(env.from_batch(["a", "b"]), RunnableLambda(shout), use_async=True).collect("out")
    assert sorted(r.split("!")[0] for r in env.submit().collected["out"]) == ["A", "B"]
    strict = LocalEnvironment("lc_strict", strict=True)
    runnable_map(strict.from_batch(["ok", "boom"]), RunnableLambda(shout)).collect("out")
    with pytest.raises(OperatorError, match="cannot shout 'boom'"):
        strict.submit()
    with pytest.raises(TypeError, match="RunnableLambda"):
        RunnableMap(lambda x: x)


def test_runnable_operator_pickles_to_dask_workers():
    pytest.importorskip("distributed")
    chain = PromptTemplate.from_template("{word}") | RunnableLambda(lambda p: p.to_string()) | RunnableLambda(shout)
    env = LocalEnvironment("lc_dask")
    runnable_map(env.from_batch([{"word": w} for w in ("sage", "dask", "boom")]), chain, max_concurrency=2).collect("out")
    result = env.submit(backend="dask")
    assert result.backend == "dask"
    words = sorted(r.split("!")[0] for r in result.collected["out"])
    assert words == ["DASK", "SAGE"]
    pids = {int(r.rsplit("pid ", 1)[1].rstrip(")")) for r in result.collected["out"]}
    assert os.getpid() not in pids  # ran in a worker process
    assert len(result.dead_letters) == 1 and "boom" in result.dead_letters[0].error


def test_pipeline_as_runnable_invoke_batch_stream_async_and_lcel():
    words = PipelineRunnable(lambda s: s.flatmap(str.split).map(str.upper))
    assert sorted(words.invoke("a b c")) == ["A", "B", "C"]
    assert [sorted(x) for x in words.batch(["x y", "z"])] == [["X", "Y"], ["Z"]]
    assert sorted(words.stream("p q")) == ["P", "Q"]

    @as_runnable(single=True)
    def length(stream):
        return stream.map(len)

    assert asyncio.run(length.ainvoke("four")) == 4
    assert asyncio.run(length.abatch(["a", "bb"])) == [1, 2]
    chain = RunnableLambda(lambda x: x["text"]) | length | RunnableLambda(lambda n: n * 10)
    assert chain.invoke({"text": "abc"}) == 30
    with pytest.raises(ValueError, match="single=False"):
        PipelineRunnable(lambda s: s.flatmap(str.split), single=True).invoke("two words")
    with pytest.raises(OperatorError):
        length.invoke(None)  # len(None) fails inside the pipeline: strict by default
