"""A tool-calling ReAct agent as a map operator: question in, answer and trace out.

:class:`ReActAgent` runs the reason-act loop against any OpenAI-compatible chat endpoint
that supports the ``tools`` / ``tool_calls`` protocol (OpenAI, vLLM, Ollama, llama.cpp
server): it sends the conversation and the tool schemas, runs the tools the model calls,
feeds their results back as ``tool`` messages, and stops at the model's final answer or
after ``max_steps`` model calls, whichever comes first.

Tools are plain Python functions (their schema comes from the signature and the
docstring's ``Args:`` section, through LangChain's ``convert_to_openai_tool``) or LangChain
tools (``@tool``, ``StructuredTool``). A tool that raises is not fatal: the model sees
``error: <message>`` as the tool's result and can try again; the trace records it.

The HTTP side (timeouts, retries, environment settings) is
:class:`~sage_recipes.generation.OpenAIChatGenerator`'s: settings left out come from
``SAGE_LLM_BASE_URL``, ``SAGE_LLM_MODEL``, ``SAGE_LLM_API_KEY``.

Output record: the input plus ``answer`` (``None`` when the step budget ran out),
``stopped`` (``"answer"`` or ``"max_steps"``), ``steps`` (model calls made), ``trace``
(one entry per model turn and tool call) and ``messages`` (the whole conversation).

Example::

    def word_count(text: str) -> int:
        \"\"\"Count the words in a text.

        Args:
            text: the text to count.
        \"\"\"
        return len(text.split())

    answers = questions.map(ReActAgent, [word_count], base_url="http://localhost:8000/v1",
                            model="qwen2.5", max_steps=4)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sage_core.api.functions import MapFunction
from sage_recipes.generation import OpenAIChatGenerator

__all__ = ["AGENT_SYSTEM", "ReActAgent", "tool_schema"]

AGENT_SYSTEM = (
    "You are a careful assistant. Think step by step. Call a tool when it helps; when you know "
    "the answer, reply with it directly."
)


def tool_schema(tool: Any) -> dict[str, Any]:
    """The OpenAI ``{"type": "function", "function": {...}}`` schema of a function or LangChain tool.

    >>> def add(a: int, b: int) -> int:
    ...     '''Add two integers.
    ...
    ...     Args:
    ...         a: first addend
    ...         b: second addend
    ...     '''
    ...     return a + b
    >>> s = tool_schema(add)["function"]
    >>> s["name"], s["description"], s["parameters"]["properties"]["a"]
    ('add', 'Add two integers.', {'description': 'first addend', 'type': 'integer'})
    """
    try:
        from langchain_core.utils.function_calling import convert_to_openai_tool
    except ImportError as exc:
        msg = "ReActAgent builds tool schemas with langchain-core; install with `pip install -e '.[langchain]'`"
        raise ImportError(msg) from exc
    if not (callable(tool) or hasattr(tool, "invoke")):
        msg = f"a tool must be a function or a LangChain tool, got {tool!r:.120}"
        raise TypeError(msg)
    return convert_to_openai_tool(tool)


def _run_tool(tool: Any, arguments: dict[str, Any]) -> Any:
    if hasattr(tool, "invoke") and hasattr(tool, "args_schema"):  # a LangChain BaseTool
        return tool.invoke(arguments)
    return tool(**arguments)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


class ReActAgent(MapFunction):
    """Answers ``question`` by calling ``tools`` as the model asks, for at most ``max_steps`` model calls.

    ``system`` is the system prompt. A record that already holds ``messages`` (e.g. from
    :class:`~sage_recipes.prompting.ChatPromptor`) continues that conversation instead.
    ``timeout``/``max_retries``/``extra_body`` go to the endpoint client; a request that
    still fails makes the record a dead letter.
    """

    def __init__(
        self,
        tools: Sequence[Callable[..., Any] | Any],
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        system: str = AGENT_SYSTEM,
        max_steps: int = 5,
        timeout: float = 60.0,
        max_retries: int = 2,
        extra_body: dict[str, Any] | None = None,
        question_key: str = "question",
    ):
        if not isinstance(max_steps, int) or max_steps < 1:
            msg = f"ReActAgent: max_steps must be an integer >= 1, got {max_steps!r}"
            raise ValueError(msg)
        self.tools = list(tools)
        schemas = [tool_schema(t) for t in self.tools]  # fail early on a tool without a usable schema
        names = [s["function"]["name"] for s in schemas]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"ReActAgent: two tools are named {dupes}; tool names must be unique"
            raise ValueError(msg)
        self.llm = OpenAIChatGenerator(base_url, model, api_key, timeout=timeout, max_retries=max_retries, extra_body=extra_body)
        self.system = system
        self.max_steps = max_steps
        self.question_key = question_key
        self._schemas: list[dict[str, Any]] | None = None
        self._by_name: dict[str, Any] = {}

    def open(self) -> None:
        self._schemas = [tool_schema(t) for t in self.tools]
        self._by_name = {s["function"]["name"]: t for s, t in zip(self._schemas, self.tools)}
        self.llm.open()

    def close(self) -> None:
        self.llm.close()

    def _start(self, data: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        if isinstance(data, str):
            data = {self.question_key: data}
        if isinstance(data, dict) and isinstance(data.get("messages"), list) and data["messages"]:
            return data, [dict(m) for m in data["messages"]]
        if not isinstance(data, dict) or not isinstance(data.get(self.question_key), str):
            msg = f"ReActAgent: a record needs a str {self.question_key!r} (or 'messages'), got {data!r:.120}"
            raise TypeError(msg)
        return data, [{"role": "system", "content": self.system}, {"role": "user", "content": data[self.question_key]}]

    def _call(self, call: Any) -> tuple[str, dict[str, Any]]:
        """Run one tool call; returns the tool message content and the trace entry."""
        name = call.function.name
        entry: dict[str, Any] = {"type": "tool", "tool": name, "call_id": call.id}
        try:
            arguments = json.loads(call.function.arguments or "{}")
            if not isinstance(arguments, dict):
                msg = f"arguments must be a JSON object, got {arguments!r:.80}"
                raise TypeError(msg)
        except (ValueError, TypeError) as exc:
            entry.update(arguments=call.function.arguments, error=f"bad arguments: {exc}")
            return f"error: bad arguments for {name}: {exc}", entry
        entry["arguments"] = arguments
        tool = self._by_name.get(name)
        if tool is None:
            entry["error"] = f"unknown tool {name!r}"
            return f"error: unknown tool {name!r}; the tools are {sorted(self._by_name)}", entry
        try:
            result = _run_tool(tool, arguments)
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
            return f"error: {type(exc).__name__}: {exc}", entry
        entry["result"] = result
        return _as_text(result), entry

    def execute(self, data: Any) -> dict[str, Any]:
        if self._schemas is None:
            self.open()
        record, messages = self._start(data)
        trace: list[dict[str, Any]] = []
        for step in range(1, self.max_steps + 1):
            resp = self.llm.chat(messages, tools=self._schemas)
            msg = resp.choices[0].message
            calls = list(msg.tool_calls or [])
            if not calls:
                trace.append({"type": "answer", "step": step, "content": msg.content})
                messages.append({"role": "assistant", "content": msg.content or ""})
                return {**record, "answer": msg.content or "", "stopped": "answer", "steps": step, "trace": trace, "messages": messages}
            trace.append({"type": "model", "step": step, "content": msg.content, "tool_calls": [c.function.name for c in calls]})
            messages.append({
                "role": "assistant",
                "content": msg.content,
                "tool_calls": [
                    {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
                    for c in calls
                ],
            })
            for call in calls:
                content, entry = self._call(call)
                entry["step"] = step
                trace.append(entry)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        return {**record, "answer": None, "stopped": "max_steps", "steps": self.max_steps, "trace": trace, "messages": messages}
