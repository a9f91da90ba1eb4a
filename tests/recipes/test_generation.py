"""Generators: the OpenAI-compatible one against a real local HTTP server, and the extractive one."""

from __future__ import annotations

import pytest

pytest.importorskip("openai", reason="needs openai (the langchain/embed extras)")


from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.batching import batch_map  # noqa: E402
from sage_recipes.generation import (  # noqa: E402
    EXTRACTIVE_NOTE,
    ExtractiveGenerator,
    OpenAIChatGenerator,
    default_generator,
)
from tests.recipes.openai_server import FakeOpenAIServer  # noqa: E402


def _prompt(q: str) -> dict:
    return {"question": q, "messages": [{"role": "user", "content": f"Context:\n[doc#0] text\n\nQuestion: {q}\nAnswer:"}]}


def test_openai_generator_over_http_with_concurrency():
    with FakeOpenAIServer(delay=0.2) as server:
        env = LocalEnvironment("gen", config={"initial_bundle": 8})
        qs = [_prompt(f"q{i}") for i in range(8)]
        batch_map(env.from_batch(qs), OpenAIChatGenerator, server.base_url, "tiny", "sk-test", max_concurrency=4).collect("out")
        result = env.submit()
    out = sorted(result.collected["out"], key=lambda r: r["question"])
    assert [r["answer"] for r in out] == [f"ANSWER from doc#0: q{i}" for i in range(8)]
    assert out[0]["generator"] == "openai:tiny" and out[0]["usage"]["total_tokens"] > 0
    assert len(server.requests) == 8 and server.requests[0]["auth"] == "Bearer sk-test"
    assert server.requests[0]["body"]["model"] == "tiny"
    assert 2 <= server.max_in_flight <= 4  # concurrent, but bounded


def test_openai_generator_retries_then_dead_letters():
    with FakeOpenAIServer() as server:
        server.fail_first = 1  # one HTTP 500: retried and recovered
        env = LocalEnvironment("gen_fail")
        prompts = [_prompt("good"), {"messages": [{"role": "user", "content": "please FAIL"}]}]
        batch_map(env.from_batch(prompts), OpenAIChatGenerator, server.base_url, max_retries=2, max_concurrency=1, name="generate").collect("out")
        result = env.submit()
    assert [r["answer"] for r in result.collected["out"]] == ["ANSWER from doc#0: good"]
    assert len(result.dead_letters) == 1 and result.dead_letters[0].operator == "generate"
    assert "400" in result.dead_letters[0].error or "bad prompt" in result.dead_letters[0].error


def test_unreachable_endpoint_is_a_clear_dead_letter():
    env = LocalEnvironment("gen_down")
    batch_map(env.from_batch([_prompt("x")]), OpenAIChatGenerator, "http://127.0.0.1:9/v1", timeout=2, max_retries=0).collect("out")
    result = env.submit()
    assert result.collected.get("out", []) == [] and "Connection" in result.dead_letters[0].error


def test_default_generator_follows_environment(monkeypatch):
    for var in ("SAGE_LLM_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    assert default_generator() == (ExtractiveGenerator, {})
    monkeypatch.setenv("SAGE_LLM_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("SAGE_LLM_MODEL", "llama")
    cls, kwargs = default_generator()
    assert cls is OpenAIChatGenerator and kwargs["base_url"] == "http://127.0.0.1:8000/v1" and kwargs["model"] == "llama"
    with pytest.raises(ValueError, match="base_url"):
        monkeypatch.delenv("SAGE_LLM_BASE_URL")
        OpenAIChatGenerator()


def test_extractive_generator_says_so_and_shows_the_passages_whole():
    g = ExtractiveGenerator(max_passages=2)
    passages = [
        {"id": "for#0", "text": "The for statement iterates. The else clause of a loop is executed when the loop ends without break."},
        {"id": "pass#0", "text": "pass is a null operation."},
        {"id": "while#0", "text": "The while statement loops while a condition holds."},
    ]
    out = g.answer({"question": "When is the else clause of a loop executed?", "passages": passages})
    lines = out["answer"].splitlines()
    assert lines[0] == EXTRACTIVE_NOTE and out["generator"] == "extractive"
    assert passages[0]["text"] in out["answer"] and passages[1]["text"] in out["answer"]  # whole, best two
    assert passages[2]["text"] not in out["answer"] and out["sources"] == ["for#0", "pass#0"]


def test_a_how_question_gets_the_passage_with_code_first_and_code_blocks_are_never_left_open():
    prose = {"id": "guide.md#0", "text": "Guide > Ray\n\nSAGE runs on Ray.", "metadata": {"path": "guide.md", "heading": "Guide > Ray"}}
    code = {"id": "guide.md#1", "text": "Guide > Ray\n\nRun it:\n\n```python\nenv.submit(backend=\"ray\")\n",  # a fence cut by size
            "metadata": {"path": "guide.md", "heading": "Guide > Ray"}}
    out = ExtractiveGenerator(max_passages=1).answer({"question": "How do I run a pipeline on Ray?", "passages": [prose, code]})
    assert out["sources"] == ["guide.md#1"]
    assert out["answer"].endswith('#### guide.md — Guide > Ray `[guide.md#1]`\n\nRun it:\n\n```python\nenv.submit(backend="ray")\n```')
    out = ExtractiveGenerator(max_passages=1).answer({"question": "Does SAGE run on Ray?", "passages": [prose, code]})
    assert out["sources"] == ["guide.md#0"]  # not a how-question: the best passage comes first
    empty = ExtractiveGenerator().answer({"question": "anything?", "passages": []})
    assert empty["answer"].endswith("No relevant passage was found.") and empty["sources"] == []
