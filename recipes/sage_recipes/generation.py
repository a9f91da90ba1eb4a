"""Generators: an OpenAI-compatible chat endpoint over HTTP, or an extractive fallback.

Both read a record with ``messages`` (from :class:`~sage_recipes.prompting.QAPromptor`)
and/or ``question`` + ``passages``, and add ``answer`` and ``generator``.

- :class:`OpenAIChatGenerator` posts to ``{base_url}/chat/completions`` (OpenAI, vLLM,
  Ollama, llama.cpp server ...), with a timeout, retries and at most ``max_concurrency``
  requests in flight per bundle. Settings default to the environment:
  ``SAGE_LLM_BASE_URL`` (or ``OPENAI_BASE_URL``), ``SAGE_LLM_MODEL``,
  ``SAGE_LLM_API_KEY`` (or ``OPENAI_API_KEY``).
- :class:`ExtractiveGenerator` needs no model: it shows the best passages whole (code
  included, under their file and heading), and says that it is extractive.

:func:`default_generator` picks the first when an endpoint is configured, else the second.

Example::

    stream = batch_map(prompts, OpenAIChatGenerator, base_url="http://localhost:8000/v1", model="llama3")
    cls, kwargs = default_generator()        # (ExtractiveGenerator, {}) when nothing is configured
    stream = batch_map(prompts, cls, **kwargs)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sage_recipes.batching import BatchMapFunction
from sage_recipes.extractive import answer_text

__all__ = ["EXTRACTIVE_NOTE", "ExtractiveGenerator", "OpenAIChatGenerator", "default_generator", "endpoint_from_env"]

EXTRACTIVE_NOTE = "[extractive answer: no LLM endpoint is configured; these are the most relevant passages]"


def endpoint_from_env() -> dict[str, Any]:
    """``{"base_url", "model", "api_key"}`` from the environment (values may be ``None``)."""
    return {
        "base_url": os.environ.get("SAGE_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL"),
        "model": os.environ.get("SAGE_LLM_MODEL"),
        "api_key": os.environ.get("SAGE_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY"),
    }


def default_generator(**overrides: Any) -> tuple[type[BatchMapFunction], dict[str, Any]]:
    """The generator class and its arguments: the HTTP one if a base URL is configured, else extractive."""
    conf = {**endpoint_from_env(), **{k: v for k, v in overrides.items() if v is not None}}
    if conf.get("base_url"):
        return OpenAIChatGenerator, conf
    return ExtractiveGenerator, {}


def _messages(data: Any) -> list[dict[str, str]]:
    if isinstance(data, str):
        return [{"role": "user", "content": data}]
    if isinstance(data, dict):
        if isinstance(data.get("messages"), list):
            return data["messages"]
        if isinstance(data.get("question"), str):
            return [{"role": "user", "content": data["question"]}]
    msg = f"a generator record needs 'messages' (a chat message list) or a str 'question', got {data!r:.120}"
    raise TypeError(msg)


def _with_answer(data: Any, answer: str, generator: str, **extra: Any) -> dict[str, Any]:
    base = dict(data) if isinstance(data, dict) else {"question": data}
    return {**base, "answer": answer, "generator": generator, **extra}


class OpenAIChatGenerator(BatchMapFunction):
    """Chat completions from any OpenAI-compatible endpoint (uses the ``openai`` client).

    ``timeout`` (seconds) and ``max_retries`` (connection errors, 408/409/429/5xx, with
    backoff) apply per request; ``max_concurrency`` requests of a bundle run at once. A
    request that still fails becomes a dead letter for its record. ``extra_body`` is sent
    with every request (e.g. ``{"temperature": 0}``).
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_concurrency: int = 4,
        extra_body: dict[str, Any] | None = None,
    ):
        env = endpoint_from_env()
        self.base_url = base_url or env["base_url"]
        if not self.base_url:
            msg = "OpenAIChatGenerator needs base_url= or SAGE_LLM_BASE_URL / OPENAI_BASE_URL; use ExtractiveGenerator without an endpoint"
            raise ValueError(msg)
        self.model = model or env["model"] or "default"
        self.api_key = api_key or env["api_key"] or "not-needed"
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_concurrency = max(1, int(max_concurrency))
        self.extra_body = dict(extra_body or {})
        self.client: Any = None

    def open(self) -> None:
        try:
            import openai
        except ImportError as exc:
            msg = "OpenAIChatGenerator needs the openai package; install with `pip install -e '.[langchain]'`"
            raise ImportError(msg) from exc
        self.client = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=self.max_retries)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def chat(self, messages: list[dict[str, Any]], **options: Any) -> Any:
        """One chat-completions request (with timeout and retries); returns the openai response.

        ``options`` (e.g. ``tools=[...]``) are sent with the request, over ``extra_body``.
        """
        if self.client is None:
            self.open()
        return self.client.chat.completions.create(model=self.model, messages=messages, **{**self.extra_body, **options})

    def generate(self, data: Any) -> dict[str, Any]:
        """One request for one record."""
        resp = self.chat(_messages(data))
        answer = resp.choices[0].message.content or ""
        usage = resp.usage.model_dump() if getattr(resp, "usage", None) is not None else None
        return _with_answer(data, answer, f"openai:{self.model}", usage=usage)

    def _safe(self, data: Any) -> Any:
        try:
            return self.generate(data)
        except Exception as exc:
            return exc

    def execute_batch(self, records: list[Any]) -> list[Any]:
        if len(records) == 1 or self.max_concurrency == 1:
            return [self._safe(r) for r in records]
        with ThreadPoolExecutor(min(self.max_concurrency, len(records))) as pool:
            return list(pool.map(self._safe, records))


class ExtractiveGenerator(BatchMapFunction):
    """Answers from the retrieved passages alone: no model, no network.

    The answer starts with :data:`EXTRACTIVE_NOTE`, then shows up to ``max_passages`` of the
    retrieved passages whole, each under its file and heading path, code blocks included
    (see :mod:`sage_recipes.extractive`; a "how do I" question gets a passage with code
    first). Adds ``sources`` (the ids of the passages shown).

    >>> g = ExtractiveGenerator(max_passages=1)
    >>> out = g.execute({"question": "What does pass do?", "passages": [
    ...     {"id": "pass#0", "text": "The pass statement does nothing. It is a placeholder."}]})
    >>> print(out["answer"].split("\\n\\n", 1)[1])
    #### pass#0 `[pass#0]`
    <BLANKLINE>
    The pass statement does nothing. It is a placeholder.
    >>> out["sources"], out["generator"]
    (['pass#0'], 'extractive')
    """

    def __init__(self, *, max_passages: int = 2, note: str = EXTRACTIVE_NOTE):
        self.max_passages = max_passages
        self.note = note

    def answer(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            msg = f"ExtractiveGenerator: a record needs a str 'question' and 'passages', got {data!r:.120}"
            raise TypeError(msg)
        text, sources = answer_text(data["question"], list(data.get("passages") or []), self.note, self.max_passages)
        return _with_answer(data, text, "extractive", sources=sources)

    def execute_batch(self, records: list[Any]) -> list[Any]:
        return self.per_record(self.answer, records)
