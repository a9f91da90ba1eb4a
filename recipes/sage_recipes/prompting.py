"""Promptors: turn a question and its retrieved passages into chat messages.

A record ``{"question", "passages": [{"id", "text", ...}]}`` gets ``"messages"``: an
OpenAI-style list of ``{"role", "content"}`` dicts, ready for a chat generator.

>>> p = QAPromptor()
>>> msgs = p.execute({"question": "What is 2+2?", "passages": [{"id": "m#0", "text": "2+2 is 4."}]})["messages"]
>>> msgs[0]["role"], "[m#0] 2+2 is 4." in msgs[1]["content"]
('system', True)
"""

from __future__ import annotations

from typing import Any

from sage_core.functions import MapFunction

__all__ = ["QAPromptor"]

SYSTEM = (
    "You answer questions using only the numbered context passages. "
    "Cite passages by their [id]. If the context does not contain the answer, say so."
)
USER = "Context:\n{context}\n\nQuestion: {question}\nAnswer:"


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
        parts: list[str] = []
        used = 0
        for p in data.get("passages") or []:
            block = f"[{p['id']}] {p['text'].strip()}"
            if parts and used + len(block) > self.max_chars:
                break
            parts.append(block)
            used += len(block)
        context = "\n\n".join(parts) or "(no passages found)"
        messages = [
            {"role": "system", "content": self.system},
            {"role": "user", "content": self.user.format(context=context, question=data["question"])},
        ]
        return {**data, "messages": messages}
