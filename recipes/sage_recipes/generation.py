"""Generators: an OpenAI-compatible chat endpoint over HTTP, or an extractive fallback.

Both read a record with ``messages`` (from :class:`~sage_recipes.prompting.QAPromptor`)
and/or ``question`` + ``passages``, and add ``answer`` and ``generator``.

- :class:`OpenAIChatGenerator` posts to ``{base_url}/chat/completions`` (OpenAI, vLLM,
  Ollama, llama.cpp server ...), with a timeout, retries and at most ``max_concurrency``
  requests in flight per bundle. Settings default to the environment:
  ``SAGE_LLM_BASE_URL`` (or ``OPENAI_BASE_URL``), ``SAGE_LLM_MODEL``,
  ``SAGE_LLM_API_KEY`` (or ``OPENAI_API_KEY``).
- :class:`ExtractiveGenerator` needs no model: it answers with the passage sentences that
  share the most words with the question, and says that it is extractive.

:func:`default_generator` picks the first when an endpoint is configured, else the second.

Example::

    stream = batch_map(prompts, OpenAIChatGenerator, base_url="http://localhost:8000/v1", model="llama3")
    cls, kwargs = default_generator()        # (ExtractiveGenerator, {}) when nothing is configured
    stream = batch_map(prompts, cls, **kwargs)
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sage_recipes.batching import BatchMapFunction

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


_RULE = re.compile(r"[*=~^#-]{3,}")  # heading underlines in reStructuredText-like text
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
_STOP = frozenset(
    "the a an of to in is are was be what how does do did why when which who and or for on with as by it this that "
    "from at use used can i you python".split()
)


def prose(text: str) -> str:
    r"""``text`` without fenced code blocks, including one that a chunk boundary cut: a chunk
    whose first fence is bare (no language) and comes after some text began inside a block.

    >>> prose("sage ask ... # one shot\n```\nRun it on Ray.\n```python\nenv.submit()\n```")
    'Run it on Ray.'
    """
    lines = text.splitlines()
    fences = {i for i, line in enumerate(lines) if line.lstrip().startswith(("```", "~~~"))}
    if not fences:
        return text
    first = min(fences)
    inside = not lines[first].strip()[3:].strip() and first > 0
    kept = []
    for i, line in enumerate(lines):
        if i in fences:
            inside = True if line.strip()[3:].strip() else not inside  # a language opens a block
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _STOP


class ExtractiveGenerator(BatchMapFunction):
    """Answers from the retrieved passages alone: no model, no network.

    Picks up to ``max_sentences`` sentences from the passages (best-ranked passages first)
    that share the most words with the question, and starts the answer with
    :data:`EXTRACTIVE_NOTE`. Adds ``sources`` (the passage ids quoted).

    >>> g = ExtractiveGenerator(max_sentences=1)
    >>> out = g.execute({"question": "What does pass do?", "passages": [
    ...     {"id": "pass#0", "text": "The pass statement does nothing. It is a placeholder."}]})
    >>> out["answer"].splitlines()[1], out["sources"], out["generator"]
    ('The pass statement does nothing. [pass#0]', ['pass#0'], 'extractive')
    """

    def __init__(self, *, max_sentences: int = 3, note: str = EXTRACTIVE_NOTE):
        self.max_sentences = max_sentences
        self.note = note

    def answer(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            msg = f"ExtractiveGenerator: a record needs a str 'question' and 'passages', got {data!r:.120}"
            raise TypeError(msg)
        q = _words(data["question"])
        scored = []
        seen: set[str] = set()
        for rank, p in enumerate(data.get("passages") or []):
            for pos, sent in enumerate(re.split(r"(?<=[.!?])\s+|\n\s*\n", prose(p.get("text", "")))):
                sent = " ".join(_RULE.sub(" ", sent).split())
                if len(sent.split()) < 5 or "::=" in sent or sent in seen:  # headings, grammar, repeats
                    continue
                if "```" in sent or sent.count("|") >= 4:  # Markdown code blocks and tables read badly as prose
                    continue
                seen.add(sent)
                overlap = len(q & _words(sent))
                scored.append((overlap, -rank, -pos, sent, p["id"]))
        scored.sort(reverse=True)
        picked = [s for s in scored if s[0] > 0][: self.max_sentences] or scored[:1]
        picked.sort(key=lambda s: (-s[1], -s[2]))  # reading order: passage rank, then position
        if not picked:
            return _with_answer(data, f"{self.note}\nNo relevant passage was found.", "extractive", sources=[])
        lines = [f"{sent} [{pid}]" for _, _, _, sent, pid in picked]
        sources = list(dict.fromkeys(pid for *_, pid in picked))
        return _with_answer(data, "\n".join([self.note, *lines]), "extractive", sources=sources)

    def execute_batch(self, records: list[Any]) -> list[Any]:
        return self.per_record(self.answer, records)
