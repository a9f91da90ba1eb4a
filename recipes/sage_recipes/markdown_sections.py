"""Markdown split by section: each chunk is one section (or a part of a long one) under its heading path.

:func:`split_sections` reads ATX headings (``#`` to ``######``) outside fenced code blocks
and returns the sections with their heading path (``["Backends", "Existing clusters"]``).
:class:`MarkdownChunker` turns a Markdown document into chunks whose text starts with that
path (``Backends > Existing clusters``), so that a passage carries its context into the
embedding, the keyword index and the answer. A section longer than ``chunk_size``
characters is cut between blocks (paragraphs, lists, tables, code blocks), never inside a
fenced code block, and a paragraph that introduces a code block stays with it. Documents
that are not Markdown (``metadata["type"] != "md"``) go through
:class:`~sage_recipes.chunking.TextChunker`.

Chunks are ``{"id": f"{doc_id}#{i}", "text", "metadata"}`` as with ``TextChunker``; the
metadata adds ``heading`` (the path joined with `` > ``, empty before the first heading).

>>> doc = {"id": "guide.md", "text": "# Guide\\n\\n## Ray\\n\\nRun it:\\n\\n```python\\nenv.submit(backend='ray')\\n```\\n",
...        "metadata": {"type": "md"}}
>>> [chunk] = MarkdownChunker().execute(doc)
>>> print(chunk["text"])
Guide > Ray
<BLANKLINE>
Run it:
<BLANKLINE>
```python
env.submit(backend='ray')
```
>>> chunk["metadata"]["heading"], chunk["id"]
('Guide > Ray', 'guide.md#0')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sage_core.api.functions import FlatMapFunction
from sage_recipes.chunking import TextChunker

__all__ = ["MarkdownChunker", "Section", "split_blocks", "split_sections"]

HEADING_SEP = " > "
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}([-*+]|\d+[.)])[ \t]")


@dataclass
class Section:
    """A heading path and the lines under that heading (up to the next heading)."""

    path: list[str]
    lines: list[str] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return HEADING_SEP.join(self.path)


def _fence_closes(line: str, opener: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(opener[0] * len(opener)) and not stripped.lstrip(opener[0]).strip()


def split_sections(text: str) -> list[Section]:
    """The sections of Markdown ``text`` in order; ``#`` lines inside fenced code are not headings.

    >>> [(s.heading, s.lines) for s in split_sections("intro\\n# A\\none\\n## B\\n```\\n# not a heading\\n```")]
    [('', ['intro']), ('A', ['one']), ('A > B', ['```', '# not a heading', '```'])]
    """
    sections = [Section([])]
    stack: list[tuple[int, str]] = []
    fence: str | None = None
    for line in text.splitlines():
        if fence is not None:
            if _fence_closes(line, fence):
                fence = None
            sections[-1].lines.append(line)
            continue
        opened = _FENCE.match(line)
        if opened:
            fence = opened.group(1)
            sections[-1].lines.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), heading.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            sections.append(Section([t for _, t in stack]))
            continue
        sections[-1].lines.append(line)
    return [s for s in sections if any(line.strip() for line in s.lines)]


def split_blocks(lines: list[str]) -> list[tuple[str, bool]]:
    """``lines`` as blocks separated by blank lines: ``(text, is_code)``; a fenced code block is
    one block, blank lines included.

    >>> split_blocks(["Run:", "```", "a", "", "b", "```", "", "Done."])
    [('Run:', False), ('```\\na\\n\\nb\\n```', True), ('Done.', False)]
    """
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []
    fence: str | None = None

    def close(is_code: bool) -> None:
        if current:
            blocks.append(("\n".join(current).strip("\n"), is_code))
            current.clear()

    for line in lines:
        if fence is not None:
            current.append(line)
            if _fence_closes(line, fence):
                fence = None
                close(True)
            continue
        opened = _FENCE.match(line)
        if opened:
            close(False)
            fence = opened.group(1)
            current.append(line)
        elif not line.strip():
            close(False)
        else:
            current.append(line)
    close(fence is not None)  # an unclosed fence runs to the end of the section
    return [b for b in blocks if b[0].strip()]


def _units(blocks: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Blocks that stay together: a paragraph followed by a code block (its introduction)
    is one unit with it. ``(text, holds_code)``."""
    units: list[tuple[str, bool]] = []
    for text, is_code in blocks:
        if is_code and units and not units[-1][1]:
            units[-1] = (f"{units[-1][0]}\n\n{text}", True)
        else:
            units.append((text, is_code))
    return units


class MarkdownChunker(FlatMapFunction):
    """Chunks Markdown documents by section (see the module docstring); others with ``TextChunker``.

    ``chunk_size`` (characters) is the size a long section is cut to, between blocks; a
    single block larger than that stays whole if it holds code and is split like prose
    otherwise (with ``chunk_overlap``). ``count_key`` as for ``TextChunker``.
    """

    def __init__(self, chunk_size: int = 800, chunk_overlap: int = 100, *, count_key: str | None = None):
        self.chunk_size = chunk_size
        self.count_key = count_key
        self.fallback = TextChunker(chunk_size, chunk_overlap, count_key=count_key)

    @staticmethod
    def is_markdown(doc: dict[str, Any]) -> bool:
        meta = doc.get("metadata") or {}
        kind = meta.get("type") or str(doc.get("id", "")).rsplit(".", 1)[-1]
        return str(kind).lower() in ("md", "markdown")

    def _split_prose(self, text: str) -> list[str]:
        """A long paragraph, list or table: at list items first, then as the text splitter cuts."""
        items: list[str] = []
        for line in text.splitlines():
            if _LIST_ITEM.match(line) or not items:
                items.append(line)
            else:
                items[-1] += "\n" + line
        return [part for item in items for part in ([item] if len(item) <= self.chunk_size else self.fallback.splitter.split_text(item))]

    def _pieces(self, section: Section) -> list[str]:
        pieces: list[str] = []
        current = ""
        for text, has_code in _units(split_blocks(section.lines)):
            parts = self._split_prose(text) if len(text) > self.chunk_size and not has_code else [text]
            for part in parts:
                if current and len(current) + 2 + len(part) > self.chunk_size:
                    pieces.append(current)
                    current = ""
                current = f"{current}\n\n{part}" if current else part
        if current:
            pieces.append(current)
        return pieces

    def execute(self, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, dict) or not isinstance(data.get("text"), str) or "id" not in data:
            msg = f"MarkdownChunker: a document must be a dict with 'id' and str 'text', got {data!r:.120}"
            raise TypeError(msg)
        if not self.is_markdown(data):
            return self.fallback.execute(data)
        doc_id = str(data["id"])
        base = dict(data.get("metadata") or {})
        chunks = []
        for section in split_sections(data["text"]):
            for piece in self._pieces(section):
                text = f"{section.heading}\n\n{piece}" if section.path else piece
                chunks.append((text, section.heading))
        if self.count_key:
            base[self.count_key] = len(chunks)
        return [
            {"id": f"{doc_id}#{i}", "text": text, "metadata": {**base, "doc_id": doc_id, "chunk": i, "heading": heading}}
            for i, (text, heading) in enumerate(chunks)
        ]
