"""Document sources that work offline.

File, JSONL, CSV and HTTP sources are in :mod:`sage_recipes.io`.

>>> docs = pydoc_topics()
>>> doc = next(d for d in docs if d["id"] == "with")
>>> doc["metadata"]["topic"], "with" in doc["text"]
('with', True)
"""

from __future__ import annotations

from typing import Any

__all__ = ["pydoc_topics"]


def pydoc_topics(topics: list[str] | None = None) -> list[dict[str, Any]]:
    """Python's own documentation topics (``pydoc_data.topics``) as documents.

    Each is ``{"id": topic, "text": ..., "metadata": {"topic": topic, "source": "pydoc"}}``;
    ``topics`` picks a subset by name.
    """
    from pydoc_data.topics import topics as all_topics

    names = sorted(all_topics) if topics is None else list(topics)
    unknown = [n for n in names if n not in all_topics]
    if unknown:
        msg = f"unknown pydoc topics {unknown[:5]}; known ones include {sorted(all_topics)[:8]}"
        raise KeyError(msg)
    return [{"id": n, "text": all_topics[n], "metadata": {"topic": n, "source": "pydoc"}} for n in names]
