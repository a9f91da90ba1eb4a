"""Promptors: turn a question and its retrieved passages into chat messages.

A record ``{"question", "passages": [{"id", "text", ...}]}`` gets ``"messages"``: an
OpenAI-style list of ``{"role", "content"}`` dicts, ready for a chat generator.

- :class:`QAPromptor`: one question, its passages: a system and a user message.
- :class:`ChatPromptor`: a conversation: the system prompt with the retrieved context
  (and turns recalled from memory), the conversation ``history``, then the question.

>>> p = QAPromptor()
>>> msgs = p.execute({"question": "What is 2+2?", "passages": [{"id": "m#0", "text": "2+2 is 4."}]})["messages"]
>>> msgs[0]["role"], "[m#0] 2+2 is 4." in msgs[1]["content"]
('system', True)
"""

from __future__ import annotations

from typing import Any

from sage_core.api.functions import MapFunction

__all__ = ["ChatPromptor", "QAPromptor", "format_context"]

SYSTEM = (
    "You answer questions using only the numbered context passages. "
    "Cite passages by their [id]. If the context does not contain the answer, say so."
)
USER = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"
CHAT_SYSTEM = "You are a helpful assistant. Use the context passages when they are relevant and cite them by their [id]."
ROLES = ("system", "user", "assistant", "tool")


def format_context(passages: list[dict[str, Any]], max_chars: int) -> str:
    """Passages as ``[id] text`` blocks, best first, whole, within ``max_chars`` (at least one).

    >>> format_context([{"id": "a", "text": " x "}, {"id": "b", "text": "y"}], 100)
    '[a] x\\n\\n[b] y'
    """
    parts: list[str] = []
    used = 0
    for i, p in enumerate(passages):
        if not isinstance(p, dict) or "id" not in p or not isinstance(p.get("text"), str):
            msg = f"passages[{i}] needs 'id' and a str 'text', got {p!r:.120}"
            raise TypeError(msg)
        block = f"[{p['id']}] {p['text'].strip()}"
        if parts and used + len(block) > max_chars:
            break
        parts.append(block)
        used += len(block)
    return "\n\n".join(parts)


class QAPromptor(MapFunction):
    """Builds ``messages`` from ``question`` and ``passages`` (templates use ``{context}`` and ``{question}``).

    ``max_chars`` caps the context (passages are kept whole, best first).
    """

    def __init__(self, system: str = SYSTEM, user: str = USER, *, max_chars: int = 6000):
        self.system = system
        self.user = user
        self.max_chars = max_chars

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            msg = f"QAPromptor: a record needs a str 'question', got {data!r:.120}"
            raise TypeError(msg)
        context = format_context(data.get("passages") or [], self.max_chars) or "(no passages found)"
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(context=context, question=data["question"])},
        ]
        return {**data, "messages": messages}


class ChatPromptor(MapFunction):
    """Builds ``messages`` for a conversation turn: system prompt + context, history, question.

    The record holds ``question`` and optionally ``passages`` (retrieved context),
    ``history`` (earlier turns, ``[{"role", "content"}]``, oldest first; the last
    ``max_history`` are kept) and ``memory`` (older turns recalled as relevant, e.g. by
    :class:`~sage_recipes.memory.RecallMemory`). Context and memory go into the system
    message, under ``context_header`` and ``memory_header``.

    >>> p = ChatPromptor(system="Be brief.")
    >>> out = p.execute({"question": "And in Python 2?",
    ...     "history": [{"role": "user", "content": "What does print do?"}, {"role": "assistant", "content": "It writes text."}],
    ...     "passages": [{"id": "print#0", "text": "print is a function."}]})
    >>> [(m["role"], m["content"]) for m in out["messages"]]  # doctest: +NORMALIZE_WHITESPACE
    [('system', 'Be brief.\\n\\nContext:\\n[print#0] print is a function.'),
     ('user', 'What does print do?'), ('assistant', 'It writes text.'), ('user', 'And in Python 2?')]
    """

    def __init__(
        self,
        system: str = CHAT_SYSTEM,
        *,
        max_history: int = 20,
        max_chars: int = 6000,
        context_header: str = "Context:",
        memory_header: str = "Earlier in this conversation:",
        question_key: str = "question",
        history_key: str = "history",
        memory_key: str = "memory",
    ):
        self.system = system
        self.max_history = max_history
        self.max_chars = max_chars
        self.context_header = context_header
        self.memory_header = memory_header
        self.question_key = question_key
        self.history_key = history_key
        self.memory_key = memory_key

    def _turns(self, data: dict[str, Any], key: str) -> list[dict[str, str]]:
        turns = data.get(key) or []
        if not isinstance(turns, list):
            msg = f"ChatPromptor: {key!r} must be a list of {{'role', 'content'}} turns, got {type(turns).__name__}"
            raise TypeError(msg)
        for i, t in enumerate(turns):
            if not isinstance(t, dict) or t.get("role") not in ROLES or not isinstance(t.get("content"), str):
                msg = f"ChatPromptor: {key}[{i}] must be {{'role': one of {ROLES}, 'content': str}}, got {t!r:.120}"
                raise TypeError(msg)
        return turns

    def execute(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get(self.question_key), str):
            msg = f"ChatPromptor: a record needs a str {self.question_key!r}, got {data!r:.120}"
            raise TypeError(msg)
        history = self._turns(data, self.history_key)
        memory = self._turns(data, self.memory_key)
        system = [self.system]
        context = format_context(data.get("passages") or [], self.max_chars)
        if context:
            system.append(f"{self.context_header}\n{context}")
        if memory:
            system.append(self.memory_header + "\n" + "\n".join(f"{t['role']}: {t['content']}" for t in memory))
        kept = history[-self.max_history :] if self.max_history > 0 else []
        messages = [{"role": "system", "content": "\n\n".join(system)}]
        messages += [{"role": t["role"], "content": t["content"]} for t in kept]
        messages.append({"role": "user", "content": data[self.question_key]})
        return {**data, "messages": messages}
