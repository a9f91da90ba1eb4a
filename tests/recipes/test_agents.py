"""The ReAct agent against a real local HTTP server speaking the tool-calling protocol."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("openai", reason="needs openai (the langchain extra)")
pytest.importorskip("langchain_core", reason="needs langchain-core (the langchain extra)")

from sage_core import LocalEnvironment  # noqa: E402
from sage_recipes.agents import ReActAgent, tool_schema  # noqa: E402
from tests.recipes.openai_server import FakeOpenAIServer, tool_call  # noqa: E402

CALLS: list[tuple] = []


def multiply(a: int, b: int) -> int:
    """Multiply two integers.

    Args:
        a: the first factor
        b: the second factor
    """
    CALLS.append(("multiply", a, b))
    return a * b


def fail_always(reason: str) -> str:
    """A tool that always fails.

    Args:
        reason: why
    """
    raise RuntimeError(f"tool broke: {reason}")


def multiply_then_answer(body: dict) -> dict:
    """Ask for multiply(a, b) with the numbers in the question, then answer with the tool's result."""
    last = body["messages"][-1]
    if last["role"] == "user":
        a, b = (int(w) for w in last["content"].split() if w.isdigit())
        return tool_call("multiply", {"a": a, "b": b}, content="I should multiply.")
    return {"content": f"The product is {last['content']}."}


def test_tool_schema_comes_from_signature_and_docstring():
    fn = tool_schema(multiply)["function"]
    assert fn["name"] == "multiply" and fn["description"] == "Multiply two integers."
    assert fn["parameters"]["properties"] == {
        "a": {"description": "the first factor", "type": "integer"},
        "b": {"description": "the second factor", "type": "integer"},
    }
    assert sorted(fn["parameters"]["required"]) == ["a", "b"]


def test_agent_calls_the_tool_feeds_the_result_back_and_answers():
    CALLS.clear()
    with FakeOpenAIServer(responder=multiply_then_answer) as server:
        env = LocalEnvironment("agent")
        qs = [{"question": "What is 6 times 7 ?"}, {"question": "What is 3 times 5 ?"}]
        env.from_batch(qs).map(ReActAgent, [multiply], server.base_url, "tool-model", max_steps=4).collect("out")
        result = env.submit()
    out = sorted(result.collected["out"], key=lambda r: r["question"])
    assert [r["answer"] for r in out] == ["The product is 15.", "The product is 42."]
    assert sorted(CALLS) == [("multiply", 3, 5), ("multiply", 6, 7)]
    rec = out[1]
    assert rec["stopped"] == "answer" and rec["steps"] == 2
    assert [e["type"] for e in rec["trace"]] == ["model", "tool", "answer"]
    assert rec["trace"][0]["content"] == "I should multiply."
    assert rec["trace"][1] == {"type": "tool", "tool": "multiply", "call_id": "call_1", "arguments": {"a": 6, "b": 7}, "result": 42, "step": 1}
    # what went over the wire: the tool schema, then the tool result as a tool message
    first, second = [r["body"] for r in server.requests if "6 times 7" in r["body"]["messages"][1]["content"]]
    assert first["model"] == "tool-model" and first["tools"][0]["function"]["name"] == "multiply"
    assert second["messages"][-2]["tool_calls"][0]["function"] == {"name": "multiply", "arguments": json.dumps({"a": 6, "b": 7})}
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_agent_stops_at_max_steps_with_a_clear_record():
    CALLS.clear()
    with FakeOpenAIServer(responder=lambda body: tool_call("multiply", {"a": 2, "b": 2})) as server:
        agent = ReActAgent([multiply], server.base_url, max_steps=3)
        out = agent.execute({"question": "loop forever"})
        agent.close()
    assert out["answer"] is None and out["stopped"] == "max_steps" and out["steps"] == 3
    assert len(server.requests) == 3 and len(CALLS) == 3
    assert [e["type"] for e in out["trace"]] == ["model", "tool"] * 3


def test_tool_errors_and_unknown_tools_are_fed_back_to_the_model():
    def script(body):
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            return tool_call("fail_always", {"reason": "disk full"})
        if len(tool_msgs) == 1:
            return tool_call("search_web", {"q": "x"}, call_id="call_2")
        if len(tool_msgs) == 2:
            return tool_call("multiply", "{not json", call_id="call_3")
        return {"content": " | ".join(m["content"] for m in tool_msgs)}

    with FakeOpenAIServer(responder=script) as server:
        agent = ReActAgent([multiply, fail_always], server.base_url, max_steps=5)
        out = agent.execute("try things")
        agent.close()
    errors = out["answer"].split(" | ")
    assert errors[0] == "error: RuntimeError: tool broke: disk full"
    assert errors[1] == "error: unknown tool 'search_web'; the tools are ['fail_always', 'multiply']"
    assert errors[2].startswith("error: bad arguments for multiply")
    assert out["stopped"] == "answer" and out["steps"] == 4
    assert [e.get("error", "")[:12] for e in out["trace"] if e["type"] == "tool"] == ["RuntimeError", "unknown tool", "bad argument"]


def test_langchain_tool_and_dead_letters():
    from langchain_core.tools import tool

    @tool
    def shout(text: str) -> str:
        """Upper-case a text.

        Args:
            text: the text
        """
        return text.upper()

    def script(body):
        last = body["messages"][-1]
        return tool_call("shout", {"text": "hi"}) if last["role"] == "user" else {"content": last["content"]}

    with FakeOpenAIServer(responder=script) as server:
        env = LocalEnvironment("agent_lc")
        env.from_batch([{"question": "shout"}, {"no_question": 1}]).map(ReActAgent, [shout], server.base_url, name="agent").collect("out")
        result = env.submit()
    assert [r["answer"] for r in result.collected["out"]] == ["HI"]
    [dead] = result.dead_letters
    assert dead.operator == "agent" and "needs a str 'question'" in dead.error
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        ReActAgent([multiply], server.base_url, max_steps=0)
