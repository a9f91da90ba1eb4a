"""The extractive answer: the best retrieved passages shown whole, code blocks included.

Without an LLM endpoint, the answer to a question is the passage that answers it. This
module picks the passages and lays them out as Markdown: a header with the file and the
heading path (``backends.md — Backends > Existing clusters [backends.md#6]``), then the
passage's text whole (its heading-path line dropped, since the header carries it). For a
"how do I ..." question a passage with a code block among the best three comes first.
A passage never ends inside a code block: an unclosed fence (from a chunk that was cut
by size) is closed. The terminal renders the Markdown with rich; ``--json`` keeps it plain.

>>> passages = [
...     {"id": "b.md#1", "text": "Backends\\n\\nEvery backend runs the same graph.", "metadata": {"path": "b.md", "heading": "Backends"}},
...     {"id": "b.md#2", "text": "Backends > Ray\\n\\nRun it:\\n\\n```python\\nenv.submit(backend='ray')\\n```",
...      "metadata": {"path": "b.md", "heading": "Backends > Ray"}},
... ]
>>> [p["id"] for p in pick_passages("How do I run on Ray?", passages, 1)]
['b.md#2']
>>> print(format_passage(passages[1]))
#### b.md — Backends > Ray `[b.md#2]`
<BLANKLINE>
Run it:
<BLANKLINE>
```python
env.submit(backend='ray')
```
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["answer_text", "format_passage", "has_code", "is_how_question", "passage_body", "pick_passages"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_HOW = re.compile(r"^\s*(how\b|show\b|give me\b)|\bhow (do|can|should|would|to)\b|\bexample\b|\bcommand\b|\bsyntax\b", re.IGNORECASE)
CODE_PREFERENCE_DEPTH = 3  # a how-question looks this far down the ranking for a passage with code


def is_how_question(question: str) -> bool:
    """``True`` for questions whose answer is usually code: "How do I ...", "show me an example ...".

    >>> is_how_question("How do I enable checkpointing?"), is_how_question("What is a tumbling window?")
    (True, False)
    """
    return bool(_HOW.search(question))


def has_code(text: str) -> bool:
    """Whether ``text`` holds a fenced code block."""
    return _FENCE.search(text) is not None


def passage_body(passage: dict[str, Any]) -> str:
    """The passage's text without its heading-path line, with any unclosed code fence closed."""
    text = str(passage.get("text") or "").strip("\n")
    heading = (passage.get("metadata") or {}).get("heading") or passage.get("heading") or ""
    if heading and text.startswith(heading):
        text = text[len(heading) :].lstrip("\n")
    fences = _FENCE.findall(text)
    if len(fences) % 2:
        text = f"{text}\n{fences[-1]}"
    return text


def format_passage(passage: dict[str, Any]) -> str:
    """One passage as Markdown: a header (file — heading path, id), then its body whole."""
    meta = passage.get("metadata") or {}
    path = meta.get("path") or passage.get("path") or meta.get("doc_id") or ""
    heading = meta.get("heading") or passage.get("heading") or ""
    title = " — ".join(part for part in (path, heading) if part) or str(passage.get("id", ""))
    return f"#### {title} `[{passage.get('id', '')}]`\n\n{passage_body(passage)}"


def pick_passages(question: str, passages: list[dict[str, Any]], count: int = 2) -> list[dict[str, Any]]:
    """The ``count`` passages to show, best first; a how-question puts the best passage with
    code (among the first :data:`CODE_PREFERENCE_DEPTH`) first."""
    ranked = [p for p in passages if str(p.get("text") or "").strip()]
    if is_how_question(question):
        with_code = [p for p in ranked[:CODE_PREFERENCE_DEPTH] if has_code(str(p.get("text")))]
        if with_code:
            ranked = [with_code[0], *(p for p in ranked if p is not with_code[0])]
    return ranked[: max(0, count)]


def answer_text(question: str, passages: list[dict[str, Any]], note: str, count: int = 2) -> tuple[str, list[str]]:
    """The extractive answer (Markdown) and the ids of the passages it shows."""
    chosen = pick_passages(question, passages, count)
    if not chosen:
        return f"{note}\n\nNo relevant passage was found.", []
    return "\n\n".join([note, *(format_passage(p) for p in chosen)]), [str(p.get("id", "")) for p in chosen]
